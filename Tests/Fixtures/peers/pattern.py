"""The deterministic byte pattern shared by the peers and the Swift targets (PatternStream.swift).

Byte i of a stream is the top byte of the 32-bit Knuth multiplicative hash of (i mod PERIOD). PERIOD is the
largest prime below 2**20, so a dropped or repeated chunk of any power-of-two size shifts the pattern and is
caught, and a verifier can compare whole slices against a precomputed table (a memcmp) instead of a byte loop.
"""
import numpy as np

PERIOD = 1048573
_k = np.arange(PERIOD, dtype=np.uint32)
_one = bytes(((_k * np.uint32(2654435761)) >> np.uint32(24)).astype(np.uint8))
TABLE = _one + _one  # any window of length <= PERIOD starting below PERIOD is contiguous


def chunk(offset: int, length: int) -> bytes:
    """The pattern bytes [offset, offset+length) of a stream."""
    parts = []
    while length > 0:
        start = offset % PERIOD
        n = min(length, PERIOD)
        parts.append(TABLE[start:start + n])
        offset += n
        length -= n
    return b"".join(parts)


def first_mismatch(offset: int, data) -> int | None:
    """The stream offset of the first byte of `data` (which starts at `offset`) that differs, or None."""
    mv = memoryview(data)
    pos = 0
    while pos < len(mv):
        start = (offset + pos) % PERIOD
        n = min(len(mv) - pos, PERIOD)
        if mv[pos:pos + n] != TABLE[start:start + n]:
            expected = TABLE[start:start + n]
            for i in range(n):
                if mv[pos + i] != expected[i]:
                    return offset + pos + i
        pos += n
    return None
