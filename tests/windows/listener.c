/* A small Windows TCP listener for the Wine smoke suite (built with mingw):
 * `listener PORT` listens on 127.0.0.1:PORT until it is ended, and prints
 * "ready PID" (its Windows pid) once listening, so the test waits on output,
 * not on time. */
#include <winsock2.h>
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    WSADATA wsa;
    struct sockaddr_in addr;
    SOCKET s;
    if (argc != 2) {
        fprintf(stderr, "usage: listener PORT\n");
        return 2;
    }
    WSAStartup(MAKEWORD(2, 2), &wsa);
    s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((u_short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s == INVALID_SOCKET || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 16) != 0) {
        fprintf(stderr, "listen on %s failed: %d\n", argv[1], WSAGetLastError());
        return 2;
    }
    printf("ready %lu\n", GetCurrentProcessId());
    fflush(stdout);
    for (;;) {
        SOCKET c = accept(s, NULL, NULL);
        if (c != INVALID_SOCKET)
            closesocket(c);
    }
}
