"""Decode time of a 512x512 cool-chic .inrk file on the CPU (the issue asks for under 1 s).

    python benchmarks/codec_decode_speed.py [SIZE] [REPEATS]

Encodes the built-in camera (gray) and astronaut (RGB) at SIZE with a few training steps (the
decoder's work does not depend on how well the model was trained: the same grids, the same MLP),
then times decompress(file bytes) REPEATS times and prints the median.
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from inrkit.codec import compress, decompress
from inrkit.codec.coolchic import CoolChicSettings
from inrkit.signals import load_image


def main(size: int, repeats: int) -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in ("camera", "astronaut"):
        sig = load_image(name, size=size, alpha="drop")
        r = compress(sig, 0.004, settings=CoolChicSettings(steps=20))
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            decompress(r.data)
            times.append(time.perf_counter() - t0)
        h, w = sig.shape
        print(f"{name} {w}x{h}x{sig.channels}: {len(r.data):,} bytes, decode median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}) over {repeats}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 512, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
