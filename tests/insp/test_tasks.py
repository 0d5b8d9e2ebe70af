"""The INSP tasks' pixel maths on a grid ``scale`` times finer: the same operator per original pixel."""

import numpy as np
import pytest
from skimage import data, filters
from skimage.transform import resize

from inrkit import coords as C
from inrkit.insp import tasks as T


def _cosine(n: int, f: float = 0.2, s: int = 1) -> np.ndarray:
    """A cosine of ``f`` cycles per pixel of an ``n``-pixel grid, sampled at the cell centres of the grid ``s``
    times finer (``C.grid``): the same function at every ``s``."""
    xy = C.grid((n * s, n * s)).numpy()
    return 0.5 + 0.4 * np.cos(np.pi * f * n * (xy[..., 0] + 0.6 * xy[..., 1]))


def test_sobel_at_scale_one_is_scikit_images():
    img = resize(data.camera() / 255.0, (96, 96))
    assert np.abs(T.sobel(img) - filters.sobel(img)).max() < 1e-12
    assert np.array_equal(T.target(img, "edges"), T.sobel(img))


def _cosine_sobel(n: int, f: float = 0.2, s: int = 1) -> np.ndarray:
    """The Sobel magnitude of :func:`_cosine` in closed form, with taps one original pixel apart: for
    ``A cos(phi)`` with phase steps ``a``, ``b`` per original pixel along the two axes, the difference along one
    is ``2 A sin(phi) sin(a)`` and the [1, 2, 1] / 4 smoothing along the other ``(1 + cos b) / 2``."""
    xy = C.grid((n * s, n * s)).numpy()
    phi = np.pi * f * n * (xy[..., 0] + 0.6 * xy[..., 1])
    a, b = 2 * np.pi * f, 0.6 * 2 * np.pi * f
    h = 2 * 0.4 * np.sin(phi) * np.sin(a) * (1 + np.cos(b)) / 2
    v = 2 * 0.4 * np.sin(phi) * np.sin(b) * (1 + np.cos(a)) / 2
    return np.sqrt((h * h + v * v) / 2)


@pytest.mark.parametrize("s", [1, 2, 3])
def test_edges_target_at_scale_is_the_same_operator_per_original_pixel(s):
    """On a cosine of 0.2 cycles per original pixel, the edges target on a grid ``s`` times finer (taps ``s``
    fine pixels apart) equals the closed form of the 1x Sobel at every fine point away from the border; the
    stencil it replaced (``sobel(fine) * s``, taps one fine pixel apart) is far from it."""
    n = 32
    fine, want = T.target(_cosine(n, s=s), "edges", scale=s), _cosine_sobel(n, s=s)
    inner = (slice(2 * s, -2 * s),) * 2
    assert np.abs(fine - want)[inner].max() < 1e-5  # the grid is float32
    if s > 1:
        old = filters.sobel(_cosine(n, s=s)) * s
        assert np.abs(old - want)[inner].max() > 0.3 * want.max()


def test_sobel_refuses_a_fractional_scale():
    with pytest.raises(ValueError, match="whole scale"):
        T.sobel(np.zeros((8, 8)), 1.5)


def test_classical_at_scale_runs_only_the_methods_whose_parameters_carry_over():
    img = _cosine(32)
    params = dict(T.DEFAULT_PARAMS)
    assert set(T.classical("denoise", img, params, scale=2)) == {"filters.gaussian (tuned)"}
    assert set(T.classical("inpaint", img, params, np.ones_like(img, bool), scale=2)) == {"median 7x7 (blind)"}
    assert set(T.classical("inpaint", img, params, np.ones_like(img, bool))) == {
        "median 3x3 (blind)", "inpaint_biharmonic (oracle mask)"}
    assert T.median_window(1) == 3 and T.median_window(2) == 7 and T.median_window(3) == 9


def test_wiener_at_scale_undoes_the_same_blur_per_original_pixel():
    """Deblurring a blurred cosine at 2x (the PSF twice as wide, the balance times 16) restores it as well as
    at 1x: without the balance's scale**4 the fine grid is regularised 16 times less at each frequency."""
    params = dict(T.DEFAULT_PARAMS)
    errs = []
    for s in (1, 2):
        clean = _cosine(48, f=0.15, s=s)
        blurred = T.degrade(clean, "deblur", "cos", scale=s)
        out = T.classical("deblur", blurred, params, scale=s)["Wiener, known PSF (tuned)"]
        inner = (slice(12 * s, -12 * s),) * 2
        errs.append(np.abs(out - clean)[inner].mean() / np.abs(blurred - clean)[inner].mean())
    assert errs[0] < 0.5 and errs[1] < 0.5 and abs(errs[1] - errs[0]) < 0.15, errs


def test_bicubic_resize_and_the_coordinate_grid_share_cell_centres():
    """The fine-grid targets (``resize(..., order=3)``) and the fields rendered on ``C.grid`` of the fine grid
    sample the same points: a smooth function on the coarse grid, resized, equals it sampled on the fine one."""
    def f(n):
        xy = C.grid((n, n)).numpy().astype(np.float64)
        return np.sin(1.3 * xy[..., 0] + 0.4) * np.cos(0.9 * xy[..., 1])

    up = resize(f(32), (64, 64), order=3)
    inner = (slice(16, -16),) * 2  # the spline's mirrored border decays by about 0.27 per coarse pixel
    assert np.abs(up - f(64))[inner].max() < 1e-4
    shifted = up[:, 1:] - f(64)[:, :-1]  # one fine pixel off: clearly worse
    assert np.abs(shifted)[inner].max() > 100 * np.abs(up - f(64))[inner].max()


def test_median_window_at_scale_keeps_an_impulse_centred():
    img = np.zeros((21, 21))
    img[8:13, 8:13] = 1.0  # a 5 x 5 square: a 7 x 7 median keeps its centre, an even window would shift it
    out = T.classical("inpaint", img, dict(T.DEFAULT_PARAMS), scale=2)["median 7x7 (blind)"]
    assert out[10, 10] == 1.0 and np.array_equal(out, out[::-1, ::-1])
