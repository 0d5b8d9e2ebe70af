"""Fuzz every loader of a user's file (not the checkpoint: see fuzz_checkpoint.py): each case loads or is refused in one line.

    python benchmarks/fuzz_loaders.py --cases 10000 --seed 0

Loaders: ``images`` (``inrkit.signals.io.load_image``: PNG, JPEG, TIFF, BMP, GIF, WebP in every
mode, truncated, bytes flipped, huge declared dimensions, other modes, bombs), ``gradients``
(``inrkit.apps.edit.load_gradient_field``: ``.npy`` headers with other shapes, dtypes, fortran
order, huge sizes, cut data, pickled object arrays whose payload would write a file), ``masks``
(``load_mask``), ``nerf`` (``inrkit.signals.multiview.load_posed_images`` on a 4-view scene with
mutated ``transforms_*.json`` or ``transforms.json``: random values at random keys, type swaps,
deletions, deep nesting, huge numbers, hostile file paths, links out, FIFOs), ``functaset``
(``inrkit.apps.functa.load_functaset``: mutated ``manifest.json`` and shards) and
``collections`` (``inrkit.signals.collections.load_collection`` on a folder of images). The
mutators and the guarded call live in ``tests/fuzz/fuzzkit.py``, shared with the property tests.

Per loader, one worker process runs the cases; each is timed, its peak RSS growth measured
(reset before each case through /proc/self/clear_refs) and every file it opens recorded (Python's
audit hook): a read or a write outside the case's folder is a failure. A worker that stops
answering for ``--kill-after`` seconds (a loop inside C code) is killed, the case counted as a
hang, and a new worker continues with the next case. Tracebacks of the first uncaught exceptions
go to ``--failures``. Seeded: the same arguments give the same cases.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "fuzz"))

LOADERS = ["images", "gradients", "masks", "nerf", "functaset", "collections"]


def worker(name: str, start: int, stop: int, seed: int) -> None:
    import torch

    import fuzzkit

    torch.set_num_threads(1)
    target = fuzzkit.TARGETS[name]
    root = Path(tempfile.mkdtemp(prefix=f"inrkit-fuzz-{name}-"))
    state = target.setup(root)
    print(json.dumps({"ready": True}), flush=True)
    for i in range(start, stop):
        o = fuzzkit.run_one(target, state, seed * 10_000_000 + i, root)
        print(json.dumps({"i": i, "kind": o.kind, "seconds": o.seconds, "peak_kb": o.peak_kb,
                          "message": o.message[:300], "traceback": o.traceback[-4000:], "outside": o.outside[:3]}),
              flush=True)


def campaign(name: str, cases: int, seed: int, kill_after: float) -> dict:
    """Run ``cases`` cases of loader ``name`` in worker processes; returns the tallies."""
    r = {"tried": 0, "accepted": 0, "refused": 0, "uncaught": 0, "multiline": 0, "hangs": 0, "outside": 0,
         "slow_accepted": 0, "over_memory": 0, "max_refusal_s": 0.0, "max_refusal_kb": 0, "max_s": 0.0,
         "max_kb": 0, "types": {}, "failures": [], "seconds": 0.0}
    t_all = time.perf_counter()
    i = 0
    while i < cases:
        p = subprocess.Popen([sys.executable, __file__, "--worker", name, "--start", str(i), "--stop", str(cases),
                              "--seed", str(seed)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"})
        ready = False
        while True:
            wait = 600 if not ready else kill_after
            rl, _, _ = select.select([p.stdout], [], [], wait)
            line = p.stdout.readline() if rl else None
            if line is None:  # silent past the limit: a hang inside C code
                p.kill()
                p.wait()
                r["tried"] += 1
                r["hangs"] += 1
                r["failures"].append(f"{name} case {i}: killed after {kill_after:.0f} s")
                i += 1
                break
            if not line:  # the worker ended (all cases, or it crashed)
                p.wait()
                if i < cases:
                    r["tried"] += 1
                    r["uncaught"] += 1
                    r["types"]["worker crashed"] = r["types"].get("worker crashed", 0) + 1
                    r["failures"].append(f"{name} case {i}: the worker process died (exit code {p.returncode})")
                    i += 1
                break
            d = json.loads(line)
            if d.get("ready"):
                ready = True
                continue
            i = d["i"] + 1
            r["tried"] += 1
            kind, s, kb = d["kind"], d["seconds"], d["peak_kb"]
            r["max_s"], r["max_kb"] = max(r["max_s"], s), max(r["max_kb"], kb)
            if kind in ("refused", "multiline"):
                r["max_refusal_s"], r["max_refusal_kb"] = max(r["max_refusal_s"], s), max(r["max_refusal_kb"], kb)
            if kind == "accepted":
                r["accepted"] += 1
                r["slow_accepted"] += s > 2.0
            elif kind == "refused":
                r["refused"] += 1
            elif kind == "multiline":
                r["multiline"] += 1
            elif kind == "hang":
                r["hangs"] += 1
            else:
                r["uncaught"] += 1
                t = d["message"].split(":")[0]
                r["types"][t] = r["types"].get(t, 0) + 1
            bad = kind in ("uncaught", "multiline", "hang") or d["outside"] or (
                kind != "accepted" and (s > 2.0 or kb > 100 * 1024))
            if kind != "accepted" and s > 2.0 and kind != "hang":
                r["hangs"] += 1
            if kind != "accepted" and kb > 100 * 1024:
                r["over_memory"] += 1
            if d["outside"]:
                r["outside"] += 1
            if bad and len(r["failures"]) < 200:
                r["failures"].append(f"{name} case {d['i']} (seed {seed}): {kind} in {s:.2f} s, +{kb / 1024:.1f} MiB"
                                     f"{', outside: ' + str(d['outside']) if d['outside'] else ''}: {d['message']}\n"
                                     f"{d['traceback']}")
    r["seconds"] = time.perf_counter() - t_all
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000, help="cases per loader")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loaders", default=",".join(LOADERS), help=f"comma-separated, of {', '.join(LOADERS)}")
    ap.add_argument("--kill-after", type=float, default=60.0, help="seconds a case may run before its worker is killed")
    ap.add_argument("--failures", default=str(Path(tempfile.gettempdir()) / "inrkit-fuzz-loaders-failures.txt"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.start, a.stop, a.seed)
        return
    import numpy
    import PIL
    import torch

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"torch {torch.__version__}, numpy {numpy.__version__}, Pillow {PIL.__version__}; "
          f"{a.cases} cases per loader, seed {a.seed}")
    print("loader      | tried | accepted | refused (one line) | uncaught | multi-line | hangs > 2 s | outside the folder "
          "| refusals > 100 MiB | slowest refusal | largest peak RSS of a refusal | seconds")
    failures = []
    for name in a.loaders.split(","):
        r = campaign(name, a.cases, a.seed, a.kill_after)
        types = f" {r['types']}" if r["types"] else ""
        print(f"{name:11} | {r['tried']} | {r['accepted']} | {r['refused']} | {r['uncaught']}{types} | {r['multiline']} "
              f"| {r['hangs']} | {r['outside']} | {r['over_memory']} | {r['max_refusal_s'] * 1000:.0f} ms "
              f"| {r['max_refusal_kb'] / 1024:.1f} MiB | {r['seconds']:.0f}"
              + (f" (accepted but > 2 s: {r['slow_accepted']})" if r["slow_accepted"] else ""), flush=True)
        failures += r["failures"]
    Path(a.failures).write_text("\n".join(failures) + "\n")
    print(f"failures ({len(failures)}, the first 200 per loader with tracebacks): {a.failures}")


if __name__ == "__main__":
    main()
