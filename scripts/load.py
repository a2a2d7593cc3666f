"""Loopback socket load for the benchmark: N ESTABLISHED pairs and M TIME_WAIT
sockets. Prints the two ports, then holds everything until stdin closes."""
import resource
import socket
import sys

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
pairs, time_wait = int(sys.argv[1]), int(sys.argv[2])

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(4096)
held = []
for _ in range(pairs):
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    held += [client, server]

closer = socket.socket()
closer.bind(("127.0.0.1", 0))
closer.listen(4096)
for _ in range(time_wait):
    client = socket.create_connection(closer.getsockname())
    server, _ = closer.accept()
    server.close()  # the server closes first: its side stays in TIME_WAIT
    client.close()

print(listener.getsockname()[1], closer.getsockname()[1], flush=True)
sys.stdin.read()
