"""Kill campaign: SIGKILL long commands at random moments, resume them, compare bytes.

For each of ``fit``, ``nerf train``, ``functa train`` and ``functa encode`` (tiny settings, CPU):
one uninterrupted run is the reference; then ``--kills`` times: start the command, SIGKILL it at a
moment drawn (seeded) uniformly over the reference's wall time, start it again with ``--resume``
(``functa encode``: just again; a run killed before its first snapshot has nothing to resume, and
is started again afresh, as a user would) and check:

- the run folder is complete (the ``.inrkit-run`` marker, ``metrics.json`` of status ok) and exists
  at every check (a missing or corrupt run counts as lost);
- its model files are byte-identical to the reference's (encode: every shard and the manifest);
- nothing half-written is left: no ``.NAME.tmp-*`` / ``.NAME.old-*`` / ``.NAME.resume`` beside it and
  no temporary file inside it once the resumed run has completed.

Run: ``.venv/bin/python benchmarks/kill_campaign.py --kills 12 --seed 0`` (``--minutes`` stops
starting new kills once that much time is spent; the table says how many were run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _run(args, timeout=900):
    p = subprocess.run([PY, "-m", "inrkit", *map(str, args)], capture_output=True, text=True, env=ENV,
                       timeout=timeout)
    return p.returncode, p.stderr


def _start(args):
    return subprocess.Popen([PY, "-m", "inrkit", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV)


class Job:
    """One command: how to run it into ``out``, and which files must be byte-identical."""

    def __init__(self, name, args, files, resumable=True, folder_is_run=True):
        self.name, self.args, self.files = name, args, files
        self.resumable, self.folder_is_run = resumable, folder_is_run

    def argv(self, out, resume=False, snapshots=True):
        a = [*self.args, "--out", out]
        if self.resumable and snapshots:
            a += ["--snapshot-minutes", "0.0001"]  # a snapshot after every step: a kill always has one
        if resume:
            a += ["--resume"]
        return a


def _model_files(folder: Path, patterns) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for pat in patterns for p in sorted(folder.glob(pat))}


def _complete(job: Job, out: Path) -> str | None:
    """None when ``out`` is a complete run (or functaset), else what is wrong."""
    if not out.is_dir():
        return "missing"
    if job.folder_is_run:
        if not (out / ".inrkit-run").is_file():
            return "no marker"
        try:
            m = json.loads((out / "metrics.json").read_text())
        except (OSError, ValueError):
            return "metrics.json unreadable"
        runs = m.get("runs", [m])
        if any(r.get("status", "ok") != "ok" for r in runs):
            return "status not ok"
    else:
        from inrkit.apps.functa import load_functaset

        try:
            load_functaset(out)
        except Exception as exc:  # noqa: BLE001 - any failure is a corrupt functaset
            return f"functaset: {exc}"
    return None


def _leftovers(out: Path) -> list[str]:
    """Temporary things beside or inside ``out`` once a run has completed."""
    found = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    if out.is_dir():
        found += [f"{out.name}/{p.name}" for p in out.iterdir() if p.name.startswith(".") and p.name != ".inrkit-run"]
    return found


def campaign(job: Job, work: Path, kills: int, rng: random.Random, deadline: float, log) -> dict:
    ref = work / f"{job.name.replace(' ', '_')}_ref"
    t0 = time.perf_counter()
    code, err = _run(job.argv(ref, snapshots=False))
    ref_seconds = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"reference run of {job.name} failed: {err}")
    reference = _model_files(ref, job.files)
    row = {"command": job.name, "kills": 0, "lost": 0, "identical": 0, "leftovers": 0, "fresh": 0,
           "finished_before_kill": 0, "ref_seconds": ref_seconds, "problems": []}
    for i in range(kills):
        if time.perf_counter() > deadline:
            break
        out = work / f"{job.name.replace(' ', '_')}_{i}"
        delay = rng.uniform(0.05, 1.0) * ref_seconds
        p = _start(job.argv(out))
        killed = False
        try:
            p.wait(timeout=delay)
            row["finished_before_kill"] += 1  # not a kill: checked, but not counted as one
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            killed = True
        row["kills"] += killed
        if out.exists() and (job.folder_is_run and _complete(job, out) is not None and (out / ".inrkit-run").exists()):
            row["lost"] += 1
            row["problems"].append(f"kill {i}: a corrupt run left at {out.name}: {_complete(job, out)}")
        state = out.parent / f".{out.name}.resume"
        if job.resumable and (out / ".inrkit-run").exists():
            code, err = 0, ""  # the kill came after the run was written: nothing to resume
        elif job.resumable and state.exists():
            code, err = _run(job.argv(out, resume=True))
        else:
            row["fresh"] += int(job.resumable and killed)
            code, err = _run(job.argv(out))
        problem = None if code == 0 else f"exit {code}: {err.strip().splitlines()[-1] if err.strip() else ''}"
        problem = problem or _complete(job, out)
        if problem:
            row["lost"] += 1
            row["problems"].append(f"kill {i} after {delay:.1f} s: {problem}")
        elif _model_files(out, job.files) == reference:
            row["identical"] += killed
        else:
            row["problems"].append(f"kill {i} after {delay:.1f} s: files differ from the reference")
        left = _leftovers(out)
        if left:
            row["leftovers"] += 1
            row["problems"].append(f"kill {i}: leftovers {left}")
        log(f"{job.name}: kill {i} after {delay:.1f} s of {ref_seconds:.1f}: "
            f"{'ok' if not problem and not left else problem or left}")
        shutil.rmtree(out, ignore_errors=True)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=12, help="kills per command")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--minutes", type=float, default=None, help="stop starting kills after this much time in all")
    ap.add_argument("--only", default=None, help="comma-separated subset: fit,nerf,functa-train,functa-encode")
    a = ap.parse_args(argv)
    import torch

    rng = random.Random(a.seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="inrkit-kills-") as tmp:
        work = Path(tmp)
        code, err = _run(["nerf", "scene", "--out", work / "scene", "--size", "16", "--train", "4", "--val", "1",
                          "--test", "1"])
        assert code == 0, err
        functa_args = ["functa", "train", "digits", "--latent-dims", "4,8", "--steps", "20", "--width", "16",
                       "--depth", "1", "--batch-size", "8", "--eval-items", "10", "--device", "cpu", "--quiet"]
        code, err = _run([*functa_args, "--out", work / "functa_ckpt", "--snapshot-minutes", "0"])
        assert code == 0, err
        jobs = {
            "fit": Job("fit", ["fit", "camera", "--size", "16", "--steps", "60", "--width", "16", "--depth", "1",
                               "--device", "cpu", "--quiet"], ["model.safetensors"]),
            "nerf": Job("nerf train", ["nerf", "train", work / "scene", "--preset", "fast-tiny", "--steps", "30",
                                       "--batch-rays", "64", "--eval-views", "1", "--minutes", "30", "--device", "cpu",
                                       "--quiet"], ["model.safetensors"]),
            "functa-train": Job("functa train", functa_args, ["model_z*.safetensors"]),
            "functa-encode": Job("functa encode", ["functa", "encode", work / "functa_ckpt" / "model_z8", "digits",
                                                   "--shard-size", "200", "--device", "cpu", "--quiet"],
                                 ["shard_*.safetensors", "manifest.json"], resumable=False, folder_is_run=False),
        }
        chosen = a.only.split(",") if a.only else list(jobs)
        total = (a.minutes or 1e9) * 60.0
        rows = []
        for k, name in enumerate(chosen):  # an equal share of the time left for each command
            share = (total - (time.perf_counter() - start)) / (len(chosen) - k)
            rows.append(campaign(jobs[name], work, a.kills, rng, time.perf_counter() + share,
                                 lambda s: print(s, file=sys.stderr, flush=True)))
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, CPU, torch {torch.__version__}, "
          f"Python {platform.python_version()}, load average {load[0]:.1f} at the end; seed {a.seed}; "
          f"{(time.perf_counter() - start) / 60:.1f} min in all")
    print("| command | kills | lost or corrupt runs | resumed byte-identical | temp leftovers | "
          "killed before a snapshot (run afresh) | reference s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['command']} | {r['kills']} | {r['lost']} | {r['identical']} of {r['kills']} | {r['leftovers']} | "
              f"{r['fresh']} | {r['ref_seconds']:.1f} |")
    kills = sum(r["kills"] for r in rows)
    print(f"total: {kills} kills, {sum(r['lost'] for r in rows)} lost or corrupt, "
          f"{sum(r['identical'] for r in rows)} byte-identical, {sum(r['leftovers'] for r in rows)} with leftovers"
          + (f" ({sum(r['finished_before_kill'] for r in rows)} runs had finished before their kill)"
             if any(r["finished_before_kill"] for r in rows) else ""))
    for r in rows:
        for problem in r["problems"]:
            print(f"{r['command']}: {problem}")
    return 0 if all(not r["problems"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
