"""The short API: ``inrkit.fit`` on a path, a built-in name or a NumPy array with ``preset=``;
``inrkit.evaluate`` returns numbers; ``render(shape=(H, W))`` and the older ``size=(W, H)`` agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import inrkit
from inrkit import ops
from inrkit.errors import InrkitError


def test_fit_accepts_an_array_and_a_preset():
    rng = np.random.default_rng(0)
    img = (rng.random((12, 20, 3)) * 255).astype(np.uint8)
    run = inrkit.fit(img, preset="tiny", steps=3, holdout=0.0)
    assert run.arch == "hash" and run.train_cfg.steps == 3
    assert run.signal.shape == (12, 20) and run.signal.channels == 3
    np.testing.assert_allclose(run.signal.pixels, img / 255.0, atol=1e-6)
    gray = inrkit.fit(rng.random((10, 10)), preset="tiny", steps=2, arch="siren", holdout=0.0)
    assert gray.arch == "siren" and gray.signal.channels == 1 and gray.lr == 1e-4


@pytest.mark.parametrize("bad, needle", [
    (np.zeros(100), "not an image"),  # audio
    (np.zeros((4, 4, 16)), "not an image"),  # a volume
    (np.full((4, 4), 2.0), "must be in [0, 1]"),
    (np.full((4, 4), np.nan), "NaN"),
    (np.zeros((4, 4), dtype=np.int32), "unsigned integers"),
])
def test_fit_refuses_arrays_that_are_not_images(bad, needle):
    with pytest.raises(InrkitError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        inrkit.fit(bad, preset="tiny", steps=1)


def test_fit_of_a_field_is_still_the_loop():
    from inrkit.train import fit as loop

    assert inrkit.fit.__module__ == "inrkit.apps.image" and loop.__module__ == "inrkit.train.fit"


def test_evaluate_returns_numbers():
    torch.manual_seed(0)
    run = inrkit.fit(np.linspace(0, 1, 64).reshape(8, 8), preset="tiny", steps=2, arch="siren", holdout=0.0)
    field = run.field
    lap = inrkit.evaluate(field, (6, 10), "laplacian")
    assert lap.dtype == np.float32 and lap.shape == (6, 10, 1)
    ref = ops.evaluate(field, inrkit.coords.grid((6, 10)), "laplacian").numpy()
    np.testing.assert_allclose(lap, ref, rtol=1e-5, atol=1e-5)
    pts = np.array([[0.0, 0.0], [0.5, -0.25]])
    g = inrkit.evaluate(field, pts, "gradient")
    assert g.shape == (2, 2)
    v = inrkit.evaluate(field, torch.tensor(pts, dtype=torch.float32), "value")
    np.testing.assert_allclose(v, field(torch.tensor(pts, dtype=torch.float32)).detach().numpy(), rtol=1e-5)
    with pytest.raises(InrkitError):
        inrkit.evaluate(field, np.zeros((3, 3)), "value")


def test_render_shape_is_h_w():
    run = inrkit.fit(np.linspace(0, 1, 48).reshape(6, 8), preset="tiny", steps=2, holdout=0.0)
    meta = run.meta()
    a = inrkit.render(run.field, meta, shape=(5, 9))
    b = inrkit.render(run.field, meta, size=(9, 5))
    assert a.shape == (5, 9) and np.array_equal(a, b)
    with pytest.raises(InrkitError):
        inrkit.render(run.field, meta)
