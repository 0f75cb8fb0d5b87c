#!/usr/bin/env python3
"""Raw-socket HTTP/WebSocket client for the Sockify integration tests: malformed handshakes and hand-built frames.

It sends one HTTP request (optionally with WebSocket frames in the same write), reads the response head and then
either the HTTP body or WebSocket frames, and prints exactly one JSON object on stdout:
  {"raw_bytes": total bytes received, "status": int|null, "reason": str, "headers": [[name, value], ...],
   "accept_ok": bool (Sec-WebSocket-Accept matches our key), "body_len": int, "body": str (first 4 KiB),
   "frames": [{"op", "fin", "rsv", "masked", "len", "hex" (first 256 bytes), "code", "reason"}],
   "eof": bool (the server closed the TCP connection), "error": str|null}

Frames to send are JSON lists of objects: {"op": 2, "hex": "..", "text": "..", "code": 1000 (close payload
prefix), "len": N (N zero bytes), "mask": true, "fin": true, "rsv": 0}.
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3 sample nonce
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def encode_frame(spec):
    payload = b""
    if "code" in spec:
        payload += struct.pack("!H", spec["code"])
    payload += bytes.fromhex(spec.get("hex", "")) + spec.get("text", "").encode() + bytes(spec.get("len", 0))
    mask = spec.get("mask", True)
    b0 = (0x80 if spec.get("fin", True) else 0) | (spec.get("rsv", 0) << 4) | spec["op"]
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Conn:
    def __init__(self, sock, deadline):
        self.sock, self.buf, self.eof, self.total, self.deadline = sock, b"", False, 0, deadline

    def fill(self):
        """Reads more bytes; False on EOF, reset or deadline."""
        if self.eof:
            return False
        left = self.deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.total += len(data)
        self.buf += data
        return True

    def take(self, n):
        while len(self.buf) < n:
            if not self.fill():
                return None
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def until(self, marker):
        while marker not in self.buf:
            if not self.fill():
                return None
        i = self.buf.index(marker) + len(marker)
        data, self.buf = self.buf[:i], self.buf[i:]
        return data

    def frame(self):
        h = self.take(2)
        if h is None:
            return None
        n, masked = h[1] & 0x7F, bool(h[1] & 0x80)
        if n == 126:
            n = struct.unpack("!H", self.take(2) or b"\0\0")[0]
        elif n == 127:
            n = struct.unpack("!Q", self.take(8) or bytes(8))[0]
        key = self.take(4) if masked else None
        payload = self.take(n)
        if payload is None:
            return None
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        f = {"op": h[0] & 0x0F, "fin": bool(h[0] & 0x80), "rsv": (h[0] >> 4) & 7, "masked": masked,
             "len": n, "hex": payload[:256].hex()}
        if f["op"] == 8 and n >= 2:
            f["code"] = struct.unpack("!H", payload[:2])[0]
            f["reason"] = payload[2:].decode("utf-8", "replace")
        return f, payload


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--method", default="GET")
    p.add_argument("--path", default="/")
    p.add_argument("--ws", action="store_true", help="add the standard WebSocket upgrade headers")
    p.add_argument("-H", "--header", action="append", default=[], help="'Name: value' (repeatable)")
    p.add_argument("--drop", action="append", default=[], help="remove this default header (repeatable)")
    p.add_argument("--pipeline", default="[]", help="frames sent in the same write as the request")
    p.add_argument("--frames", default="[]", help="frames sent after the 101 arrives")
    p.add_argument("--stop-on", type=int, default=8, help="stop reading frames at this opcode (then close)")
    p.add_argument("--body-out", help="write the HTTP body to this file")
    p.add_argument("--timeout", type=float, default=10)
    args = p.parse_args()
    out = {"raw_bytes": 0, "status": None, "reason": "", "headers": [], "frames": [], "eof": False, "error": None}
    deadline = time.monotonic() + args.timeout
    try:
        run(args, out, deadline)
    except Exception as e:  # noqa: BLE001 - reported to the Swift test, which fails with this text
        out["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(out), flush=True)


def run(args, out, deadline):
    headers = [("Host", f"{args.host}:{args.port}")]
    if args.ws:
        headers += [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", KEY),
                    ("Sec-WebSocket-Version", "13")]
    dropped = {d.lower() for d in args.drop}
    extra = [tuple(h.split(": ", 1)) for h in args.header]
    overridden = {name.lower() for name, _ in extra}
    headers = [h for h in headers if h[0].lower() not in dropped | overridden] + extra
    request = f"{args.method} {args.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    data = request.encode() + b"".join(encode_frame(f) for f in json.loads(args.pipeline))

    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(data)
    c = Conn(sock, deadline)
    try:
        head = c.until(b"\r\n\r\n")
        if head is None:
            out["raw_bytes"], out["eof"] = c.total, c.eof
            return
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        out["status"] = int(status_line[1])
        out["reason"] = status_line[2] if len(status_line) > 2 else ""
        out["headers"] = [list(map(str.strip, line.split(":", 1))) for line in lines[1:] if ":" in line]
        expected = base64.b64encode(hashlib.sha1((KEY + GUID).encode()).digest()).decode()
        out["accept_ok"] = any(k.lower() == "sec-websocket-accept" and v == expected for k, v in out["headers"])
        if out["status"] == 101:
            websocket_phase(args, out, c, sock)
        else:
            http_body(args, out, c)
        out["raw_bytes"], out["eof"] = c.total, c.eof
    finally:
        sock.close()


def http_body(args, out, c):
    length = next((int(v) for k, v in out["headers"] if k.lower() == "content-length"), None)
    if args.method == "HEAD" or out["status"] in (204, 304):
        body = b""
    elif length is not None:
        body = c.take(length) or b""
    else:
        while c.fill():
            pass
        body, c.buf = c.buf, b""
    out["body_len"] = len(body)
    out["body"] = body[:4096].decode("utf-8", "replace")
    if args.body_out:
        with open(args.body_out, "wb") as f:
            f.write(body)


def websocket_phase(args, out, c, sock):
    sent_close = False
    for spec in json.loads(args.frames):
        sock.sendall(encode_frame(spec))
        sent_close = sent_close or spec["op"] == 8
    while True:
        got = c.frame()
        if got is None:
            return
        f, payload = got
        out["frames"].append(f)
        if f["op"] == 8:
            if not sent_close:  # RFC 6455 §5.5.1: answer a Close with a Close, echoing the code
                sock.sendall(encode_frame({"op": 8, "hex": payload[:2].hex()}))
            while c.fill():  # the server closes the TCP connection next (§7.1.1)
                pass
            return
        if f["op"] == args.stop_on:
            sock.sendall(encode_frame({"op": 8, "code": 1000}))
            sent_close = True


if __name__ == "__main__":
    sys.exit(main())
