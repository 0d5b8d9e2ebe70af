"""Threads or processes for many small SIREN fits: the step time of one fit on all cores against one fit per
core in processes side by side (what fitting the INSP bench's fields in parallel processes would buy).

    python benchmarks/siren_threads.py [--width 128] [--depth 3] [--size 128] [--steps 40]

Prints seconds per step for one process using every core, then for ``cores`` one-thread processes started
together (each timing its own steps), and the throughput ratio (steps per second of all processes together
against the one process). Synthetic targets: only the time of a step is measured.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def one(width: int, depth: int, size: int, steps: int, threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    from inrkit import coords as C
    from inrkit.config import FieldConfig, build_field

    f = build_field(FieldConfig(arch="siren", width=width, hidden_layers=depth), 2, 1, size,
                    generator=torch.Generator().manual_seed(0))
    x = C.grid((size, size)).reshape(-1, 2)
    y = torch.rand(size * size, 1, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(f.parameters(), 1e-4)

    def step():
        opt.zero_grad()
        ((f(x) - y) ** 2).mean().backward()
        opt.step()

    for _ in range(5):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(one(a.width, a.depth, a.size, a.steps, a.worker))
        return
    cores = os.cpu_count() or 1
    shared = one(a.width, a.depth, a.size, a.steps, cores)
    argv = [sys.executable, __file__, "--width", str(a.width), "--depth", str(a.depth), "--size", str(a.size),
            "--steps", str(a.steps), "--worker", "1"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(cores)]
    each = [float(p.communicate()[0].strip()) for p in procs]
    print(f"SIREN {a.depth} x {a.width} on {a.size}x{a.size} points, {cores} cores")
    print(f"one process, {cores} threads: {shared:.4f} s/step")
    print(f"{cores} one-thread processes side by side: " + ", ".join(f"{s:.4f}" for s in each) + " s/step")
    print(f"throughput, processes against threads: {sum(1 / s for s in each) * shared:.2f}x")


if __name__ == "__main__":
    main()
