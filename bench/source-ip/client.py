#!/usr/bin/env python3
"""Opens connections one after another, each writing 16 bytes, reading them back from the echo
pod and closing: one request per connection, so that the balancer's cost per connection shows.

    client.py HOST PORT COUNT
Prints the connections done and the seconds they took."""
import socket
import sys
import time


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    payload = b"0123456789abcdef"
    started = time.monotonic()
    for done in range(count):
        try:
            s = socket.create_connection((host, port))
        except OSError as e:
            raise SystemExit(f"connection {done + 1} of {count} to {host}:{port}: {e}")
        with s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(payload)
            got = 0
            while got < len(payload):
                chunk = s.recv(65536)
                if not chunk:
                    raise SystemExit(f"closed after {got} of {len(payload)} bytes")
                got += len(chunk)
    print(count, round(time.monotonic() - started, 3))


main()
