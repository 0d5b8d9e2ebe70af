"""``inrkit render`` of CT and MRI runs: any resolution, the run's output map and object region re-applied."""

import json

import numpy as np
import pytest
from PIL import Image

import inrkit
from inrkit.apps.inverse import support_from_meta, support_meta
from inrkit.cli import main
from inrkit.errors import InrkitError

SMALL = ["--size", 32, "--steps", 15, "--width", 16, "--features", 16, "--quiet", "--device", "cpu"]


def _run(tmp_path, name, args):
    out = tmp_path / name
    assert main([str(a) for a in args + SMALL + ["--out", out]]) == 0
    return out


def _png(path):
    return np.asarray(Image.open(path)).astype(int)


@pytest.fixture(scope="module")
def ct_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("ct"), "ct", ["ct", "shepp-logan", "--views", 6, "--nonneg", "softplus"])


@pytest.fixture(scope="module")
def mri_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("mri"), "mri", ["mri", "shepp-logan", "--mask", "random", "--acceleration",
                                                        4, "--tv-iterations", 5, "--support", "auto"])


def test_ct_render_at_its_own_size_is_the_runs_image(ct_run, capsys):
    assert main(["render", str(ct_run / "model"), "--quiet"]) == 0
    assert "image-32x32.png" in capsys.readouterr().out
    got = _png(ct_run / "renders" / "image-32x32.png")
    want = _png(ct_run / "inr-ffn-softplus.png")
    assert got.shape == want.shape == (32, 32)
    assert np.abs(got - want).max() <= 1  # the softplus map and the circle are re-applied


def test_ct_render_at_another_resolution(ct_run, tmp_path):
    out = tmp_path / "big.png"
    assert main(["render", str(ct_run / "model"), "--size", 96, 80, "--out", str(out), "--quiet"]) == 0
    img = _png(out)
    assert img.shape == (80, 96)
    assert img[0, 0] == 0 and img[-1, -1] == 0  # outside the reconstruction circle
    assert img.max() > 0
    assert main(["render", str(ct_run / "model"), "--what", "gradient", "--out", str(tmp_path / "g.png"),
                 "--quiet"]) == 0


def test_mri_render_keeps_the_support(mri_run):
    meta = json.loads((mri_run / "model.json").read_text())
    support = support_from_meta(meta["support"], (32, 32))
    assert support.any() and not support.all()
    field, meta = inrkit.load(mri_run / "model")
    img = inrkit.render(field, meta, shape=(32, 32))
    assert np.abs(img.astype(int) - _png(mri_run / "inr-ffn.png")).max() <= 1
    assert (img[~support] == 0).all()
    assert inrkit.render(field, meta, shape=(64, 64)).shape == (64, 64)


def test_render_options_of_other_kinds_are_refused(ct_run, capsys):
    for extra in (["--rate", "8000"], ["--fps", "10"], ["--slice", "z=0"]):
        assert main(["render", str(ct_run / "model"), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("inrkit: error: ") and "\n" not in err and "ct field" in err


def test_support_round_trip_and_damage():
    rng = np.random.default_rng(0)
    m = rng.random((37, 53)) > 0.5
    doc = support_meta(m)
    assert (support_from_meta(doc, (37, 53)) == m).all()
    with pytest.raises(InrkitError, match="shape"):
        support_from_meta(doc, (53, 37))
    with pytest.raises(InrkitError, match="does not decode"):
        support_from_meta({**doc, "bits": "not base64!"}, (37, 53))
    import base64
    import zlib

    big = base64.b64encode(zlib.compress(bytes(10_000_000))).decode()  # a bomb: inflates far past the mask
    with pytest.raises(InrkitError, match="bytes where"):
        support_from_meta({**doc, "bits": big}, (37, 53))
