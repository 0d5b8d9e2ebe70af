import torch

from inrkit import coords as C


def test_axis_is_cell_centres():
    x = C.axis(4)
    assert torch.allclose(x, torch.tensor([-0.75, -0.25, 0.25, 0.75]))


def test_grid_is_xy_order_and_row_major():
    g = C.grid((2, 3))  # H=2, W=3
    assert g.shape == (2, 3, 2)
    # x varies along columns, y along rows (downwards)
    assert torch.allclose(g[0, :, 0], C.axis(3))
    assert torch.allclose(g[:, 0, 1], C.axis(2))
    assert torch.allclose(g[1, 2], torch.tensor([C.axis(3)[2], C.axis(2)[1]]))


def test_grid_bounds_and_steps():
    g = C.grid((4, 8), ((0.0, 1.0), (-1.0, 0.0)))
    assert float(g[..., 0].min()) > 0 and float(g[..., 0].max()) < 1
    assert float(g[..., 1].min()) > -1 and float(g[..., 1].max()) < 0
    assert C.pixel_step((4, 8)) == (2 / 8, 2 / 4)


def test_3d_grid():
    g = C.grid((2, 3, 4))
    assert g.shape == (2, 3, 4, 3)
    assert torch.allclose(g[0, 0, :, 0], C.axis(4))
    assert torch.allclose(g[:, 0, 0, 2], C.axis(2))
