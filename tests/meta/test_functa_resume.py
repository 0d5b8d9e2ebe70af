"""``functa train --resume``: a run killed (SIGKILL) during its second latent size, resumed, ends
with model files byte-identical to a run never interrupted; finished sizes are not retrained."""

import json
import signal
import subprocess
import sys
import time

from inrkit.apps.image import state_folder
from conftest import run_cli

COMMON = ["functa", "train", "digits", "--latent-dims", "4,8", "--steps", "24", "--width", "16", "--depth", "1",
          "--batch-size", "8", "--eval-items", "10", "--device", "cpu", "--quiet"]


def _cli(args):
    return subprocess.Popen([sys.executable, "-m", "inrkit", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_functa_train_killed_in_its_second_size_then_resumed_is_byte_identical(tmp_path):
    code, _, err = run_cli([*COMMON, "--out", tmp_path / "ref"], timeout=600)
    assert code == 0, err
    out = tmp_path / "run"
    sdir = state_folder(out)
    p = _cli([*COMMON, "--out", out, "--snapshot-minutes", "0.0001"])
    state = sdir / "z8" / "current" / "state.json"
    t0 = time.time()
    while not (state.exists() and json.loads(state.read_text())["state"]) and time.time() - t0 < 300:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not out.exists(), "the kill came too late to test anything"
    assert (sdir / "z4.done" / "model.safetensors").is_file() and (sdir / "z4.done" / "record.json").is_file()
    code, _, err = run_cli([*COMMON, "--out", out, "--resume"], timeout=600)
    assert code == 0, err
    for d in (4, 8):
        name = f"model_z{d}.safetensors"
        assert (out / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name
    ref, got = (json.loads((p / "metrics.json").read_text())["runs"] for p in (tmp_path / "ref", out))
    for a, b in zip(ref, got):
        assert a["heldout_psnr"] == b["heldout_psnr"] and a["steps_done"] == b["steps_done"] == 24
        assert [h["step"] for h in a["history"]] == [h["step"] for h in b["history"]]
        assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    assert not sdir.exists()  # removed once the run folder is written
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".")], list(tmp_path.iterdir())


def test_functa_resume_refuses_another_run_or_nothing(tmp_path):
    out = tmp_path / "run"
    code, _, err = run_cli([*COMMON, "--out", out, "--resume"])
    assert code == 2 and "no training state" in err and err.count("\n") == 1 and not out.exists()
    sdir = state_folder(out)
    sdir.mkdir()
    (sdir / "run.json").write_text(json.dumps({"task": "functa", "latent_dims": [4, 8]}))
    code, _, err = run_cli([*COMMON, "--out", out, "--resume"])
    assert code == 2 and "belongs to another run" in err and err.count("\n") == 1 and not out.exists()
