"""Run folders cannot lose data: only inrkit's folders are replaced, the swap survives a kill, leftovers
of killed runs are repaired, and an unusable output folder is refused before any work (issue 13)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli
from inrkit.errors import InrkitError
from inrkit.report import rundir


def _run(path: Path, text: str, overwrite: bool = False) -> rundir.RunDir:
    rd = rundir.RunDir(path, overwrite)
    with rd as tmp:
        (tmp / "result.txt").write_text(text)
    return rd


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _siblings(path: Path) -> list[str]:
    return sorted(n for n in os.listdir(path.parent) if n.startswith(f".{path.name}."))


# ---- what may be replaced --------------------------------------------------------------------

def test_a_run_folder_carries_the_marker_and_can_be_replaced(tmp_path):
    out = tmp_path / "run"
    _run(out, "one")
    marker = json.loads((out / rundir.MARKER).read_text())
    assert marker["format"] == "inrkit-run" and "inrkit_version" in marker and marker["kind"]
    with pytest.raises(InrkitError, match="already exists"):
        rundir.RunDir(out)
    _run(out, "two", overwrite=True)
    assert (out / "result.txt").read_text() == "two" and _siblings(out) == []


def test_overwrite_refuses_a_folder_inrkit_did_not_write(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "important.txt").write_text("keep me")
    with pytest.raises(InrkitError, match="not written by inrkit; refusing to replace it") as e:
        rundir.RunDir(precious, overwrite=True)
    assert "\n" not in str(e.value) and "--" not in str(e.value)  # one line, no flag names in library code
    assert (precious / "important.txt").read_text() == "keep me" and _siblings(precious) == []


def test_overwrite_through_the_command_line_keeps_important_txt(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "important.txt").write_text("keep me")
    code, _, err = run_cli(["fit", "camera", "--out", precious, "--overwrite", "--size", "8", "--steps", "1",
                            "--quiet", "--device", "cpu"])
    assert code == 2 and err.count("\n") == 1 and "not written by inrkit" in err, err
    assert os.listdir(precious) == ["important.txt"] and _siblings(precious) == []


@pytest.mark.parametrize("signature", [
    ("metrics.json", {"inrkit_version": "0.0.1", "psnr": 30}),
    ("model.json", {"format": "inrkit-checkpoint", "format_version": 1}),
    ("manifest.json", {"format": "inrkit-functaset", "items": 3}),
])
def test_runs_written_before_the_marker_count_as_inrkits(tmp_path, signature):
    out = tmp_path / "old_run"
    out.mkdir()
    (out / signature[0]).write_text(json.dumps(signature[1]))
    _run(out, "new", overwrite=True)
    assert (out / "result.txt").read_text() == "new" and (out / rundir.MARKER).is_file()


def test_a_fake_signature_that_is_a_fifo_is_not_read(tmp_path):
    out = tmp_path / "odd"
    out.mkdir()
    os.mkfifo(out / "metrics.json")  # reading it would block forever
    with pytest.raises(InrkitError, match="not written by inrkit"):
        rundir.RunDir(out, overwrite=True)


@pytest.mark.parametrize("where", [".", "..", "/", "home", "file", "link"])
def test_places_that_are_never_a_run_folder(tmp_path, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "file").write_text("data")
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    out = {"home": tmp_path / "home"}.get(where, Path(where))
    before = sorted(os.listdir(tmp_path))
    for call in (lambda: rundir.RunDir(out, overwrite=True), lambda: rundir.check_output(out, overwrite=True)):
        with pytest.raises(InrkitError) as e:
            call()
        assert "\n" not in str(e.value)
    assert sorted(os.listdir(tmp_path)) == before and (tmp_path / "file").read_text() == "data"


def test_out_dot_through_the_command_line_is_one_line_and_leaves_nothing(tmp_path):
    code, out, err = run_cli(["fit", "camera", "--out", ".", "--overwrite", "--size", "8", "--steps", "1",
                              "--quiet", "--device", "cpu"], cwd=tmp_path)
    assert code == 2 and err.count("\n") == 1 and err.startswith("inrkit: error:") and "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_a_file_at_out_is_refused_and_kept(tmp_path):
    f = tmp_path / "notes"
    f.write_text("mine")
    with pytest.raises(InrkitError, match="not a folder"):
        rundir.check_output(f, overwrite=True)
    code, _, err = run_cli(["fit", "camera", "--out", f, "--overwrite", "--size", "8", "--steps", "1", "--quiet",
                            "--device", "cpu"])
    assert code == 2 and err.count("\n") == 1 and "not a folder" in err
    assert f.read_text() == "mine" and sorted(os.listdir(tmp_path)) == ["notes"]


# ---- the swap survives a kill ------------------------------------------------------------------

def test_a_failure_between_the_two_renames_rolls_back(tmp_path, monkeypatch):
    out = tmp_path / "run"
    _run(out, "old")
    real, calls = os.replace, []

    def flaky(src, dst):  # the second rename of the swap fails once
        calls.append(Path(src))
        if Path(src).name.startswith(f".{out.name}.tmp-") and len([c for c in calls if c.name.startswith(
                f".{out.name}.tmp-")]) == 1:
            raise OSError("disk hiccup")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OSError, match="hiccup"):
        _run(out, "new", overwrite=True)
    monkeypatch.setattr(os, "replace", real)
    assert (out / "result.txt").read_text() == "old"


def test_a_kill_between_the_two_renames_leaves_the_old_run_which_the_next_run_recovers(tmp_path, monkeypatch):
    out = tmp_path / "run"
    _run(out, "old")
    real, state = os.replace, {"moved": False}

    def killed(src, dst):  # after the old run is moved aside, every rename fails: the process "dies"
        if state["moved"]:
            raise OSError("killed")
        if Path(src) == out:
            state["moved"] = True
        return real(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(OSError, match="killed"):
        _run(out, "new", overwrite=True)
    monkeypatch.setattr(os, "replace", real)
    assert not out.exists()
    old = [n for n in _siblings(out) if ".old-" in n]
    assert len(old) == 1 and (tmp_path / old[0] / "result.txt").read_text() == "old"  # recoverable

    monkeypatch.setattr(rundir, "_alive", lambda pid: False)  # the process that left them is gone
    rd = rundir.RunDir(out, overwrite=True)
    assert (out / "result.txt").read_text() == "old" and len(rd.recovered) == 1
    assert _siblings(out) == [] and any("put back" in n for n in rd.notices)


def test_a_real_kill_between_the_renames_is_recovered_by_the_preflight(tmp_path):
    out = tmp_path / "run"
    _run(out, "old")
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from inrkit.report import rundir
        out, real = Path({str(out)!r}), os.replace
        def die_after_first_rename(src, dst):
            real(src, dst)
            if Path(src) == out:
                os._exit(9)
        os.replace = die_after_first_rename
        with rundir.RunDir(out, overwrite=True) as tmp:
            (tmp / "result.txt").write_text("new")
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert p.returncode == 9, p.stderr
    assert not out.exists() and any(".old-" in n for n in _siblings(out))
    notes = rundir.check_output(out, overwrite=True)
    assert (out / "result.txt").read_text() == "old" and _siblings(out) == []
    assert any("put back" in n for n in notes) and all("\n" not in n for n in notes)


def test_leftovers_of_dead_processes_are_cleaned_and_live_ones_kept(tmp_path):
    out = tmp_path / "run"
    _run(out, "current")
    dead = _dead_pid()
    for name in (f".run.tmp-{dead}-abcd1234", f".run.old-{dead}", f".run.old-{dead}-0a1b2c3d"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "half.bin").write_bytes(b"x" * 10)
    live = tmp_path / f".run.tmp-{os.getpid()}-live"
    live.mkdir()
    rd = rundir.RunDir(out, overwrite=True)
    assert sorted(p.name for p in rd.cleaned) == sorted([f".run.tmp-{dead}-abcd1234", f".run.old-{dead}",
                                                         f".run.old-{dead}-0a1b2c3d"])
    assert _siblings(out) == [live.name] and (out / "result.txt").read_text() == "current"
    assert all("deleted" in n for n in rd.notices)


def test_a_complete_temporary_folder_of_a_dead_process_is_swapped_in_when_nothing_else_is_there(tmp_path):
    out = tmp_path / "run"
    tmp = tmp_path / f".run.tmp-{_dead_pid()}-zz"
    tmp.mkdir()
    (tmp / "result.txt").write_text("finished")
    rundir.write_marker(tmp)
    incomplete = tmp_path / f".run.tmp-{_dead_pid()}-yy"  # no marker: never finished
    incomplete.mkdir()
    rd = rundir.RunDir(out, overwrite=True)
    assert (out / "result.txt").read_text() == "finished" and rd.recovered == [tmp] and rd.cleaned == [incomplete]


# ---- the preflight -------------------------------------------------------------------------------

def test_preflight_creates_nothing_and_accepts_a_new_nested_folder(tmp_path):
    assert rundir.check_output(tmp_path / "a" / "b" / "run") == []
    assert os.listdir(tmp_path) == []


def test_preflight_refuses_an_unwritable_parent_chmod(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip("running as root: chmod does not stop writes")
        with pytest.raises(InrkitError, match="cannot write in"):
            rundir.check_output(parent / "run")
        with pytest.raises(InrkitError, match="cannot"):
            rundir.check_output(parent / "deeper" / "run")
        with pytest.raises(InrkitError, match="cannot write in"):
            rundir.check_writable(parent / "functaset")
    finally:
        parent.chmod(0o700)


def test_preflight_refuses_a_parent_that_cannot_hold_files(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InrkitError, match="cannot"):
        rundir.check_output(tmp_path / "file" / "run")
    with pytest.raises(InrkitError, match="not a folder"):
        rundir.check_writable(tmp_path / "file")
    if Path("/proc/self").is_dir():  # unwritable even for root
        with pytest.raises(InrkitError, match="cannot write in"):
            rundir.check_output("/proc/self/inrkit-run")
    assert os.listdir(tmp_path) == ["file"]


def test_an_unwritable_out_fails_before_training(tmp_path):
    (tmp_path / "file").write_text("x")
    # a million steps would take hours: the error must come from the preflight, not after the training
    code, _, err = run_cli(["fit", "camera", "--out", tmp_path / "file" / "run", "--size", "8", "--steps",
                            "100000000", "--quiet", "--device", "cpu"], timeout=120)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and "cannot" in err, err
