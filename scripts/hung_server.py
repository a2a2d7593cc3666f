"""Listeners that accept connections and never answer (a hung server), one
per port given. Prints "ready" once all listen. Used by the S20 test and the
benchmark."""
import socket
import sys
import threading
import time

held = []


def serve(listener):
    while True:
        conn, _ = listener.accept()
        held.append(conn)


for port in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(port)))
    s.listen(16)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(3600)
