"""Undersampled MRI (issue 17, item 7): INR against zero-filled and TV (Chambolle-Pock) reconstructions.

    python benchmarks/inverse_mri.py [--steps 1000] [--minutes M] [--out runs/bench-mri]

Runs ``inrkit mri`` on the Shepp-Logan phantom (128 x 128) and on nibabel's test brain slice
(96 x 128) with radial and variable-density random masks at 4x and 8x, and prints one markdown table
per run. Target: INR >= zero-filled + 6 dB at 4x.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inverse_ct import run

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=None, help="cap on each fit (default: none)")
    p.add_argument("--out", type=Path, default=Path("runs/bench-mri"))
    p.add_argument("--images", default="shepp-logan,brain")
    p.add_argument("--masks", default="radial:4,random:4,radial:8")
    a = p.parse_args()
    for image in a.images.split(","):
        for spec in a.masks.split(","):
            mask, acc = spec.split(":")
            cmd = ["mri", image, "--mask", mask, "--acceleration", acc, "--steps", str(a.steps)]
            cmd += ["--minutes", str(a.minutes)] if a.minutes else []
            print(run(cmd, a.out / f"{image}-{mask}{acc}"), flush=True)
