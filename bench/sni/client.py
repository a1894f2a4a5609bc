#!/usr/bin/env python3
"""Opens connections one after another, each sending a TLS ClientHello for a server name and
reading back what the echo backend returns, then closing: the per-connection work of an SNI
router, without a handshake to finish (the balancer only reads the hello).

    client.py HOST PORT SERVER_NAME COUNT
Prints the connections done and the seconds they took."""
import socket
import ssl
import sys
import time


def client_hello(server_name):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    engine = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        engine.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def main():
    host, port, name, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    hello = client_hello(name)
    started = time.monotonic()
    for _ in range(count):
        with socket.create_connection((host, port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(hello)
            got = 0
            while got < len(hello):
                chunk = s.recv(65536)
                if not chunk:
                    raise SystemExit(f"closed after {got} of {len(hello)} bytes")
                got += len(chunk)
    print(count, round(time.monotonic() - started, 3))


main()
