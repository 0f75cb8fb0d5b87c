#!/usr/bin/env python3
"""Steady, pattern-verified WebSocket sessions (Python `websockets`) that run while a fault is injected elsewhere.

Usage: fault_steady.py --url ws://127.0.0.1:PORT/?token=steady [options]

Opens --count sessions to an echo target. Each session streams its own window of the shared pattern (pattern.py)
in binary frames of seeded random sizes 1...--max-frame, with at most --window bytes sent and not yet echoed, and
verifies every echoed byte. Once every session has completed one round trip (an --idle session: once it is open)
the script prints the line `READY`
(the Swift test waits for it before it injects the fault). A session ends when --seconds have passed (it then
closes with 1000) or when the server closes it (a SIGTERM test expects 1001).

With --idle S a session first sends nothing at all for S seconds (the library still answers pings, which is what
a heartbeat test needs), then echoes --bytes and closes.

The last stdout line is one JSON object: {"error": str|null, "sessions": [{"sent", "received", "mismatch",
"close_code", "close_reason", "ended_by": "self"|"server", "error"}], "seconds"}. Exit status is always 0.
"""
import argparse
import asyncio
import json
import random
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

import pattern


def options():
    # No compression, no client-initiated pings (the proxy's heartbeat is under test), no size limit.
    return dict(compression=None, ping_interval=None, proxy=None, max_size=None, open_timeout=10, close_timeout=5)


class Session:
    def __init__(self, index, args, first_round):
        self.index, self.args, self.first_round = index, args, first_round
        self.base = index * 1_000_003  # distinct data per session: cross-wired sessions are caught
        self.out = {"sent": 0, "received": 0, "mismatch": None, "close_code": None, "close_reason": None,
                    "ended_by": None, "error": None}
        self.rng = random.Random(args.seed + index)
        self.acked = asyncio.Event()

    async def run(self, deadline):
        try:
            async with connect(self.args.url, **options()) as ws:
                try:
                    if self.args.idle > 0:
                        self.first_round.set_result(None)  # open is all an idle session waits for
                        await self.idle_then_echo(ws)
                    else:
                        await self.stream(ws, deadline)
                    self.out["ended_by"] = "self"
                    await ws.close(1000)
                except ConnectionClosed:
                    self.out["ended_by"] = "server"
                self.out["close_code"] = ws.close_code
                self.out["close_reason"] = ws.close_reason
        except Exception as e:  # noqa: BLE001 - reported per session to the Swift test
            self.out["error"] = f"{type(e).__name__}: {e}"
        finally:
            if not self.first_round.done():
                self.first_round.set_result(None)

    async def idle_then_echo(self, ws):
        await asyncio.sleep(self.args.idle)
        data = pattern.chunk(self.base, self.args.bytes)
        await ws.send(data)
        self.out["sent"] = len(data)
        got = b""
        while len(got) < len(data):
            got += await ws.recv()
        self.out["received"] = len(got)
        self.out["mismatch"] = pattern.first_mismatch(self.base, got)

    async def stream(self, ws, deadline):
        out = self.out
        window = asyncio.Condition()
        sending = {"done": False}

        async def sender():
            while time.monotonic() < deadline:
                async with window:
                    await window.wait_for(lambda: out["sent"] - out["received"] < self.args.window)
                if time.monotonic() >= deadline:
                    break
                n = self.rng.randint(1, self.args.max_frame)
                await ws.send(pattern.chunk(self.base + out["sent"], n))
                out["sent"] += n
            sending["done"] = True

        async def receiver():
            while not (sending["done"] and out["received"] >= out["sent"]):
                try:
                    m = await asyncio.wait_for(ws.recv(), 0.2)
                except asyncio.TimeoutError:
                    continue
                if isinstance(m, str):
                    raise RuntimeError("text message from the proxy")
                if out["mismatch"] is None:
                    out["mismatch"] = pattern.first_mismatch(self.base + out["received"], m)
                out["received"] += len(m)
                if not self.first_round.done():
                    self.first_round.set_result(None)
                async with window:
                    window.notify_all()

        tasks = [asyncio.ensure_future(sender()), asyncio.ensure_future(receiver())]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()


async def main_async(args, out):
    deadline = time.monotonic() + args.seconds
    loop = asyncio.get_running_loop()
    rounds = [loop.create_future() for _ in range(args.count)]
    sessions = [Session(i, args, rounds[i]) for i in range(args.count)]
    tasks = [asyncio.ensure_future(s.run(deadline)) for s in sessions]
    await asyncio.gather(*rounds)
    print("READY", flush=True)
    await asyncio.gather(*tasks)
    out["sessions"] = [s.out for s in sessions]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5, help="how long each session streams")
    p.add_argument("--max-frame", type=int, default=64 * 1024)
    p.add_argument("--window", type=int, default=1 << 20, help="most bytes sent and not yet echoed")
    p.add_argument("--idle", type=float, default=0)
    p.add_argument("--bytes", type=int, default=65536)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--timeout", type=float, default=45, help="whole-run bound in seconds")
    args = p.parse_args()
    out = {"error": None, "sessions": []}
    started = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(main_async(args, out), args.timeout))
    except asyncio.TimeoutError:
        out["error"] = f"timeout after {args.timeout} s"
    except Exception as e:  # noqa: BLE001 - reported to the Swift test, which fails with this text
        out["error"] = f"{type(e).__name__}: {e}"
    out["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
