"""Jets of order K = 2, 4, 6: forward (Taylor) mode (inrkit.ops.taylor) against nested autograd.

    python benchmarks/insp_jet.py [--size 256] [--width 128] [--depth 3] [--orders 2,4,6] [--chunk 4096]
                                  [--methods taylor,autograd] [--device cpu]

A random SIREN (width x depth, w0 = 30) on a size x size grid; every distinct partial up to order K
of its one output channel. Both methods run in chunks of --chunk points (the same for both), each
configuration in a fresh process so its peak memory is its own: seconds for the whole grid and the
peak resident memory above the process's baseline (CPU), or torch's peak allocated memory (CUDA).
The two results are compared on the first chunk (max relative difference per order).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch


def one(method: str, order: int, size: int, width: int, depth: int, chunk: int, device: str) -> dict:
    from inrkit import coords as C
    from inrkit.encodings.modules import Identity
    from inrkit.fields.base import NeuralField
    from inrkit.nn.mlp import Siren
    from inrkit.ops.taylor import autograd_jet, jet

    dev = torch.device(device)
    g = torch.Generator().manual_seed(0)
    field = NeuralField(Identity(2), Siren(2, 1, width, depth, generator=g)).to(dev)
    x = C.grid((size, size)).reshape(-1, 2).to(dev)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    first = None
    for s in range(0, x.shape[0], chunk):
        xs = x[s:s + chunk]
        if method == "taylor":
            with torch.no_grad():
                J = jet(field, xs, order)
        else:
            J = autograd_jet(field, xs, order)
        if first is None:
            first = J.double().cpu()
        del J
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    if dev.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    torch.save(first, f"/tmp/insp_jet_{method}_{order}.pt")
    return {"method": method, "order": order, "seconds": seconds, "peak_mb": peak_mb}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--orders", default="2,4,6")
    p.add_argument("--chunk", type=int, default=4096)
    p.add_argument("--methods", default="taylor,autograd")
    p.add_argument("--device", default="cpu")
    p.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        print(json.dumps(one(a.one[0], int(a.one[1]), a.size, a.width, a.depth, a.chunk, a.device)))
        return
    print(f"# {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, device {a.device}; "
          f"SIREN {a.depth} x {a.width}, {a.size}x{a.size} grid, chunks of {a.chunk} points")
    print("| K | partials | Taylor mode (s) | nested autograd (s) | speed-up | Taylor peak (MB) | autograd peak (MB) "
          "| max rel. difference |")
    print("|---|---|---|---|---|---|---|---|")
    from inrkit.ops.taylor import multi_indices

    for K in (int(k) for k in a.orders.split(",")):
        res = {}
        for m in a.methods.split(","):
            cmd = [sys.executable, __file__, "--one", m, str(K), "--size", str(a.size), "--width", str(a.width),
                   "--depth", str(a.depth), "--chunk", str(a.chunk), "--device", a.device]
            out = subprocess.run(cmd, capture_output=True, text=True)
            res[m] = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
        for m in {"taylor", "autograd"} - set(res):
            res[m] = False  # not asked for
        diff = "n/a"
        idx = multi_indices(2, K)
        if res.get("taylor") and res.get("autograd"):
            A = torch.load(f"/tmp/insp_jet_taylor_{K}.pt")
            B = torch.load(f"/tmp/insp_jet_autograd_{K}.pt")
            worst = 0.0
            for k in range(K + 1):
                cols = [i for i, j in enumerate(idx) if sum(j) == k]
                scale = B[..., cols].abs().max().clamp_min(1e-300)
                worst = max(worst, float((A[..., cols] - B[..., cols]).abs().max() / scale))
            diff = f"{worst:.1e}"
        t, ag = res.get("taylor"), res.get("autograd")
        asked = a.methods.split(",")
        fmt = lambda r, k: f"{r[k]:.2f}" if r else "failed" if r is None and len(asked) == 2 else "not run"  # noqa: E731
        ratio = f"{ag['seconds'] / t['seconds']:.1f}x" if t and ag else "n/a"
        print(f"| {K} | {len(idx)} | {fmt(t, 'seconds')} | {fmt(ag, 'seconds')} | {ratio} | {fmt(t, 'peak_mb')} | "
              f"{fmt(ag, 'peak_mb')} | {diff} |", flush=True)


if __name__ == "__main__":
    main()
