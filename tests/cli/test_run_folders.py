"""One place for outputs: commands that read a run folder write inside it; folders and files get the
user's umask; a path that is not a run folder is refused in words about the folder and what it holds."""

from __future__ import annotations

import os
import stat

import pytest

from inrkit.cli import main


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    old = os.umask(0o022)
    try:
        assert main(["fit", "camera", "--preset", "tiny", "--size", "12", "--steps", "2", "--quiet",
                     "--out", str(base / "demo")]) == 0
    finally:
        os.umask(old)
    return base / "demo"


def test_run_folders_and_files_follow_the_umask(run_folder):
    assert stat.S_IMODE(run_folder.stat().st_mode) == 0o755
    for p in run_folder.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == (0o755 if p.is_dir() else 0o644), p


def test_render_writes_inside_the_run_folder(run_folder, capsys):
    assert main(["render", str(run_folder), "--scale", "2", "--quiet"]) == 0
    out = run_folder / "renders" / "image-24x24.png"
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert main(["render", str(run_folder / "model.json"), "--what", "laplacian", "--quiet"]) == 0
    assert (run_folder / "renders" / "laplacian-12x12.png").is_file()


@pytest.mark.parametrize("layout, needle", [
    ({"model_z32.json": "{}", "model_z32.safetensors": "", "model_z64.json": "{}", "model_z64.safetensors": ""},
     "its checkpoints are model_z32, model_z64"),
    ({"siren/model.json": "{}", "relu/model.json": "{}", "report.html": ""},
     "one run per architecture (relu/, siren/)"),
    ({"notes.txt": "", "pics/a.png": ""}, "it holds notes.txt, pics/"),
    ({}, "it is empty"),
])
def test_folder_errors_say_what_the_folder_holds(tmp_path, capsys, layout, needle):
    folder = tmp_path / "run"
    folder.mkdir()
    for name, text in layout.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    for argv in (["render", str(folder)], ["nerf", "eval", str(folder), "builtin"],
                 ["nerf", "render", str(folder), "--orbit"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"the folder {folder}" in err and needle in err, err
    assert sorted(p.name for p in folder.iterdir()) == sorted({n.split("/")[0] for n in layout})  # nothing written


def test_a_missing_checkpoint_names_its_folder(tmp_path, capsys):
    (tmp_path / "a.png").write_text("")
    assert main(["render", str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert f"no run folder or checkpoint named {tmp_path / 'x.safetensors'}" in err and "a.png" in err
