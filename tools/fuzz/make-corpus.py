#!/usr/bin/env python3
"""Writes the seed corpora under tools/fuzz/corpus/<harness>/. Deterministic: rerunning it rewrites the same files.

Seeds are real traffic where we have it: the upgrade requests and first client frames of headless Chromium 156
running Debian's noVNC 1.3.0 (`vnc_lite.html`, no subprotocol) and a page opening
`new WebSocket(url, ['binary', 'base64'])`, both captured over loopback; RFC 6455 §1.3 / §5.7 vectors; and the
token-file lines of websockify's TokenFile format (the same forms as Tests/Fixtures/tokens).

Usage: python3 tools/fuzz/make-corpus.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# Captured from Chromium 156 (HeadlessChrome) + noVNC 1.3.0 vnc_lite.html?path=websockify%3Ftoken%3Dvm1.
NOVNC_UPGRADE = bytes.fromhex(
    "474554202f776562736f636b6966793f746f6b656e3d766d3120485454502f312e310d0a486f73743a203132372e302e302e313a3433"
    "3430330d0a436f6e6e656374696f6e3a20557067726164650d0a507261676d613a206e6f2d63616368650d0a43616368652d436f6e74"
    "726f6c3a206e6f2d63616368650d0a557365722d4167656e743a204d6f7a696c6c612f352e3020285831313b204c696e757820783836"
    "5f363429204170706c655765624b69742f3533372e333620284b48544d4c2c206c696b65204765636b6f2920486561646c6573734368"
    "726f6d652f3135362e302e302e30205361666172692f3533372e33360d0a557067726164653a20776562736f636b65740d0a4f726967"
    "696e3a20687474703a2f2f3132372e302e302e313a34333430330d0a5365632d576562536f636b65742d56657273696f6e3a2031330d"
    "0a4163636570742d456e636f64696e673a20677a69702c206465666c6174652c2062722c207a7374640d0a4163636570742d4c616e67"
    "756167653a20656e2d55532c656e3b713d302e390d0a5365632d576562536f636b65742d4b65793a20354a38773655376d795a6e714a"
    "496345563676446c673d3d0d0a5365632d576562536f636b65742d457874656e73696f6e733a207065726d6573736167652d6465666c"
    "6174653b20636c69656e745f6d61785f77696e646f775f626974730d0a0d0a"
)
# Its first client frames: "RFB 003.008\n", security type 1, ClientInit (shared), then Close 1000 echoed.
NOVNC_FRAMES = bytes.fromhex(
    "828ccaff39fa98b97bdafacf0ad4facf01f08281fcb36e69fd8281f060c11df1888282a6181a814e"
)
# Captured from Chromium 156: new WebSocket('ws://…/websockify?token=vm%202', ['binary', 'base64']).
CHROMIUM_PROTOCOL_UPGRADE = bytes.fromhex(
    "474554202f776562736f636b6966793f746f6b656e3d766d2532303220485454502f312e310d0a486f73743a203132372e302e302e31"
    "3a33363933370d0a436f6e6e656374696f6e3a20557067726164650d0a507261676d613a206e6f2d63616368650d0a43616368652d43"
    "6f6e74726f6c3a206e6f2d63616368650d0a557365722d4167656e743a204d6f7a696c6c612f352e3020285831313b204c696e757820"
    "7838365f363429204170706c655765624b69742f3533372e333620284b48544d4c2c206c696b65204765636b6f2920486561646c6573"
    "734368726f6d652f3135362e302e302e30205361666172692f3533372e33360d0a557067726164653a20776562736f636b65740d0a4f"
    "726967696e3a20687474703a2f2f3132372e302e302e313a33363933370d0a5365632d576562536f636b65742d56657273696f6e3a20"
    "31330d0a4163636570742d456e636f64696e673a20677a69702c206465666c6174652c2062722c207a7374640d0a4163636570742d4c"
    "616e67756167653a20656e2d55532c656e3b713d302e390d0a5365632d576562536f636b65742d4b65793a204763684a586562323364"
    "53484f4d75515049754730513d3d0d0a5365632d576562536f636b65742d457874656e73696f6e733a207065726d6573736167652d64"
    "65666c6174653b20636c69656e745f6d61785f77696e646f775f626974730d0a5365632d576562536f636b65742d50726f746f636f6c"
    "3a2062696e6172792c206261736536340d0a0d0a"
)
# Its frames: the three echoed binary messages, then Close 1000 "bye".
CHROMIUM_PROTOCOL_FRAMES = bytes.fromhex(
    "828c37d6aeac6590ec8c07e69d8207e696a6828202946f5703958284790454f2790454f2888530b60955335e6b2c55"
)

RFC_KEY = bytes.fromhex("37fa213d")  # §5.7's masking key


def crlf(*lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def masked(opcode, payload, fin=True, key=RFC_KEY):
    """A client frame (RFC 6455 §5.2), masked with `key` (§5.3)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def http_seeds():
    sample_key = "dGhlIHNhbXBsZSBub25jZQ=="
    return {
        "novnc-chromium156-upgrade": NOVNC_UPGRADE,
        "novnc-chromium156-upgrade-then-frames": NOVNC_UPGRADE + NOVNC_FRAMES,
        "chromium156-binary-base64-upgrade": CHROMIUM_PROTOCOL_UPGRADE,
        # RFC 6455 §1.3 sample handshake.
        "rfc6455-1.3-sample": crlf(
            "GET /chat HTTP/1.1", "Host: server.example.com", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: " + sample_key, "Origin: http://example.com",
            "Sec-WebSocket-Protocol: chat, superchat", "Sec-WebSocket-Version: 13"),
        # websockify's own Python client (websockify/websocket.py) shape.
        "websockify-client-upgrade": crlf(
            "GET /websockify?token=vm1 HTTP/1.1", "Host: localhost:6080", "Upgrade: websocket",
            "Connection: upgrade", "Sec-WebSocket-Key: " + sample_key, "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: binary"),
        "hybi07-version": crlf(
            "GET / HTTP/1.1", "Host: h", "Upgrade: WebSocket", "Sec-WebSocket-Key: " + sample_key,
            "Sec-WebSocket-Version: 7"),
        "static-get": crlf("GET /vnc.html HTTP/1.1", "Host: 127.0.0.1:6080", "Accept: */*"),
        "head-request": crlf("HEAD / HTTP/1.0", "Host: x"),
        "post-request": crlf("POST /websockify HTTP/1.1", "Host: x", "Content-Length: 0"),
        "lf-only-leading-blank-lines": b"\r\n\nGET /?token=a%20b HTTP/1.1\nHost: x\nUpgrade: websocket\n\n",
        "obs-fold": crlf("GET / HTTP/1.1", "X-Long: first", " \tsecond", "Upgrade:", "\twebsocket"),
        "http2-version": crlf("GET / HTTP/2.0", "Host: x"),
        "bad-version": crlf("GET / HTTP/1.x", "Host: x"),
        "bad-header-line": crlf("GET / HTTP/1.1", "Host : x"),
        "latin1-bytes": b"GET /\xe9?token=\xff HTTP/1.1\r\nX-\xe4: \xfc\r\n\r\n",
        "connection-close": crlf("GET / HTTP/1.1", "Connection: keep-alive, close"),
    }


def frame_seeds():
    hello = b"Hello"
    seeds = {
        # RFC 6455 §5.7 vectors as a server receives them (the unmasked ones masked with §5.7's key).
        "rfc6455-5.7-masked-text-hello": masked(0x1, hello),
        "rfc6455-5.7-masked-binary-hello": masked(0x2, hello),
        "rfc6455-5.7-fragmented-hel-lo": masked(0x2, b"Hel", fin=False) + masked(0x0, b"lo"),
        "rfc6455-5.7-masked-ping-hello": masked(0x9, hello),
        "rfc6455-5.7-masked-pong-hello": bytes.fromhex("8a8537fa213d7f9f4d5158"),
        "rfc6455-5.7-binary-256": masked(0x2, bytes(range(256))),
        # §5.7's 64 KiB frame: header and the first bytes (the rest would exceed the input size).
        "rfc6455-5.7-binary-65536-partial": masked(0x2, bytes(65536))[:14 + 100],
        "ping-between-fragments": masked(0x2, b"ab", fin=False) + masked(0x9, b"p") + masked(0x0, b"cd"),
        "close-1000-reason": masked(0x8, struct.pack(">H", 1000) + "bye ✓".encode()),
        "close-empty": masked(0x8, b""),
        "close-then-more": masked(0x8, struct.pack(">H", 4000)) + masked(0x2, hello),
        "empty-binary-then-data": masked(0x2, b"") + masked(0x2, b"x" * 130),
        "non-minimal-length": bytes([0x82, 0xFF]) + struct.pack(">Q", 3) + RFC_KEY + b"abc",
        "novnc-chromium156-frames": NOVNC_FRAMES,
        "chromium156-frames": CHROMIUM_PROTOCOL_FRAMES,
    }
    # Byte 0 of a FuzzFrames input is the chunk plan (see FuzzFrames.swift): whole, byte by byte, random sizes
    # up to 25, up to 1600, and up to 169 with the 16-byte payload limit.
    plans = {"whole": 0x00, "bytewise": 0x01, "random25": 0x85, "random1600": 0xA8, "random169-limit16": 0xCD}
    return {f"{name}.{plan}": bytes([value]) + frame for name, frame in seeds.items() for plan, value in plans.items()}


def token_seeds():
    fixtures = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "tokens")
    seeds = {}
    for name in ["lines.txt", "crlf.txt", os.path.join("dir", "a.conf"), os.path.join("dir", "b.conf")]:
        with open(os.path.join(fixtures, name), "rb") as f:
            seeds["fixture-" + name.replace(os.sep, "-")] = f.read()
    seeds["websockify-docs-example"] = b"token1: host1:5900\ntoken2: host2:5901\n"
    seeds["unicode-whitespace"] = "t\u00e9: h\u00e9:1\u2028u:\u3000h:2\r\u0085# c\r\n".encode()
    seeds["request-targets"] = b"/websockify?token=vm1\n/?a=1&tok%65n=x+y%0A#frag\n\t/p?token=%C3%A9&token=2\n"
    seeds["invalid-utf8"] = b"ok: h:1\nbad: \xc3\x28:2\n"
    seeds["truncated-utf8"] = b"a: h:1\nb: \xe2\x82"
    return seeds


def masking_seeds():
    # Layout (FuzzMasking.swift): phase, offset, key (4), cut, payload.
    def seed(phase, offset, cut, payload):
        return bytes([phase, offset]) + RFC_KEY + bytes([cut]) + payload
    return {
        "rfc-hello": seed(0, 0, 2, b"Hello"),
        "phase3-offset5-130": seed(3, 5, 77, bytes(range(130))),
        "vector-63": seed(1, 1, 1, bytes(63)),
        "vector-64": seed(2, 0, 64, bytes(64)),
        "vector-65-offset63": seed(0, 63, 33, bytes(range(65))),
        "long-200": seed(1, 7, 200, bytes(range(200))),
    }


def main():
    for harness, seeds in [
        ("FuzzHTTPHead", http_seeds()),
        ("FuzzFrames", frame_seeds()),
        ("FuzzTokenFile", token_seeds()),
        ("FuzzMasking", masking_seeds()),
    ]:
        folder = os.path.join(CORPUS, harness)
        os.makedirs(folder, exist_ok=True)
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        for name, data in sorted(seeds.items()):
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
        print(f"{harness}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
