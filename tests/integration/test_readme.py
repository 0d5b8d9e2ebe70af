"""Every ``inrkit`` command line in the README's bash blocks runs, with reduced sizes, so README and
code cannot drift.

Each line is taken as written (its comment removed); size options are appended after it (argparse
keeps the last value), input files the README assumes (``photo.png``, ``back.png``, ...) are made
in a temporary folder, ``...`` placeholders become the run folders the earlier lines wrote, and the
two large datasets are swapped for small ones: ``mnist`` -> ``digits`` (scikit-learn's 8x8 digits),
the built-in NeRF scene and ``~/data/nerf_synthetic/lego`` -> a 16 px scene written by ``nerf scene``.
``inrkit view`` (it serves until Ctrl-C) and ``--view`` are only parsed; a README command of a group
this test does not know fails ``test_the_readme_has_the_commands``: add its reduced options to ``SMALL``.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import time
import shlex
from pathlib import Path

import numpy as np

from inrkit.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]

INSP_SMALL = ["--size", "16", "--field-width", "8", "--field-depth", "1", "--field-steps", "2", "--pi-width", "8",
              "--pi-depth", "0", "--pi-steps", "2", "--pi-batch", "64", "--train-images", "astronaut",
              "--test-images", "camera"]

SMALL = {  # appended to each command: the README's line with reduced sizes
    "fit": ["--size", "16", "--steps", "2", "--log-every", "1", "--quiet"],
    "compare": ["--size", "16", "--steps", "2", "--archs", "relu,siren", "--quiet"],
    "render": ["--quiet"],
    "poisson": ["--size", "16", "--steps", "2", "--width", "16", "--archs", "siren", "--quiet"],
    "blend": ["--size", "16", "--steps", "2", "--width", "16", "--quiet"],
    "integrate": ["--steps", "2", "--width", "16", "--quiet"],
    "functa train": ["--steps", "2", "--eval-items", "10", "--width", "16", "--depth", "1", "--batch-size", "8",
                     "--quiet"],
    "functa encode": ["--quiet"],
    "functa classify": ["--epochs", "1", "--quiet"],
    "functa sample": ["--epochs", "1", "--samples", "2", "--pairs", "1", "--steps", "2", "--couplings", "2",
                      "--hidden", "8", "--quiet"],
    "nerf train": ["--preset", "fast-tiny", "--steps", "3", "--eval-views", "1", "--batch-rays", "64",
                   "--snapshot-minutes", "0", "--quiet"],
    "nerf eval": ["--limit", "1", "--quiet"],
    "nerf render": ["--frames", "2", "--size", "16", "--quiet"],
    "nerf mesh": ["--resolution", "8", "--quiet"],
    "nerf scene": ["--size", "16", "--train", "4", "--val", "1", "--test", "1"],
    "fit audio": ["--steps", "2", "--quiet"],
    "fit video": ["--steps", "2", "--quiet"],
    "fit volume": ["--steps", "2", "--quiet"],
    "render audio": ["--quiet"],
    "render video": ["--quiet"],
    "render volume": ["--quiet"],
    "compress": ["--preset", "tiny", "--size", "16", "--steps", "6", "--quiet"],
    "decompress": [],
    "compress-bench": ["--images", "camera", "--preset", "tiny", "--lambdas", "0.01", "--size", "16", "--seconds",
                       "0.3", "--quiet"],
    "insp train": [*INSP_SMALL, "--order", "2", "--quiet"],
    "insp apply": [],
    "insp bench": [*INSP_SMALL, "--tasks", "blur", "--orders", "0,2", "--upscale", "1", "--quiet"],
    "insp classify": ["--train-per-class", "2", "--test-per-class", "1", "--field-steps", "2", "--channels", "2,2",
                      "--epochs", "1", "--weight-epochs", "1", "--seeds", "0", "--readouts", "gap", "--quiet"],
    "ct": ["--size", "24", "--steps", "3", "--width", "8", "--features", "8", "--rays", "64", "--sart-iterations", "1",
           "--quiet"],
    "mri": ["--size", "16", "--steps", "3", "--width", "8", "--features", "8", "--tv-iterations", "2", "--quiet"],
    "shape sdf": ["--steps", "40", "--width", "16", "--batch", "256", "--resolution", "12", "--quiet"],
    "shape occupancy": ["--steps", "40", "--width", "16", "--features", "16", "--batch", "256", "--resolution", "12",
                        "--quiet"],
    "pde list": [],
    "pde solve": ["--width", "8", "--layers", "1", "--points", "32", "--adam-steps", "3", "--lbfgs-steps", "2",
                  "--quiet"],
    "fit-many": ["--items", "4", "--steps", "3", "--width", "8", "--depth", "1", "--quiet"],
}
PARSED_ONLY = {"view"}
"""``inrkit view`` serves until Ctrl-C (tests/view covers it): its lines, and ``--view``, are parsed only."""
KIND_OF = {".wav": "audio", ".mp4": "video", ".gz": "volume", "speech": "audio", "clip": "video", "head": "volume"}
"""Other signal kinds: the file's suffix (fit) or the run folder's name (render) picks the reduced options."""
RENDER_SIZE = {"800": "40", "600": "30", "1024": "24", "512": "24"}  # render / decompress / insp apply --size W H


def readme_commands() -> list[str]:
    """The ``inrkit ...`` lines of the README's bash blocks, comments removed, in order."""
    text = (ROOT / "README.md").read_text()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("inrkit "):
                lines.append(line)
    return lines


def _key(argv: list[str]) -> str:
    if argv[0] in ("fit", "render") and len(argv) > 1:
        word = argv[1]
        kind = KIND_OF.get(Path(word).suffix) or next((k for n, k in KIND_OF.items() if f"/{n}-" in word), None)
        if kind:
            return f"{argv[0]} {kind}"
    return " ".join(argv[:2]) if argv[0] in ("functa", "nerf", "insp", "shape", "pde") else argv[0]


def test_the_readme_has_the_commands():
    keys = {_key(shlex.split(c)[1:]) for c in readme_commands()}
    assert set(SMALL) <= keys, set(SMALL) - keys
    assert keys <= set(SMALL) | PARSED_ONLY, f"README commands no test runs: {keys - set(SMALL) - PARSED_ONLY}"


def _inputs(folder: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("photo.png", "back.png", "obj.png"):
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(folder / name)
    mask = np.zeros((24, 32), np.uint8)
    mask[8:16, 10:20] = 255
    Image.fromarray(mask).save(folder / "m.png")
    y, x = np.mgrid[0:12, 0:12].astype(np.float64)
    np.save(folder / "grad.npy", np.stack([np.cos(x / 3), -np.sin(y / 4)], -1))
    import nibabel

    from inrkit.signals.audio import write_wav
    from inrkit.signals.video import write_video

    t = np.arange(800) / 8000.0
    write_wav(folder / "speech.wav", (0.5 * np.sin(2 * np.pi * 220 * t))[:, None], 8000)
    write_video(folder / "clip.mp4", (rng.integers(0, 255, (8, 12, 3), dtype=np.uint8) for _ in range(45)), 25)
    vol = rng.random((6, 7, 5)).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(vol, np.diag([1.0, 1.0, 2.0, 1.0])), str(folder / "head.nii.gz"))
    # ct sino.npz: a sinogram (detectors x views) and its angles in degrees, of a small disc
    from skimage.transform import radon

    yy, xx = np.mgrid[-1:1:24j, -1:1:24j]
    theta = np.linspace(0.0, 180.0, 8, endpoint=False)
    np.savez(folder / "sino.npz", sinogram=radon(((xx - 0.2) ** 2 + yy ** 2 < 0.3).astype(np.float64), theta,
                                                 circle=True), theta=theta)
    # mri scan.nii.gz: a volume whose middle slice is fitted
    scan = np.zeros((16, 16, 3), np.float32)
    scan[4:12, 5:11, :] = 1.0
    nibabel.save(nibabel.Nifti1Image(scan, np.eye(4)), str(folder / "scan.nii.gz"))
    # shape sdf bunny.ply: a small closed mesh (an icosphere stands in for the Stanford bunny)
    import trimesh

    trimesh.creation.icosphere(subdivisions=1).export(folder / "bunny.ply")


def _newest(pattern: str) -> str:
    found = sorted(glob.glob(pattern))
    assert found, f"no run folder matches {pattern}"
    return found[-1]


def _substitute(argv: list[str], scene: str) -> list[str]:
    out = []
    for word in argv:
        if word == "mnist":
            word = "digits"
        elif word in ("builtin", "~/data/nerf_synthetic/lego"):
            word = scene
        elif "..." in word:
            head, tail = word.split("...", 1)
            word = _newest(head + "*") + tail
        out.append(word)
    return out


def test_every_readme_command_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INRKIT_CACHE", str(tmp_path / "cache"))  # nothing is rendered into the user's cache
    _inputs(tmp_path)
    scene = str(tmp_path / "scene16")
    assert main(["nerf", "scene", "--out", scene, *SMALL["nerf scene"]]) == 0
    assert main(["fit", "camera", "--out", "runs/demo", *SMALL["fit"]]) == 0  # what `make demo` writes
    ran = []
    for line in readme_commands():
        argv = shlex.split(line)[1:]
        key = _key(argv)
        if key in PARSED_ONLY or "--view" in argv:  # serves until Ctrl-C: tests/view covers it
            build_parser().parse_args(argv)  # it must parse as written
            continue
        argv = _substitute(argv, scene)
        if key in ("render", "decompress", "insp apply") and "--size" in argv:
            argv = [RENDER_SIZE.get(w, w) for w in argv]
        t0 = time.perf_counter()
        code = main([*argv, *SMALL[key]])
        err = capsys.readouterr().err
        if os.environ.get("INRKIT_TEST_TIMES"):
            print(f"{time.perf_counter() - t0:6.1f} s  {line}", file=sys.__stderr__)
        # a few steps may leave a density / distance that crosses no level: the mesh step refuses in its one line
        assert code == 0 or (key in ("nerf mesh", "shape sdf", "shape occupancy") and code == 2
                             and "does not cross" in err), (line, err)
        ran.append(key)
    assert set(ran) == set(SMALL), set(SMALL) - set(ran)
    assert (tmp_path / "runs" / "demo" / "renders").is_dir()  # render writes inside the run folder
    assert not (tmp_path / "cache").exists()
