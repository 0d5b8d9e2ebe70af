"""Ctrl-C during training saves what was learnt, says so, exits 130 and can be resumed."""

import json
import signal
import subprocess
import sys
import time

import torch

from inrkit.apps.image import state_folder
from inrkit.config import FieldConfig, build_field
from inrkit.objectives import Reconstruction
from inrkit.signals.sampling import PointSampler
from inrkit.train import Callback, fit

from conftest import interruptible


class CtrlC(Callback):
    def after_step(self, state):
        if state.step == 4:
            raise KeyboardInterrupt


def test_keyboard_interrupt_ends_the_loop_with_a_result():
    x = torch.rand(32, 2) * 2 - 1
    f = build_field(FieldConfig(arch="siren", width=16, hidden_layers=1), 2, 1, 8)
    r = fit(f, PointSampler(x, torch.sin(3 * x[:, :1])), Reconstruction(), steps=100, callbacks=[CtrlC()])
    assert r.status == "interrupted" and r.steps == 4 and "interrupted after 4 steps" in r.message


def test_cli_fit_ctrl_c_writes_an_interrupted_run_then_resumes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "inrkit", "fit", "camera", "--size", "24", "--steps", "100000", "--width", "32",
           "--depth", "1", "--out", str(out), "--device", "cpu", "--snapshot-minutes", "0.002"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    snapshot = state_folder(out) / "current" / "state.json"
    deadline = time.monotonic() + 240  # import and load take seconds, more on a loaded machine
    while not snapshot.exists():  # a snapshot every 0.12 s: its first one says training is under way
        assert p.poll() is None and time.monotonic() < deadline, "the fit ended or never started training"
        time.sleep(0.1)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130, err
    assert "interrupted" in err.strip().splitlines()[-1] and "--resume" in err.strip().splitlines()[-1]
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "interrupted" and 0 < m["steps_done"] < 100000
    assert (state_folder(out) / "current" / "state.json").exists()
