#!/usr/bin/env python3
"""Reads a websockify --record file (reference §5.5) strictly and prints JSON: the bytes of each direction (hex),
the number of entries, whether the 'EOF' footer is there, and the first problem found (or null).

Each entry line is a Python/JavaScript single-quoted literal: '{<ms>{<data>', (to the client) or '}<ms>}<data>',
(from the client); <data> is latin-1 text escaped with unicode_escape and \\' for quotes."""
import ast
import json
import re
import sys

ENTRY = re.compile(r"^([{}])(\d+)\1(.*)$", re.S)


def main():
    path = sys.argv[1]
    out = {"toClient": "", "fromClient": "", "entries": 0, "eof": False, "error": None}
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        out["error"] = "not ASCII: %s" % e
        print(json.dumps(out))
        return
    lines = text.split("\n")
    if lines[0] != "var VNC_frame_data = [":
        out["error"] = "bad header %r" % lines[0]
    to_client, from_client = bytearray(), bytearray()
    last_ms = -1
    for line in lines[1:]:
        if line == "":
            continue
        if line == "'EOF'];":
            out["eof"] = True
            continue
        if out["eof"]:
            out["error"] = out["error"] or "entry after EOF: %r" % line[:40]
            continue
        if not (line.startswith("'") and line.endswith("',")):
            out["error"] = out["error"] or "bad entry %r" % line[:40]
            continue
        value = ast.literal_eval(line[:-1])
        m = ENTRY.match(value)
        if not m:
            out["error"] = out["error"] or "bad entry prefix %r" % value[:20]
            continue
        ms = int(m.group(2))
        if ms < last_ms:
            out["error"] = out["error"] or "time goes backwards"
        last_ms = ms
        data = m.group(3).encode("latin-1")
        (to_client if m.group(1) == "{" else from_client).extend(data)
        out["entries"] += 1
    out["toClient"] = to_client.hex()
    out["fromClient"] = from_client.hex()
    print(json.dumps(out))


main()
