"""Fit speed: inrkit's presets against plain reimplementations of the published recipes.

    python benchmarks/fit_speed.py                      # CPU: 256 and 512, held-out protocol
    python benchmarks/fit_speed.py --device cuda --sizes 512

Everything runs in one process on one machine, so the ratios compare like with like.
Clocks count training only: the whole-image PSNR is measured whenever another
``--eval-dt`` seconds of training have passed, with the clock stopped.

Recipes:
- reference SIREN (Sitzmann 2020): 3 hidden layers of 256, w0 = 30, Adam 1e-4, whole image per step.
- reference Fourier features (Tancik 2020): 256 Gaussian features, sigma 10 on [0, 1]
  coordinates, 4 ReLU layers of 256, sigmoid output, Adam 1e-3, whole image per step.
- inrkit presets (``inrkit.config.PRESETS``), through inrkit's own fit loop.

Both references are written here in plain PyTorch, independent of inrkit's modules.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import time

import numpy as np
import torch
from torch import nn

import inrkit
from inrkit.config import PRESETS, build_field, make_optimizer
from inrkit.train.schedules import make as make_schedule


# ---- plain references ----------------------------------------------------------------------

class RefSiren(nn.Module):
    def __init__(self, out_dim, width=256, hidden=3, w0=30.0):
        super().__init__()
        dims = [2] + [width] * (hidden + 1)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(width, out_dim)
        self.w0 = w0
        with torch.no_grad():
            for i, lin in enumerate(self.linears):
                n = lin.in_features
                bound = 1 / n if i == 0 else math.sqrt(6 / n) / w0
                lin.weight.uniform_(-bound, bound)
            self.out.weight.uniform_(-math.sqrt(6 / width) / w0, math.sqrt(6 / width) / w0)

    def forward(self, x):  # x in [-1, 1], output in [-1, 1]
        for lin in self.linears:
            x = torch.sin(self.w0 * lin(x))
        return self.out(x)


class RefFourier(nn.Module):
    def __init__(self, out_dim, m=256, sigma=10.0, width=256, layers=4):
        super().__init__()
        self.register_buffer("B", torch.randn(m, 2) * sigma)
        dims = [2 * m] + [width] * layers
        mods = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [nn.Linear(a, b), nn.ReLU()]
        self.mlp = nn.Sequential(*mods, nn.Linear(width, out_dim))

    def forward(self, x):  # x in [-1, 1] -> Tancik's [0, 1]; sigmoid output in [0, 1] -> [-1, 1]
        v = (x + 1) / 2
        proj = 2 * math.pi * v @ self.B.T
        return 2 * torch.sigmoid(self.mlp(torch.cat([torch.cos(proj), torch.sin(proj)], -1))) - 1


# ---- one timed run ---------------------------------------------------------------------------

def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_run(name, model, opt, sched, train_x, train_y, eval_x, eval_y, cap, max_steps, batch, eval_dt, device,
              amp=False, seed=0):
    """Train until ``cap`` seconds or ``max_steps``; return the PSNR-vs-time trace."""
    g = torch.Generator().manual_seed(seed + 1)
    n = train_x.shape[0]
    clock, last_eval, step = 0.0, -1e9, 0
    trace = []  # (seconds, psnr on eval set)

    def evaluate():
        with torch.no_grad():
            pred = torch.cat([model(eval_x[i:i + 65536]) for i in range(0, eval_x.shape[0], 65536)])
            mse = float(((pred.float() - eval_y) ** 2).mean())
        return 10 * math.log10(4.0 / max(mse, 1e-30))

    trace.append((0.0, evaluate()))
    use_amp = amp and device.type == "cuda"
    while clock < cap and step < max_steps:
        _sync(device)
        t = time.perf_counter()
        if batch and batch < n:
            idx = torch.randint(0, n, (batch,), generator=g).to(device)
            x, y = train_x[idx], train_y[idx]
        else:
            x, y = train_x, train_y
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            loss = ((model(x).float() - y) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        _sync(device)
        clock += time.perf_counter() - t
        step += 1
        if clock - last_eval >= eval_dt or step == max_steps:
            trace.append((clock, evaluate()))
            last_eval = clock
    return {"name": name, "steps": step, "seconds": clock, "trace": trace,
            "params": sum(p.numel() for p in model.parameters())}


def first_time(trace, db):
    for t, p in trace:
        if p >= db:
            return t
    return None


def psnr_at(trace, t):
    best = None
    for s, p in trace:
        if s <= t:
            best = p
    return best


def recipes(channels, size, device, seed):
    torch.manual_seed(seed)
    out = []
    m = RefSiren(channels).to(device)
    out.append(("reference SIREN", m, torch.optim.Adam(m.parameters(), lr=1e-4), None, 0, 10**9, False))
    torch.manual_seed(seed)
    m = RefFourier(channels).to(device)
    out.append(("reference Fourier features", m, torch.optim.Adam(m.parameters(), lr=1e-3), None, 0, 10**9, False))
    for pname in ("fast",):
        fcfg, tcfg = PRESETS[pname]
        field = build_field(fcfg, 2, channels, size, generator=torch.Generator().manual_seed(seed)).to(device)
        lr = tcfg.lr if tcfg.lr is not None else inrkit.config.DEFAULT_LR[fcfg.arch]
        opt = make_optimizer(field, fcfg.arch, lr)
        out.append((f"inrkit --preset {pname}", field, opt, make_schedule(tcfg.schedule, opt, tcfg.steps), tcfg.batch_size,
                    tcfg.steps, False))
        if device.type == "cuda":
            field = build_field(fcfg, 2, channels, size, generator=torch.Generator().manual_seed(seed)).to(device)
            opt = make_optimizer(field, fcfg.arch, lr)
            out.append((f"inrkit --preset {pname} --amp", field, opt, make_schedule(tcfg.schedule, opt, tcfg.steps),
                        tcfg.batch_size, tcfg.steps, True))
    return out


def fmt(v, cap):
    return f"{v:.2f}" if v is not None else f"> {cap:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--cap", type=float, default=60.0, help="seconds of training per recipe at most")
    ap.add_argument("--heldout-budget", type=float, default=20.0, help="seconds per recipe in the held-out protocol")
    ap.add_argument("--eval-dt", type=float, default=None, help="training seconds between evaluations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recipes", default="", help="comma-separated subset by name prefix, e.g. 'reference SIREN'")
    ap.add_argument("--no-heldout", action="store_true")
    a = ap.parse_args()
    keep = [r.strip() for r in a.recipes.split(",") if r.strip()]

    def chosen(rs):
        return [r for r in rs if not keep or any(r[0].startswith(k) for k in keep)]
    device = torch.device(a.device)
    eval_dt = a.eval_dt if a.eval_dt is not None else (0.02 if device.type == "cuda" else 0.25)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(f"# device: {name}; torch {torch.__version__}; cap {a.cap:.0f} s per recipe")
    for size in map(int, a.sizes.split(",")):
        sig = inrkit.load_image("camera", size=size)
        x = sig.coords(device).reshape(-1, 2)
        y = sig.targets(device).reshape(-1, 1)
        if device.type == "cuda":  # CUDA context, cuBLAS handles and kernel caches: not part of any recipe's time
            for rname, model, opt, sched, batch, steps, amp in recipes(1, size, device, a.seed + 100):
                timed_run(rname, model, opt, sched, x, y, x, y, 0.5, 20, batch, 1e9, device, amp)
        print(f"\n## camera {size}x{size}, whole-image PSNR\n")
        print("| recipe | parameters | s / step | s to 30 dB | s to 40 dB | PSNR at 10 s | PSNR at 60 s | steps | "
              "30 dB time / ref. SIREN's | 40 dB time / ref. SIREN's |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        rows = []
        for rname, model, opt, sched, batch, steps, amp in chosen(recipes(1, size, device, a.seed)):
            r = timed_run(rname, model, opt, sched, x, y, x, y, a.cap, steps, batch, eval_dt, device, amp)
            rows.append(r)
        ref = rows[0]
        for r in rows:
            t30, t40 = first_time(r["trace"], 30), first_time(r["trace"], 40)
            r30, r40 = first_time(ref["trace"], 30), first_time(ref["trace"], 40)

            def ratio(t, rt):
                if t is None:
                    return "-"
                if rt is None:
                    return f"< 1/{ref['seconds'] / t:.0f} (ref. > cap)"
                return f"1/{rt / t:.1f}"
            p10, p60 = psnr_at(r["trace"], 10), psnr_at(r["trace"], 60)
            end = "" if r["seconds"] >= 60 else f" (done at {r['seconds']:.1f} s)"
            print(f"| {r['name']} | {r['params']:,} | {r['seconds'] / r['steps']:.4f} | {fmt(t30, r['seconds'])} | "
                  f"{fmt(t40, r['seconds'])} | {p10:.2f} | {p60:.2f}{end} | {r['steps']} | {ratio(t30, r30)} | "
                  f"{ratio(t40, r40)} |", flush=True)
    if a.no_heldout:
        return
    # Tancik et al. 2020 held-out protocol: 512x512, fit y[::2, ::2], score y[1::2, 1::2].
    sig = inrkit.load_image("camera", size=512)
    grid = sig.coords(device)  # (512, 512, 2)
    tgt = sig.targets(device)
    tx, ty = grid[::2, ::2].reshape(-1, 2), tgt[::2, ::2].reshape(-1, 1)
    ex, ey = grid[1::2, 1::2].reshape(-1, 2), tgt[1::2, 1::2].reshape(-1, 1)
    print(f"\n## held-out protocol (Tancik 2020): camera 512x512, fit every other pixel, PSNR on the others, "
          f"{a.heldout_budget:.0f} s of training each\n")
    print("| recipe | held-out PSNR at budget | best held-out PSNR seen | train-pixel PSNR at budget | steps |")
    print("|---|---|---|---|---|")
    for rname, model, opt, sched, batch, steps, amp in chosen(recipes(1, 256, device, a.seed)):
        r = timed_run(rname, model, opt, sched, tx, ty, ex, ey, a.heldout_budget, steps, batch, eval_dt, device, amp)
        with torch.no_grad():
            tr = torch.cat([model(tx[i:i + 65536]) for i in range(0, tx.shape[0], 65536)]).float()
        train_psnr = 10 * math.log10(4.0 / float(((tr - ty) ** 2).mean()))
        print(f"| {rname} | {r['trace'][-1][1]:.2f} | {max(p for _, p in r['trace']):.2f} | {train_psnr:.2f} | "
              f"{r['steps']} |", flush=True)


if __name__ == "__main__":
    main()
