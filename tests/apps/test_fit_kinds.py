"""Fitting, rendering and refusing audio and volumes through the one entry point (``inrkit fit/render``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import inrkit
from conftest import run_cli
from inrkit.apps.grid import fit_grid, kind_configs, write_grid_run
from inrkit.cli import main
from inrkit.config import FieldConfig, TrainConfig
from inrkit.signals import kinds as K
from inrkit.signals.audio import load_audio, read_wav, write_wav

nib = pytest.importorskip("nibabel")

RATE = 8000


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    """A 0.25 s chirp-like clip of two tones, 16-bit mono."""
    t = np.arange(2000) / RATE
    x = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 660 * t + 1.0) * np.exp(-3 * t)
    p = tmp_path_factory.mktemp("audio") / "tones.wav"
    write_wav(p, x, RATE, 16)
    return p


@pytest.fixture(scope="module")
def nii(tmp_path_factory) -> Path:
    """A smooth 16 x 12 x 8 volume (two Gaussian blobs) with voxels 1 x 1 x 2 mm."""
    x, y, z = np.meshgrid(np.linspace(-1, 1, 16), np.linspace(-1, 1, 12), np.linspace(-1, 1, 8), indexing="ij")
    vol = 500 * np.exp(-((x - 0.2) ** 2 + y ** 2 + z ** 2) / 0.3) + 200 * np.exp(-((x + 0.5) ** 2 + (y - 0.4) ** 2)
                                                                               / 0.1)
    img = nib.Nifti1Image(vol.astype(np.float32), np.diag([1.0, 1.0, 2.0, 1.0]))
    img.header.set_zooms((1.0, 1.0, 2.0))
    p = tmp_path_factory.mktemp("volume") / "blobs.nii.gz"
    nib.save(img, p)
    return p


@pytest.fixture(scope="module")
def audio_fit(wav):
    """SIREN with the audio recipe's first-layer omega_0 = 3000 (Sitzmann 2020 sec. 4.1), small."""
    s = load_audio(wav)
    return fit_grid(s, FieldConfig(arch="siren", width=64, hidden_layers=2, w0=3000.0),
                    TrainConfig(steps=300, lr=1e-4, batch_size=0, log_every=100), holdout=0.0)


def test_audio_fit_clears_its_bound_and_uses_the_audio_recipe(audio_fit):
    m = audio_fit.metrics
    assert m["psnr"] > 30.0 and m["snr"] > 20.0, m
    assert m["kind"] == "audio" and m["shape"] == [2000] and m["status"] == "ok"
    net = audio_fit.field.network
    assert net.first_w0 == 3000.0 and net.w0 == 30.0  # first layer on time, hidden layers the paper's 30


def test_audio_run_folder_render_at_a_new_rate(audio_fit, tmp_path):
    out = write_grid_run(audio_fit, tmp_path / "run", "test")
    meta = json.loads((out / "model.json").read_text())
    assert meta["signal"]["kind"] == "audio" and meta["signal"]["sample_rate"] == RATE
    assert meta["coords"]["bounds"] == [[-1.0, 1.0]] and meta["value_range"] == [-1.0, 1.0]
    html = (out / "report.html").read_text()
    assert html.count("<audio controls") == 2 and "Spectrograms" in html and "SNR" in html
    assert json.loads((out / "metrics.json").read_text())["snr"] == pytest.approx(audio_fit.metrics["snr"])
    # render at 3x the rate: every third sample (from the second) sits on a training sample's centre
    assert main(["render", str(out), "--rate", str(3 * RATE), "--quiet"]) == 0
    y, rate, _ = read_wav(out / "renders" / f"audio-{3 * RATE}Hz.wav")
    assert rate == 3 * RATE and y.shape == (6000, 1)
    # 16-bit rounding, and float32 coordinates of another grid (times omega_0 = 3000 in the first layer)
    assert np.abs(y[1::3] - audio_fit.prediction).max() <= 1 / 32768 + 2e-4
    field, meta = inrkit.load(out)
    samples = inrkit.render(field, meta, rate=RATE // 2)
    assert samples.shape == (1000, 1) and np.isfinite(samples).all()


@pytest.fixture(scope="module")
def volume_fit(nii):
    k = K.get("volume")
    fcfg, tcfg, _ = kind_configs(k, "tiny", train_changes={"steps": 100})
    s = k.load(nii)
    return fit_grid(s, fcfg, tcfg, holdout=0.1)


def test_volume_fit_and_slice_render_agree_with_training_samples(volume_fit, tmp_path):
    m = volume_fit.metrics
    assert m["psnr"] > 40.0 and m["psnr_heldout"] > 15.0, m  # a fine hash grid on 1,536 voxels memorises
    s = volume_fit.signal
    assert s.shape == (8, 12, 16) and np.allclose(s.bounds, ((-1.0, 1.0), (-0.75, 0.75), (-1.0, 1.0)))
    out = write_grid_run(volume_fit, tmp_path / "vol", "test")
    html = (out / "report.html").read_text()
    assert "MIP along z" in html and (out / "fit-mip-z.png").is_file()
    field, meta = inrkit.load(out)
    k = 5  # the plane of training samples z index 5
    zc = -1.0 + 2.0 * (k + 0.5) / 8
    plane = inrkit.render(field, meta, slice=f"z={zc!r}", shape=(12, 16))
    assert plane.shape == (12, 16)
    lo, hi = s.value_range
    assert np.abs(plane - volume_fit.prediction[k, :, :, 0]).max() < 1e-4 * (hi - lo)
    assert main(["render", str(out), "--slice", "y=0.1", "--size", "64", "48", "--quiet"]) == 0
    from PIL import Image

    assert Image.open(out / "renders" / "image-y0.1-64x48.png").size == (64, 48)
    assert main(["render", str(out), "--what", "gradient", "--quiet"]) == 0


def test_resumed_audio_fit_ends_byte_identical(wav, tmp_path):
    """Snapshots after every step; a second call with resume continues from the last one (step 14 of 15)
    and ends with the same weights as the uninterrupted run (CPU)."""
    s = load_audio(wav)
    fcfg, tcfg, _ = kind_configs(K.get("audio"), "tiny", train_changes={"steps": 15})
    whole = fit_grid(s, fcfg, tcfg, holdout=0.1)
    first = fit_grid(s, fcfg, tcfg, holdout=0.1, state_dir=tmp_path / "state", snapshot_seconds=0.0)
    assert (tmp_path / "state").is_dir()
    resumed = fit_grid(s, fcfg, tcfg, holdout=0.1, state_dir=tmp_path / "state", snapshot_seconds=1e9, resume=True)
    for a, b, c in zip(whole.field.state_dict().values(), first.field.state_dict().values(),
                       resumed.field.state_dict().values()):
        assert a.equal(b) and a.equal(c)
    assert [h["step"] for h in resumed.history] == [h["step"] for h in whole.history]
    with pytest.raises(inrkit.InrkitError, match="belongs to another run"):
        fit_grid(s, fcfg, tcfg, holdout=0.2, state_dir=tmp_path / "state", resume=True)


def test_python_api_fits_a_wav(wav, tmp_path):
    run = inrkit.fit(str(wav), preset="tiny", steps=20, out=tmp_path / "api", holdout=0.0)
    assert run.metrics["kind"] == "audio" and run.metrics["steps_done"] == 20
    assert (tmp_path / "api" / "report.html").is_file()


def test_cli_fit_compare_of_a_volume(nii, tmp_path, capsys):
    assert main(["fit", str(nii), "--preset", "tiny", "--steps", "30", "--out", str(tmp_path / "f"), "--quiet"]) == 0
    assert "on volume blobs" in capsys.readouterr().out
    meta = json.loads((tmp_path / "f" / "model.json").read_text())
    assert meta["signal"]["voxel_size_xyz"] == [1.0, 1.0, 2.0] and meta["training"]["train"]["steps"] == 30
    assert main(["compare", str(nii), "--preset", "tiny", "--steps", "20", "--archs", "hash,relu",
                 "--out", str(tmp_path / "c"), "--quiet"]) == 0
    assert {p.name for p in (tmp_path / "c").iterdir()} >= {"hash", "relu", "report.html", "metrics.json"}


# ---- bad input: one line, exit 2, nothing written ------------------------------------------------

def _one_line_error(capsys, needle):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("inrkit: error: ") and needle in err, err


@pytest.mark.parametrize("name, data, needle", [
    ("zero.wav", b"", "empty"),
    ("corrupt.wav", b"RIFF\x10\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00", "truncated"),
    ("corrupt.nii", b"\x5c\x01\x00\x00" + bytes(200), "cannot read it as NIfTI"),
    ("corrupt.nii.gz", b"\x1f\x8b\x08\x00garbage", "cannot read it as NIfTI"),
])
def test_bad_files_are_refused_before_any_folder(tmp_path, capsys, name, data, needle):
    (tmp_path / name).write_bytes(data)
    assert main(["fit", str(tmp_path / name), "--preset", "tiny", "--out", str(tmp_path / "run")]) == 2
    _one_line_error(capsys, needle)
    assert not (tmp_path / "run").exists() and [p.name for p in tmp_path.iterdir()] == [name]


def test_limits_and_wrong_kind_render_through_the_command_line(wav, nii, tmp_path, monkeypatch):
    env_out = tmp_path / "o"
    monkeypatch.setenv("INRKIT_MAX_AUDIO_SAMPLES", "1000")
    code, out, err = run_cli(["fit", wav, "--preset", "tiny", "--out", env_out])
    assert code == 2 and err.count("\n") == 1 and "INRKIT_MAX_AUDIO_SAMPLES" in err and not env_out.exists(), err
    monkeypatch.delenv("INRKIT_MAX_AUDIO_SAMPLES")
    monkeypatch.setenv("INRKIT_MAX_VOXELS", "100")
    code, out, err = run_cli(["fit", nii, "--out", env_out])
    assert code == 2 and "1,536 voxels" in err and "INRKIT_MAX_VOXELS" in err and not env_out.exists(), err


def test_render_options_of_another_kind_are_refused(audio_fit, volume_fit, tmp_path, capsys):
    a = write_grid_run(audio_fit, tmp_path / "a", "test")
    v = write_grid_run(volume_fit, tmp_path / "v", "test")
    for argv, needle in [([a, "--slice", "z=0"], "--slice is for volume checkpoints"),
                         ([a, "--size", "5", "5"], "--rate, not --size"),
                         ([v, "--rate", "48000"], "--rate is for audio checkpoints"),
                         ([v, "--region", "0", "0", "1", "1"], "--region is for image checkpoints"),
                         ([v, "--slice", "w=2"], "--slice must be AXIS=VALUE")]:
        assert main(["render", *map(str, argv)]) == 2
        _one_line_error(capsys, needle)
    assert not (a / "renders").exists() and not (v / "renders").exists()


def test_image_checkpoints_refuse_other_kinds_options(tmp_path, capsys):
    assert main(["fit", "camera", "--preset", "tiny", "--size", "16", "--steps", "2", "--out", str(tmp_path / "i"),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["render", str(tmp_path / "i"), "--rate", "100"]) == 2
    _one_line_error(capsys, "--rate is for audio checkpoints; ")
    assert main(["fit", "camera", "--kind", "audio", "--out", str(tmp_path / "x")]) == 2
    _one_line_error(capsys, "no audio file camera")
