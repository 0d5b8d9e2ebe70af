"""Sparse-view CT (issue 17, item 7): INR against FBP and SART from the same sinogram.

    python benchmarks/inverse_ct.py [--size 256] [--views 20] [--steps 1000] [--operator pixels|rays] [--rays R] [--minutes M] [--out runs/bench-ct]

Runs ``inrkit ct shepp-logan`` (the real command, so the figures are the command's) and prints a
markdown table of PSNR / SSIM / seconds per method with the command and the machine. Target: INR
PSNR >= FBP + 8 dB and >= SART (Tancik et al. 2020 report 28.33 dB for Gaussian Fourier features on
their own phantoms and network).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
from pathlib import Path

import torch

from inrkit.cli import main


def machine() -> str:
    return f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def table(cmd: list[str], out: Path) -> str:
    m = json.loads((out / "metrics.json").read_text())
    rows = [f"| {k} | {v['psnr']:.2f} | {v['ssim']:.4f} | {v['seconds']:.1f} |" for k, v in m["methods"].items()]
    return "\n".join([f"`{' '.join(shlex.quote(c) for c in cmd)}` ({m['steps_done']} steps; {machine()})", "",
                      "| method | PSNR (dB) | SSIM | seconds |", "|---|---|---|---|", *rows, ""])


def run(cmd: list[str], out: Path) -> str:
    code = main(cmd + ["--out", str(out), "--overwrite", "--quiet"])
    if code:
        sys.exit(code)
    return table(["inrkit", *cmd], out)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--views", type=int, default=20)
    p.add_argument("--minutes", type=float, default=None, help="cap on the INR fit (default: none)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--operator", choices=("pixels", "rays"), default="pixels")
    p.add_argument("--rays", type=int, default=None, help="default: the command's (every ray for pixels, 512 for rays)")
    p.add_argument("--samples", type=int, default=64)
    p.add_argument("--out", type=Path, default=Path("runs/bench-ct"))
    a = p.parse_args()
    cmd = ["ct", "shepp-logan", "--size", str(a.size), "--views", str(a.views), "--steps", str(a.steps),
           *(["--minutes", str(a.minutes)] if a.minutes else []), "--operator", a.operator,
           *(["--rays", str(a.rays)] if a.rays is not None else []), "--samples", str(a.samples)]
    print(run(cmd, a.out))
