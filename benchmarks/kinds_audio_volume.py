"""Audio and volume fits through the one workflow (inrkit.apps.grid): PSNR and seconds per architecture at
equal steps and at equal time, peak memory per case. Speed lives here, never in tests.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/kinds_audio_volume.py [--quick] [--json out.json]

Data (all offline):
- speech: 4 s of English synthesised by Debian's ``espeak-ng`` (``apt-get install espeak-ng``; its
  output is deterministic for a given version), resampled from 22,050 Hz to 16 kHz with
  ``scipy.signal.resample_poly``; the issue's target is 40 dB PSNR within 60 s with the fastest preset.
- long clip: 10 s of the same voice at 48 kHz (memory: decoded signal + bounded batches).
- MRI: nibabel's shipped ``anatomical.nii`` (33 x 41 x 25 voxels of a real T1 scan) for the
  architecture comparison, and the same scan resampled to 256^3 (``scipy.ndimage.zoom``, cubic)
  for the memory/time figure of a large volume.

Each case runs in its own subprocess so ``resource.getrusage`` reports that case's peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TEXT = ("The quick brown fox jumps over the lazy dog. Implicit neural representations fit a continuous "
        "function to sampled signals such as speech, images and volumes, and render them at any resolution.")


def speech(path: Path, seconds: float, rate: int) -> None:
    """espeak-ng speech, resampled to ``rate``, cut (or zero-padded) to ``seconds``, 16-bit WAV."""
    from math import gcd

    from scipy.signal import resample_poly

    from inrkit.signals.audio import read_wav, write_wav

    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(raw), TEXT], check=True)
    x, r, _ = read_wav(raw)
    g = gcd(rate, r)
    y = resample_poly(x[:, 0].astype(np.float64), rate // g, r // g)
    n = int(seconds * rate)
    y = np.pad(y, (0, max(0, n - len(y))))[:n]
    y = 0.95 * y / max(1e-9, np.abs(y).max())
    write_wav(path, y, rate, 16)


def mri(path: Path, size: int | None) -> None:
    import nibabel as nib

    anat = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
    if size is None:
        path.write_bytes(anat.read_bytes())
        return
    from scipy.ndimage import zoom

    img = nib.load(str(anat))
    data = img.get_fdata(dtype=np.float32)
    big = zoom(data, [size / n for n in data.shape], order=3).astype(np.float32)
    nib.save(nib.Nifti1Image(big, img.affine), path)


def case(args) -> dict:
    """One fit in this process; prints its figures as JSON."""
    import torch

    torch.set_num_threads(1)
    from inrkit.apps.grid import fit_grid, kind_configs, peak_rss_mib
    from inrkit.signals import kinds as K

    kind = K.get(args.kind)
    t0 = time.perf_counter()
    signal = kind.load(Path(args.file))
    load_s = time.perf_counter() - t0
    fc = {"arch": args.arch} if args.arch else {}
    tc = {"steps": args.steps} if args.steps else {}
    if args.batch:
        tc["batch_size"] = args.batch
    if args.lr:
        tc["lr"] = args.lr
    fcfg, tcfg, _ = kind_configs(kind, args.preset, "cpu", fc, tc)
    if args.arch and args.arch != kind_configs(kind, args.preset, "cpu")[0].arch:
        tcfg = tcfg.__class__(**{**tcfg.__dict__, "lr": args.lr})  # the architecture's paper lr unless given
    rss_loaded = peak_rss_mib()
    t1 = time.perf_counter()
    fit_ = fit_grid(signal, fcfg, tcfg, "cpu", progress=False, holdout=0.0, max_seconds=args.seconds)
    wall = time.perf_counter() - t1
    m = fit_.metrics
    out = {"kind": args.kind, "file": Path(args.file).name, "shape": m["shape"], "arch": fcfg.arch,
           "preset": args.preset, "steps_done": m["steps_done"], "train_seconds": m["seconds"],
           "wall_seconds": wall, "load_seconds": load_s, "psnr": m["psnr"], "snr": m.get("snr"),
           "parameters": m["parameters"], "signal_mib": m["signal_bytes"] / 2**20, "rss_after_load_mib": rss_loaded,
           "peak_rss_mib": peak_rss_mib(), "batch": tcfg.batch_size, "lr": fit_.lr,
           "seconds_to_40db": next((h["seconds"] for h in fit_.history if h["psnr"] >= 40.0), None)}
    print(json.dumps(out))
    return out


def run_case(file: Path, kind: str, preset: str, arch: str | None = None, steps: int | None = None,
             seconds: float | None = None, batch: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--case", "--file", str(file), "--kind", kind, "--preset", preset]
    if arch:
        cmd += ["--arch", arch]
    if steps:
        cmd += ["--steps", str(steps)]
    if seconds:
        cmd += ["--seconds", str(seconds)]
    if batch:
        cmd += ["--batch", str(batch)]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if p.returncode != 0:
        return {"kind": kind, "arch": arch, "preset": preset, "error": p.stderr.strip().splitlines()[-1:]}
    r = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"{r['kind']:<6} {r['file']:<16} {r['preset']:<9} {r['arch']:<6} steps {r['steps_done']:>5} "
          f"train {r['train_seconds']:6.1f} s  PSNR {r['psnr']:6.2f} dB  peak {r['peak_rss_mib']:7.0f} MiB  "
          f"to 40 dB {r['seconds_to_40db']}", flush=True)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--file"), ap.add_argument("--kind"), ap.add_argument("--preset", default="fast")
    ap.add_argument("--arch"), ap.add_argument("--steps", type=int), ap.add_argument("--seconds", type=float)
    ap.add_argument("--batch", type=int), ap.add_argument("--lr", type=float)
    ap.add_argument("--quick", action="store_true", help="short budgets (a smoke run)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", default="speech,long,archs,mri,mri256")
    args = ap.parse_args()
    if args.case:
        case(args)
        return
    import torch

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    q = args.quick
    only = set(args.only.split(","))
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sp, long_, anat, big = tmp / "speech16k.wav", tmp / "speech48k-10s.wav", tmp / "anatomical.nii", \
            tmp / "anatomical256.nii"
        speech(sp, 4.0, 16000)
        if "speech" in only:  # the target: the fastest preset, 60 s
            results.append(run_case(sp, "audio", "fast", seconds=10 if q else 60))
        if "archs" in only:
            archs = ("siren", "hash", "ffn", "pe", "relu", "tanh")
            for arch in archs:  # equal steps (random batches of 4,096 samples)
                results.append(run_case(sp, "audio", "cpu", arch=arch, steps=20 if q else 100, batch=4096))
            for arch in archs:  # equal time
                results.append(run_case(sp, "audio", "cpu", arch=arch, seconds=5 if q else 20, batch=4096))
        if "long" in only:
            speech(long_, 10.0, 48000)
            results.append(run_case(long_, "audio", "fast", seconds=10 if q else 60))
        if "mri" in only:
            mri(anat, None)
            for arch in ("siren", "hash", "ffn", "pe", "relu", "tanh"):
                results.append(run_case(anat, "volume", "cpu", arch=arch, steps=20 if q else 100, batch=4096))
            for arch in ("siren", "hash", "ffn", "pe", "relu", "tanh"):
                results.append(run_case(anat, "volume", "cpu", arch=arch, seconds=5 if q else 20, batch=4096))
        if "mri256" in only:
            mri(big, 64 if q else 256)
            results.append(run_case(big, "volume", "fast", seconds=10 if q else 90))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
