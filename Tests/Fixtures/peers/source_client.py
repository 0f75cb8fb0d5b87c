#!/usr/bin/env python3
"""A WebSocket upgrade from a chosen loopback source address (127.0.0.x), so that a proxy in front of Sockify
(HAProxy, nginx) has a client address to pass on that differs from its own.

Usage: source_client.py --port P [--source 127.0.0.2] [--path /websockify] [--tls-cafile CA]
Prints one JSON object: {"status": int|null, "error": str|null}. Exit status is always 0."""
import argparse
import base64
import json
import os
import socket
import ssl


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--source", default="127.0.0.2")
    p.add_argument("--path", default="/websockify")
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--tls-cafile", help="speak TLS (wss://), verifying the server for 127.0.0.1 against this CA")
    p.add_argument("-H", "--header", action="append", default=[], help="extra 'Name: value' header (repeatable)")
    args = p.parse_args()
    out = {"status": None, "error": None}
    try:
        s = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout, source_address=(args.source, 0))
        if args.tls_cafile:
            s = ssl.create_default_context(cafile=args.tls_cafile).wrap_socket(s, server_hostname="127.0.0.1")
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
                   % (args.path, args.port, key, "".join(h + "\r\n" for h in args.header))).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) >= 2 and parts[1].isdigit():
            out["status"] = int(parts[1])
        # A clean close (code 1000) so the proxy logs a normal session end.
        s.sendall(bytes([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xE8 ^ 2]))
        s.close()
    except Exception as e:  # the test asserts on the error text
        out["error"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))


main()
