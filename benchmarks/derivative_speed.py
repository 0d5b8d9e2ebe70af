"""Time one training step of derivative supervision: forward-mode (ops.jet) against autograd.

    python benchmarks/derivative_speed.py [--device cpu] [--size 128] [--archs siren,tanh,pe] [--repeats 3]

A step = the objective's derivative of the field on every pixel of a size x size grid, the mean
squared value as the loss, one backward pass to the parameters (what a Poisson fit does each
step). Both methods run in the same process, alternately, on the same field; the table gives
seconds per step and their ratio.
"""

from __future__ import annotations

import argparse
import time

import torch

from inrkit import coords as C
from inrkit.config import FieldConfig, build_field
from inrkit.ops import diff
from inrkit.ops.jet import jet


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_autograd(field, x0, laplacian):
    x = x0.clone().requires_grad_(True)
    y = field(x)
    q = diff.laplacian(y, x) if laplacian else diff.jacobian(y, x)
    q.square().mean().backward()


def step_jet(field, x0, laplacian):
    _, g, lap = jet(field, x0, laplacian=laplacian)
    (lap if laplacian else g).square().mean().backward()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--archs", default="siren,tanh,pe")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    dev = torch.device(a.device)
    x0 = C.grid((a.size, a.size), device=dev).reshape(-1, 2)
    print(f"| field | derivative | autograd s/step | forward (jet) s/step | autograd / jet |")
    print("|---|---|---|---|---|")
    for arch in a.archs.split(","):
        field = build_field(FieldConfig(arch=arch), 2, 1, a.size, generator=torch.Generator().manual_seed(0)).to(dev)
        for lap in (False, True):
            times = {}
            for name, fn in (("autograd", step_autograd), ("jet", step_jet)):
                fn(field, x0, lap)  # warm-up
                _sync(dev)
                t = time.perf_counter()
                for _ in range(a.repeats):
                    fn(field, x0, lap)
                _sync(dev)
                times[name] = (time.perf_counter() - t) / a.repeats
            print(f"| {arch} | {'Laplacian' if lap else 'gradient'} | {times['autograd']:.4f} | {times['jet']:.4f} | "
                  f"{times['autograd'] / times['jet']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
