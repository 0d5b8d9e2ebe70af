"""Fuzz the .inrk decoder: thousands of mutated files, each must decode or raise InrkitError.

    python benchmarks/codec_fuzz.py [N]

Mutations of the committed golden file: 60 % change 1-3 body bytes (same length) and recompute
the CRC, so they reach the header parser and the entropy decoder; the rest flip, set, cut and
insert bytes anywhere, most with the CRC recomputed. Prints how many
decoded, how many were refused (by reason) and the slowest case; any other exception is a bug
and is raised.
"""

from __future__ import annotations

import collections
import random
import struct
import sys
import time
import zlib
from pathlib import Path

from inrkit.codec import decompress
from inrkit.errors import InrkitError

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "codec" / "data" / "golden.inrk"


def mutate(rng: random.Random, golden: bytes) -> bytes:
    raw = bytearray(golden)
    if rng.random() < 0.6:  # same length, body bytes only, CRC recomputed: reaches the parser and decoders
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(7, len(raw) - 4)
            raw[i] = rng.randrange(256) if rng.random() < 0.5 else raw[i] ^ (1 << rng.randrange(8))
        raw[-4:] = struct.pack("<I", zlib.crc32(bytes(raw[:-4])))
        return bytes(raw)
    for _ in range(rng.randrange(1, 5)):
        if len(raw) < 10:
            break
        kind, i = rng.choice(("flip", "set", "cut", "insert")), rng.randrange(len(raw))
        if kind == "flip":
            raw[i] ^= 1 << rng.randrange(8)
        elif kind == "set":
            raw[i] = rng.randrange(256)
        elif kind == "cut":
            del raw[i:i + rng.randrange(1, 9)]
        else:
            raw[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
    if rng.random() < 0.8 and len(raw) > 8:
        raw[-4:] = struct.pack("<I", zlib.crc32(bytes(raw[:-4])))
    return bytes(raw)


def main(n: int) -> None:
    rng = random.Random(0)
    golden = GOLDEN.read_bytes()
    outcomes: collections.Counter = collections.Counter()
    slowest = (0.0, b"")
    t_all = time.perf_counter()
    for _ in range(n):
        blob = mutate(rng, golden)
        t0 = time.perf_counter()
        try:
            decompress(blob)
            outcomes["decoded"] += 1
        except InrkitError as exc:
            outcomes[str(exc).split(":")[1].strip()[:40] if ":" in str(exc) else str(exc)[:40]] += 1
        dt = time.perf_counter() - t0
        if dt > slowest[0]:
            slowest = (dt, blob)
    print(f"{n} mutated files in {time.perf_counter() - t_all:.1f} s; slowest {slowest[0]:.3f} s; no other exception")
    for k, v in outcomes.most_common(12):
        print(f"{v:6d}  {k}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
