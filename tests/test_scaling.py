"""Scale-robust fits: the same signal at 1e-3, 1 and 1e3 gets the same relative error."""

import numpy as np
import pytest

from inrkit import coords as C
from inrkit.config import FieldConfig, TrainConfig
from inrkit.edit import discrete
from inrkit.edit.gradient_domain import fit_gradient_field, fit_laplacian_field
from inrkit.ops import finite
from inrkit.scaling import output_affine


def test_output_affine_rules():
    assert output_affine(-1.0, 1.0) == (1.0, 0.0)  # images in [-1, 1]: untouched
    assert output_affine(-0.6, 1.7) == (1.0, 0.0)  # order one around zero: untouched
    assert output_affine(-0.2, 0.49) == (1.0, 0.0)  # within a factor 8 of one: untouched
    assert output_affine(-70.0, 35.0) == (70.0, 0.0)
    assert output_affine(-1e-3, 2e-3) == (2e-3, 0.0)
    assert output_affine(100.0, 102.0) == (1.0, 101.0)  # away from zero: centred
    assert output_affine(100.0, 110.0) == (1.0, 105.0)
    assert output_affine(100.0, 140.0) == (20.0, 120.0)
    assert output_affine(100.0, 140.0, centre=False) == (140.0, 0.0)
    assert output_affine(3.0, 3.0) == (1.0, 3.0)
    assert output_affine(float("nan"), 1.0) == (1.0, 0.0)


def _bump(n=24):
    y, x = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n), indexing="ij")
    return np.exp(-3 * (x - 0.2) ** 2 - 2 * (y + 0.1) ** 2) + 0.5 * np.sin(2 * x) * y


def _rel(pred, truth):
    p, t = pred - pred.mean(), truth - truth.mean()
    return float(np.sqrt(((p - t) ** 2).mean() / (t ** 2).mean()))


CFG = FieldConfig(arch="siren", width=48, hidden_layers=2, w0=10.0)


@pytest.mark.parametrize("what", ["gradient", "laplacian"])
def test_same_relative_error_at_every_scale(what):
    u = _bump()
    step = C.pixel_step(u.shape)
    errors, scales = {}, {}
    for s in (1e-3, 1.0, 1e3):
        if what == "gradient":
            g = np.stack([finite.central_gradient(u * s, step)], axis=2)  # (H, W, 1, 2)
            field, pred, _ = fit_gradient_field(g, CFG, TrainConfig(steps=150, lr=1e-3))
        else:
            field, pred, _ = fit_laplacian_field(finite.laplacian_5point(u * s, step), CFG,
                                                 TrainConfig(steps=150, lr=1e-3), operator="stencil-sobolev")
        errors[s] = _rel(pred[..., 0], u * s)
        scales[s] = field.output_scale
    assert scales[1e3] > 100 and scales[1e-3] < 1e-2  # the network works at order one each time
    assert errors[1.0] < 0.1, errors
    for s in (1e-3, 1e3):
        assert abs(errors[s] - errors[1.0]) < 0.02 * errors[1.0] + 1e-4, errors


def test_integral_of_large_gradient_field_is_recovered():
    # the reliability sweep's case: an integral spanning about 70 units (correlation 0.73 before scaling)
    n = 32
    y, x = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n), indexing="ij")
    u = 35 * np.sin(1.5 * x) * np.cos(y)
    step = C.pixel_step(u.shape)
    g = np.stack([finite.central_gradient(u, step)], axis=2)
    _, pred, _ = fit_gradient_field(g, CFG, TrainConfig(steps=300, lr=1e-3))
    ref = discrete.integrate_gradient(g[:, :, 0], step)
    corr = np.corrcoef(pred[..., 0].ravel(), ref.ravel())[0, 1]
    assert corr > 0.999, corr
