#!/usr/bin/env python3
"""Independent WebSocket client for the Sockify integration tests (Python `websockets`, asyncio API).

Usage: ws_client.py MODE --url ws://127.0.0.1:PORT/PATH [options]. Prints exactly one JSON object on stdout,
including {"error": "..."} on failure, and exits 0 so the caller always gets a result to assert on.

Modes:
  echo  send --total pattern bytes in frames of random (seeded) sizes 0...--max-frame to an echo target, read the
        echo concurrently and verify it byte for byte.
  recv  read everything a "source" target sends until the close, verify the pattern; --pause S reads nothing for S
        seconds first, --slow-chunk/--slow-delay then throttle the drain.
  send  send --total pattern bytes in --frame byte frames to a "sink" target, then close with 1000.
  many  open --count connections, wait until all are open, then each echoes --bytes distinct pattern bytes.
  rfb   RFB 3.8 handshake with security type None up to ServerInit (a VNC server behind the proxy).
"""
import argparse
import asyncio
import json
import random
import ssl
import struct
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import pattern


def options(args, **extra):
    # No compression (websockify never negotiates it), no keep-alive pings, no proxy from the environment, and no
    # message size limit: the frames under test go up to 200 KiB.
    opts = dict(compression=None, ping_interval=None, proxy=None, max_size=None, open_timeout=20, close_timeout=5)
    if args.protocol:
        opts["subprotocols"] = args.protocol
    if args.cafile:
        opts["ssl"] = ssl.create_default_context(cafile=args.cafile)
    opts.update(extra)
    return opts


async def mode_echo(args, out):
    rng = random.Random(args.seed)
    sizes, total = [], 0
    while total < args.total:
        n = min(rng.randint(0, args.max_frame), args.total - total)
        sizes.append(n)
        total += n
    out.update(sent=0, received=0, frames_sent=0, frames_received=0, mismatch=None)
    async with connect(args.url, **options(args)) as ws:
        out["subprotocol"] = ws.subprotocol

        async def sender():
            for n in sizes:
                await ws.send(pattern.chunk(out["sent"], n))
                out["sent"] += n
                out["frames_sent"] += 1

        async def receiver():
            while out["received"] < total:
                m = await ws.recv()
                if isinstance(m, str):
                    raise RuntimeError("text message from the proxy")
                if out["mismatch"] is None:
                    out["mismatch"] = pattern.first_mismatch(out["received"], m)
                out["received"] += len(m)
                out["frames_received"] += 1

        await asyncio.gather(sender(), receiver())
        await ws.close(1000)
        out["close_code"] = ws.close_code


async def mode_recv(args, out):
    out.update(received=0, frames=0, max_frame=0, mismatch=None)
    extra = {"max_queue": args.max_queue}
    async with connect(args.url, **options(args, **extra)) as ws:
        if args.pause > 0:
            await asyncio.sleep(args.pause)  # the point of the test: the client does not read
        since_delay = 0
        try:
            while True:
                m = await ws.recv()
                if isinstance(m, str):
                    raise RuntimeError("text message from the proxy")
                if out["mismatch"] is None:
                    out["mismatch"] = pattern.first_mismatch(out["received"], m)
                out["received"] += len(m)
                out["frames"] += 1
                out["max_frame"] = max(out["max_frame"], len(m))
                since_delay += len(m)
                if args.slow_chunk and since_delay >= args.slow_chunk:
                    since_delay = 0
                    await asyncio.sleep(args.slow_delay)
        except ConnectionClosed:
            pass
        out["close_code"] = ws.close_code
        out["close_reason"] = ws.close_reason


async def mode_send(args, out):
    out.update(sent=0, frames=0)
    async with connect(args.url, **options(args)) as ws:
        while out["sent"] < args.total:
            n = min(args.frame, args.total - out["sent"])
            await ws.send(pattern.chunk(out["sent"], n))
            out["sent"] += n
            out["frames"] += 1
        await ws.close(1000, "done")
        out["close_code"] = ws.close_code


async def mode_many(args, out):
    out.update(opened=0, ok=0, failed_to_open=0, failures=[])
    all_open = asyncio.Event()
    handshakes = asyncio.Semaphore(args.handshake_concurrency)

    def opening_settled():
        # Every connection is either open or failed to open: the echo phase starts (a failure is reported anyway).
        if out["opened"] + out["failed_to_open"] == args.count:
            all_open.set()

    async def one(index):
        offset = index * 7919  # distinct data per connection, so cross-wired connections are caught
        try:
            try:
                async with handshakes:
                    ws = await connect(args.url, **options(args))
            except Exception:
                out["failed_to_open"] += 1
                opening_settled()
                raise
            async with ws:
                out["opened"] += 1
                opening_settled()
                await all_open.wait()
                half = args.bytes // 2
                await ws.send(pattern.chunk(offset, half))
                await ws.send(pattern.chunk(offset + half, args.bytes - half))
                got = b""
                while len(got) < args.bytes:
                    got += await ws.recv()
                if got != pattern.chunk(offset, args.bytes):
                    raise RuntimeError("echo mismatch")
                await ws.close(1000)
                out["ok"] += 1
        except Exception as e:  # noqa: BLE001 - every failure is counted, the first few are reported in detail
            if len(out["failures"]) < 5:
                out["failures"].append(f"#{index}: {type(e).__name__}: {e}")

    await asyncio.gather(*(one(i) for i in range(args.count)))


class Reader:
    """Exact-size reads over WebSocket messages (RFB is a byte stream; message boundaries mean nothing)."""

    def __init__(self, ws):
        self.ws, self.buf = ws, b""

    async def read(self, n):
        while len(self.buf) < n:
            m = await self.ws.recv()
            self.buf += m if isinstance(m, bytes) else m.encode()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


async def mode_rfb(args, out):
    async with connect(args.url, **options(args)) as ws:
        r = Reader(ws)
        out["version"] = (await r.read(12)).decode("latin-1")
        await ws.send(b"RFB 003.008\n")
        (count,) = struct.unpack("!B", await r.read(1))
        if count == 0:
            (n,) = struct.unpack("!I", await r.read(4))
            raise RuntimeError("server refused: " + (await r.read(n)).decode("latin-1"))
        out["security_types"] = list(await r.read(count))
        await ws.send(b"\x01")  # security type None
        (out["security_result"],) = struct.unpack("!I", await r.read(4))
        await ws.send(b"\x01")  # ClientInit: shared
        width, height = struct.unpack("!HH", await r.read(4))
        pixel_format = await r.read(16)
        (name_length,) = struct.unpack("!I", await r.read(4))
        out.update(width=width, height=height, bits_per_pixel=pixel_format[0], depth=pixel_format[1],
                   name=(await r.read(name_length)).decode("latin-1"))
        await ws.close(1000)


MODES = {"echo": mode_echo, "recv": mode_recv, "send": mode_send, "many": mode_many, "rfb": mode_rfb}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=sorted(MODES))
    p.add_argument("--url", required=True)
    p.add_argument("--cafile", help="wss://: verify the proxy's certificate against this CA file")
    p.add_argument("--protocol", action="append", help="offer this subprotocol (repeatable)")
    p.add_argument("--timeout", type=float, default=50, help="whole-run bound in seconds")
    p.add_argument("--total", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-frame", type=int, default=200 * 1024)
    p.add_argument("--frame", type=int, default=64 * 1024)
    p.add_argument("--pause", type=float, default=0)
    p.add_argument("--max-queue", type=int, default=16)
    p.add_argument("--slow-chunk", type=int, default=0)
    p.add_argument("--slow-delay", type=float, default=0)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--bytes", type=int, default=4096)
    p.add_argument("--handshake-concurrency", type=int, default=50)
    args = p.parse_args()
    out = {"mode": args.mode, "error": None}
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(MODES[args.mode](args, out), args.timeout))
    except asyncio.TimeoutError:
        out["error"] = f"timeout after {args.timeout} s"
    except Exception as e:  # noqa: BLE001 - reported to the Swift test, which fails with this text
        out["error"] = f"{type(e).__name__}: {e}"
    out["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
