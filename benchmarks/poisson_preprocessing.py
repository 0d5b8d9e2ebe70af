"""How the down-sampling filter changes the Poisson problem (no training: the discrete solve only).

    python benchmarks/poisson_preprocessing.py [--image camera] [--size 256]

Sobel-filtered gradients lose what the filter smooths away, so the best reconstruction from them
depends on how much high-frequency content the image has, which the resize before the fit
decides. For each filter of ``inrkit.signals.io.RESAMPLE_FILTERS`` this prints the PSNR (after
removing the constant) of the classical solve from the Sobel gradient (least squares, DCT) and
from the 5-point Laplacian (Neumann, DCT): the same targets `inrkit poisson` gives the networks.
"""

from __future__ import annotations

import argparse

from inrkit.edit.gradient_domain import poisson_problem
from inrkit.metrics import psnr
from inrkit.signals.io import RESAMPLE_FILTERS, load_image


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default="camera")
    p.add_argument("--size", type=int, default=256)
    a = p.parse_args()
    print("| resample filter | from the Sobel gradient (dB) | from the 5-point Laplacian (dB) |\n|---|---|---|")
    for r in RESAMPLE_FILTERS:
        gt = load_image(a.image, a.size, alpha="drop", resample=r).targets().mean(-1, keepdim=True).numpy()
        gt = gt.astype("float64")
        row = [psnr(poisson_problem(gt, s)[1], gt) for s in ("gradient", "laplacian")]
        print(f"| {r} | {row[0]:.2f} | {row[1]:.2f} |")


if __name__ == "__main__":
    main()
