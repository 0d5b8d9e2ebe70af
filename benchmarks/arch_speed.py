"""Per architecture on the camera image: parameters, seconds per step, PSNR after N steps,
seconds to 30 dB. Speed lives here, never in tests.

    python benchmarks/arch_speed.py [--size 256] [--steps 300] [--cap 240] [--device auto]

Each architecture trains on the whole image per step with its paper learning rate until
it has done --steps steps or spent --cap seconds; PSNR is measured every --every steps
(evaluation time excluded from the clock).
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

import inrkit
from inrkit.batch import Batch
from inrkit.device import resolve_device
from inrkit.config import ARCH_LABELS, ARCHS, DEFAULT_LR, FieldConfig, build_field
from inrkit.metrics import psnr
from inrkit.objectives import Reconstruction


def run(arch: str, signal, steps: int, cap: float, every: int, device: torch.device) -> dict:
    h, w = signal.shape
    field = build_field(FieldConfig(arch=arch), 2, signal.channels, max(h, w),
                        generator=torch.Generator().manual_seed(0)).to(device)
    coords = signal.coords(device).reshape(-1, 2)
    targets = signal.targets(device).reshape(-1, signal.channels)
    opt = torch.optim.Adam(field.parameters(), lr=DEFAULT_LR[arch])
    loss_fn = Reconstruction()
    batch = Batch(coords, targets)  # the whole image every step
    train_s, t30, psnr_at = 0.0, None, None
    step = 0
    while step < steps and train_s < cap:
        t = time.perf_counter()
        loss = loss_fn(field, batch)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_s += time.perf_counter() - t
        step += 1
        if step % every == 0 or step == steps:
            with torch.no_grad():
                p = psnr(field(coords), targets)
            if t30 is None and p >= 30.0:
                t30 = train_s
            if step == steps:
                psnr_at = p
    with torch.no_grad():
        last = psnr(field(coords), targets)
    return {"arch": arch, "params": inrkit.num_parameters(field), "s_per_step": train_s / max(step, 1),
            "steps_done": step, "psnr_at_N": psnr_at, "psnr_last": last, "t30": t30, "train_s": train_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--cap", type=float, default=240.0, help="seconds of training per architecture at most")
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--archs", default=",".join(ARCHS))
    a = ap.parse_args()
    device = resolve_device(a.device)
    signal = inrkit.load_image("camera", size=a.size)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"# camera {a.size}x{a.size}, whole image per step, N = {a.steps} steps, cap {a.cap:.0f} s per architecture")
    print(f"# device: {device} ({name}); torch {torch.__version__}")
    print(f"| architecture | parameters | s / step | PSNR after {a.steps} steps (dB) | s to 30 dB | steps run | last PSNR |")
    print("|---|---|---|---|---|---|---|")
    for arch in a.archs.split(","):
        r = run(arch, signal, a.steps, a.cap, a.every, device)
        at = f"{r['psnr_at_N']:.2f}" if r["psnr_at_N"] is not None else f"(cap at step {r['steps_done']})"
        t30 = f"{r['t30']:.1f}" if r["t30"] is not None else f"> {r['train_s']:.0f}"
        print(f"| {ARCH_LABELS[arch]} | {r['params']:,} | {r['s_per_step']:.3f} | {at} | {t30} | {r['steps_done']} | "
              f"{r['psnr_last']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
