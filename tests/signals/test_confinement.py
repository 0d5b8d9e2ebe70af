"""Paths read from a dataset file stay inside the dataset folder and name regular files (issue 13):
``../`` escapes, absolute paths, links out, devices, /proc files and FIFOs are refused with one line,
before anything is opened, and ``nerf train`` writes nothing."""

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import run_cli
from inrkit.errors import InrkitError
from inrkit.signals.multiview import load_posed_images
from inrkit.signals.scene import write_scene


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return write_scene(tmp_path_factory.mktemp("scene") / "s", size=8, train=2, val=1, test=1)


def _hostile(tmp_path: Path, scene: Path, kind: str) -> Path:
    """A copy of the scene whose first training frame is ``kind``; a readable PNG lies outside it."""
    d = tmp_path / "data"
    shutil.copytree(scene, d)
    outside = tmp_path / "outside.png"
    shutil.copy(scene / "train" / "r_0.png", outside)
    frame = {
        "escape": "../outside.png",
        "deep-escape": "train/../../outside.png",
        "absolute": str(outside),
        "dev-zero": "/dev/zero",
        "proc": "/proc/self/environ",
    }.get(kind)
    if kind == "symlink-out":
        os.symlink(outside, d / "train" / "link.png")
        frame = "train/link.png"
    elif kind == "symlink-dev":
        os.symlink("/dev/zero", d / "train" / "zero.png")
        frame = "train/zero.png"
    elif kind == "fifo":
        os.mkfifo(d / "train" / "pipe.png")
        frame = "train/pipe.png"
    elif kind == "folder":
        frame = "train"
    m = json.loads((d / "transforms_train.json").read_text())
    m["frames"][0]["file_path"] = frame
    (d / "transforms_train.json").write_text(json.dumps(m))
    return d


KINDS = ["escape", "deep-escape", "absolute", "symlink-out", "symlink-dev", "dev-zero", "proc", "fifo", "folder"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_loader_refuses_each_hostile_path(tmp_path, scene, kind):
    d = _hostile(tmp_path, scene, kind)
    with pytest.raises(InrkitError) as e:
        load_posed_images(d, "train")
    msg = str(e.value)
    assert "\n" not in msg and ("outside the folder" in msg or "absolute" in msg or "not a regular file" in msg), msg


@pytest.mark.parametrize("kind", ["escape", "absolute", "symlink-out", "dev-zero", "fifo"])
def test_nerf_train_refuses_each_hostile_path_and_writes_nothing(tmp_path, scene, kind):
    d = _hostile(tmp_path, scene, kind)
    before = sorted(os.listdir(tmp_path))
    code, out, err = run_cli(["nerf", "train", d, "--preset", "fast-tiny", "--steps", "1", "--minutes", "0.05",
                              "--eval-views", "1", "--device", "cpu", "--quiet", "--out", tmp_path / "o"],
                             timeout=180)  # a FIFO that is opened would block until this timeout
    assert code == 2 and err.count("\n") == 1 and err.startswith("inrkit: error:"), err
    assert sorted(os.listdir(tmp_path)) == before and not (tmp_path / "o").exists()


def test_paths_that_stay_inside_are_read(tmp_path, scene):
    d = tmp_path / "data"
    shutil.copytree(scene, d)
    os.symlink(d / "train" / "r_1.png", d / "train" / "alias.png")  # a link inside the folder is fine
    m = json.loads((d / "transforms_train.json").read_text())
    m["frames"][0]["file_path"] = "./train/../train/r_0"  # no extension, a detour that stays inside
    m["frames"][1]["file_path"] = "train/alias.png"
    (d / "transforms_train.json").write_text(json.dumps(m))
    assert load_posed_images(d, "train").images.shape == (2, 8, 8, 4)


def test_a_dataset_folder_reached_through_a_link_works(tmp_path, scene):
    link = tmp_path / "via_link"
    link.symlink_to(scene)
    assert load_posed_images(link, "train").images.shape[0] == 2


def test_a_transforms_file_linked_from_outside_is_refused(tmp_path, scene):
    d = tmp_path / "data"
    shutil.copytree(scene, d)
    elsewhere = tmp_path / "transforms_train.json"
    shutil.move(d / "transforms_train.json", elsewhere)
    (d / "transforms_train.json").symlink_to(elsewhere)
    with pytest.raises(InrkitError, match="outside the folder"):
        load_posed_images(d, "train")


def test_confined_checks_every_entry_before_opening(tmp_path):
    from inrkit.signals.paths import confined

    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    assert confined(tmp_path, "sub/../a.png") == (tmp_path / "a.png").resolve()
    for bad, msg in ((None, "not a file name"), ("", "not a file name"), (3, "not a file name"),
                     ("a\x00b", "NUL"), ("/etc/passwd", "absolute"), ("../x", "does not exist|outside"),
                     ("sub", "not a regular file"), ("missing.png", "does not exist")):
        with pytest.raises(InrkitError, match=msg):
            confined(tmp_path, bad, "entry")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(InrkitError):
        confined(tmp_path, "loop")


def test_a_file_name_with_a_line_break_is_quoted_on_one_line(tmp_path, scene):
    """Found by the 10,000-case campaign: a frame named "\\n" made the message two lines."""
    d = tmp_path / "data"
    shutil.copytree(scene, d)
    meta = json.loads((d / "transforms_train.json").read_text())
    meta["frames"][0]["file_path"] = "a\nb\x1b[2J"
    (d / "transforms_train.json").write_text(json.dumps(meta))
    with pytest.raises(InrkitError) as info:
        load_posed_images(d)
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)
    assert "a\\nb\\x1b[2J" in str(info.value)
