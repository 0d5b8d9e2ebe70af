"""``inrkit fit --view``: the field is served while it trains and after, until Ctrl-C; the run is written."""

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request

from conftest import interruptible


def test_fit_view_serves_the_trained_field_until_ctrl_c(tmp_path):
    out = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "-m", "inrkit", "fit", "camera", "--size", "16", "--steps", "30", "--view",
                          "--out", str(out), "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=interruptible)
    err = ""
    try:
        deadline = time.time() + 240
        while "still serving" not in err and time.time() < deadline and p.poll() is None:
            err += p.stderr.readline()
        assert "still serving" in err, err
        url = re.search(r"http://127\.0\.0\.1:\d+/", err).group(0)
        info = json.loads(urllib.request.urlopen(url + "api/info", timeout=30).read())
        layer = info["layers"][0]
        assert layer["live"] and layer["step"] == 30 and layer["shape"] == [16, 16]
        assert (out / "report.html").is_file() and (out / "model.safetensors").is_file()  # written before serving
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()
    assert "held-out PSNR" in p.stdout.read()


def test_view_is_refused_for_other_kinds(tmp_path):
    import numpy as np

    vol = tmp_path / "v.npy"
    np.save(vol, np.zeros((4, 4, 4), np.float32))
    p = subprocess.run([sys.executable, "-m", "inrkit", "fit", str(vol), "--view", "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--view does not apply to volume files" in p.stderr
    assert not (tmp_path / "r").exists()
