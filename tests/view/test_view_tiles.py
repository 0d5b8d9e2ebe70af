"""Tile maths of inrkit view: pyramid geometry, pixel centres, derivatives, one colour scale per mode."""

import math

import numpy as np
import pytest
import torch
from view_helpers import Wave, tiny_run

from inrkit import coords as C
from inrkit.view import tiles as T
from inrkit.view.layers import BicubicField, load_run


def test_level_zero_tile_is_the_cell_centre_grid():
    assert torch.equal(T.tile_coords(0, 0, 0), C.grid((256, 256)))
    # a tile's pixels are the cell centres of its own square
    (x0, x1), (y0, y1) = T.tile_bounds(3, 5, 2)
    assert (x0, x1, y0, y1) == (0.25, 0.5, -0.5, -0.25)
    g = T.tile_coords(3, 5, 2, size=4)
    assert torch.allclose(g[0, :, 0], torch.tensor([0.28125, 0.34375, 0.40625, 0.46875]))
    assert torch.allclose(g[:, 0, 1], torch.tensor([-0.46875, -0.40625, -0.34375, -0.28125]))


@pytest.mark.parametrize("level,tx,ty,ok", [(0, 0, 0, True), (16, 65535, 0, True), (17, 0, 0, False),
                                            (2, 4, 0, False), (2, 0, -1, False), (-1, 0, 0, False)])
def test_range(level, tx, ty, ok):
    assert T.in_range(level, tx, ty) is ok
    if not ok:
        with pytest.raises(ValueError):
            T.tile_bounds(level, tx, ty)


def test_deepest_level_pixels_are_distinct_float32_numbers():
    # the zoom cap: at MAX_LEVEL neighbouring pixel centres near x = 1 still differ in float32
    g = T.tile_coords(T.MAX_LEVEL, (1 << T.MAX_LEVEL) - 1, 0, size=T.TILE)[0, :, 0]
    assert torch.unique(g).numel() == T.TILE and float(g[-1]) < 1.0


@pytest.mark.parametrize("mode", ["value", "gradient", "laplacian"])
def test_parent_tile_is_the_average_of_its_children(mode):
    # midpoint rule: a parent pixel centre is the corner shared by 2 x 2 child pixels
    f = Wave()
    L, tx, ty, n = 2, 1, 2, 64  # 64-pixel tiles: the relation holds for any tile size
    parent = T.quantity(f, T.tile_coords(L, tx, ty, size=n), mode)[..., 0].double()  # (n, n)
    child = torch.zeros(2 * n, 2 * n, dtype=torch.float64)
    for dy in (0, 1):
        for dx in (0, 1):
            q = T.quantity(f, T.tile_coords(L + 1, 2 * tx + dx, 2 * ty + dy, size=n), mode)[..., 0].double()
            child[dy * n:(dy + 1) * n, dx * n:(dx + 1) * n] = q
    avg = child.reshape(n, 2, n, 2).mean(dim=(1, 3))
    scale = parent.abs().max()
    # |gradient| has a kink where the gradient vanishes: there the midpoint rule is first order
    assert float((avg - parent).abs().max() / scale) < (5e-3 if mode == "gradient" else 2e-4)


def test_gradient_and_laplacian_modes_match_closed_forms():
    f = Wave(a=1.5, b=1.0)
    x = T.tile_coords(1, 1, 0, size=32)
    a, b = 1.5 * math.pi, 1.0 * math.pi
    X, Y = x[..., 0].double(), x[..., 1].double()
    gx = 0.8 * a * torch.cos(a * X) * torch.cos(b * Y)
    gy = -0.8 * b * torch.sin(a * X) * torch.sin(b * Y)
    lap = -(a * a + b * b) * 0.8 * torch.sin(a * X) * torch.cos(b * Y)
    assert torch.allclose(T.quantity(f, x, "gradient")[..., 0].double(), torch.sqrt(gx ** 2 + gy ** 2), atol=1e-4)
    assert torch.allclose(T.quantity(f, x, "laplacian")[..., 0].double(), lap, atol=1e-3)


def test_forward_mode_agrees_with_autograd_on_a_siren(tmp_path):
    layer = load_run(tiny_run(tmp_path / "run"), "0")
    x = T.tile_coords(2, 1, 1, size=16)
    for mode in ("gradient", "laplacian"):
        fwd = T.quantity(layer.model, x, mode)
        ref = T.quantity(layer.model, x, mode, method="autograd")
        assert torch.allclose(fwd, ref, rtol=1e-4, atol=1e-3 * float(ref.abs().max()))


def test_colour_scale_is_global_and_seamless():
    f = Wave()
    s = T.global_scale(f, "gradient", size=64)
    q = T.quantity(f, C.grid((64, 64)), "gradient").numpy()
    assert s.lo == 0.0 and s.hi == pytest.approx(float(np.percentile(q, 99)), rel=1e-6)
    lap = T.global_scale(f, "laplacian", size=32)
    assert lap.lo == -lap.hi and lap.cmap == "diverging"
    # the same tile rendered alone or with all its neighbours in one batch: same pixels (one mapping)
    alone = T.render_tiles(f, [(1, 1, 0)], "gradient", s, size=64)[0]
    batch = T.render_tiles(f, [(1, x, y) for x in range(2) for y in range(2)], "gradient", s, size=64)
    assert np.array_equal(alone, batch[1 * 2 + 0])
    # neighbouring tiles meet without a jump: the last column of one and the first of the next differ
    # by about one pixel's change of the field
    left, right = (T.quantity(f, T.tile_coords(2, x, 1, size=64), "gradient")[..., 0] for x in (1, 2))
    step = float((left[:, 1:] - left[:, :-1]).abs().max())
    assert float((right[:, 0] - left[:, -1]).abs().max()) <= 1.5 * step + 1e-6


def test_value_colours():
    v = np.array([[[-1.0], [0.0], [1.0]]], dtype=np.float32)
    px = T.colourise(v, T.VALUE_SCALE)
    assert px.shape == (1, 3, 3) and px[0, :, 0].tolist() == [0, 128, 255]
    rgb = T.colourise(np.zeros((2, 2, 3), np.float32), T.VALUE_SCALE)
    assert rgb.shape == (2, 2, 3)
    png = T.png_bytes(px)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_bicubic_field_passes_through_training_pixels():
    rng = np.random.default_rng(0)
    px = rng.random((8, 12, 3)).astype(np.float32)
    f = BicubicField(px)
    v = T.quantity(f, C.grid((8, 12)), "value").numpy()
    assert np.allclose((v + 1) / 2, px, atol=1e-5)
    # between pixels it is smooth: its gradient by finite differences matches autograd through grid_sample
    x = C.grid((5, 5), ((-0.5, 0.5), (-0.5, 0.5))).reshape(-1, 2).requires_grad_(True)
    y = f(x).mean(-1).sum()
    (g,) = torch.autograd.grad(y, x)
    fd = T.quantity(f, x.detach(), "gradient")[..., 0]
    assert torch.allclose(fd, g.norm(dim=-1), rtol=1e-2, atol=1e-2)


def _hash_field(in_dim: int, activation: str, scale: float = 1.0, out_dim: int = 2):
    from inrkit.encodings import MultiresGrid
    from inrkit.fields.base import NeuralField
    from inrkit.nn.mlp import MLP

    g = torch.Generator().manual_seed(in_dim)
    enc = MultiresGrid(in_dim, [4, 9, 33, 130], log2_table_size=9, features=2, generator=g)
    with torch.no_grad():
        enc.table.uniform_(-1.0, 1.0, generator=g)
    net = MLP(enc.out_dim, out_dim, width=16, hidden_layers=1, activation=activation, generator=g)
    return NeuralField(enc, net, output_scale=scale)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_lattice_tiles_equal_the_per_point_path_on_a_hash_grid(activation, monkeypatch):
    # tiles of a grid-encoded field go through the encoding's separable lattice form; the numbers
    # must be those of the per-point path (the field at every pixel centre, derivatives by autograd)
    f = _hash_field(2, activation, scale=1.7)
    assert T.lattice_field(f) is not None and T.lattice_field(Wave()) is None
    tiles = [(0, 0, 0), (3, 2, 5), (9, 300, 17)]
    for mode in T.MODES:
        fast = T.tile_quantities(f, tiles, mode, size=32)
        monkeypatch.setattr(T, "LATTICE", False)
        slow = T.tile_quantities(f, tiles, mode, size=32)
        monkeypatch.setattr(T, "LATTICE", True)
        tol = 1e-5 * max(1.0, float(np.abs(slow).max()))
        assert fast.shape == slow.shape and np.allclose(fast, slow, rtol=1e-5, atol=tol), mode
    assert np.abs(slow).max() > 0 or activation == "relu"  # tanh: a Laplacian that is not all zero


def test_lattice_tiles_of_a_volume_slice(monkeypatch):
    from inrkit.view.layers import SliceField

    f = SliceField(_hash_field(3, "tanh", out_dim=1), 0.3125)
    for mode in ("value", "gradient"):
        fast = T.tile_quantities(f, [(2, 1, 3)], mode, size=16)
        monkeypatch.setattr(T, "LATTICE", False)
        slow = T.tile_quantities(f, [(2, 1, 3)], mode, size=16)
        monkeypatch.setattr(T, "LATTICE", True)
        assert np.allclose(fast, slow, rtol=1e-5, atol=1e-6), mode
