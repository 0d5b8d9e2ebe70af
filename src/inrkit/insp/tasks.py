"""The INSP tasks as pixel maths: what a field is fitted to (the degraded input) and what the operator
must give (the target), plus the classical pixel methods they are compared with.

Every image here is a float array ``(H, W)`` of grey levels in [0, 1]. Tasks (Xu et al. 2022, sec. 5;
the degradation strengths are this project's, issue 15):

- ``edges``: input the clean image, target ``skimage.filters.sobel`` of it;
- ``blur``: input clean, target a Gaussian blur of sigma = 1 pixel;
- ``denoise``: input clean + Gaussian noise of sigma 25/255 (drawn once per image, seeded, clipped
  to [0, 1]), target clean;
- ``deblur``: input a Gaussian blur of sigma = 1.5 pixels, target clean;
- ``inpaint``: input with 30 % of pixels set to 0 (a seeded mask that the operator never sees),
  target clean;
- ``deblur-paper``: deblurring with the blur of the paper's released code (VITA-Group/INSP, ``dataio.py``):
  five passes of ``Laplacian + 6 I`` (the 3 x 3 kernel [[0, 1, 0], [1, 2, 1], [0, 1, 0]], borders mirrored), each
  pass rescaled to span [0, 1]; target clean. The paper's fidelity row: its figure for ``camera`` is 23.88 dB
  blurred -> 27.67 dB INSP, at a size and with training images (DIV2K) that differ from this bench's, so the
  blurred input's own PSNR here is not 23.88.
"""

from __future__ import annotations

import zlib

import numpy as np

TASKS = ("edges", "blur", "denoise", "deblur", "inpaint", "deblur-paper")
BENCH_TASKS = TASKS[:5]
"""The issue's five tasks: what ``inrkit insp bench`` runs unless told otherwise."""
BLUR_SIGMA = 1.0
NOISE_SIGMA = 25.0 / 255.0
DEBLUR_SIGMA = 1.5
INPAINT_FRACTION = 0.3
PAPER_BLUR_PASSES = 5
PAPER_BLUR_KERNEL = np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 0.0]])
"""Laplacian + 6 I: the paper code's blur, each pass of which is rescaled to [0, 1] (``PAPER_BLUR_PASSES`` passes)."""

DEGRADATION = {"edges": "clean", "blur": "clean", "denoise": "noisy", "deblur": "blurred", "inpaint": "masked",
               "deblur-paper": "paper-blurred"}
"""What each task's fields are fitted to: tasks sharing an input share its fitted fields."""


def _rng(name: str, seed: int, what: str) -> np.random.Generator:
    """A generator fixed by the image's name, the seed and the kind of degradation."""
    return np.random.default_rng([seed, zlib.crc32(f"{name}/{what}".encode())])


def gaussian(img: np.ndarray, sigma: float, scale: float = 1.0) -> np.ndarray:
    """Gaussian blur of ``sigma * scale`` pixels, reflecting at the border (scikit-image's default)."""
    from skimage.filters import gaussian as g

    return g(img, sigma=sigma * scale, mode="reflect", preserve_range=True)


def paper_blur(img: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The paper code's blur: ``PAPER_BLUR_PASSES`` passes (times ``scale**2`` on a ``scale`` x finer grid, the
    same width per original pixel) of :data:`PAPER_BLUR_KERNEL` with mirrored borders, each rescaled to [0, 1]."""
    from scipy import ndimage

    out = img.astype(np.float64)
    for _ in range(max(1, round(PAPER_BLUR_PASSES * scale**2))):
        out = ndimage.convolve(out, PAPER_BLUR_KERNEL, mode="mirror")
        lo, hi = out.min(), out.max()
        out = (out - lo) / (hi - lo) if hi > lo else np.zeros_like(out)
    return out


def paper_psf(scale: float = 1.0) -> np.ndarray:
    """The linear part of :func:`paper_blur` (its rescaling is affine): the kernel convolved with itself, normalised."""
    from scipy.signal import convolve2d

    k = PAPER_BLUR_KERNEL / PAPER_BLUR_KERNEL.sum()
    psf = k
    for _ in range(max(1, round(PAPER_BLUR_PASSES * scale**2)) - 1):
        psf = convolve2d(psf, k)
    return psf / psf.sum()


def mask(shape: tuple[int, int], name: str, seed: int) -> np.ndarray:
    """The inpainting mask: True where the pixel is kept (70 %), drawn from the image's own generator."""
    return _rng(name, seed, "mask").random(shape) >= INPAINT_FRACTION


def degrade(clean: np.ndarray, task: str, name: str, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """The input a task's field is fitted to. ``scale`` multiplies blur widths (a 2x grid: 2)."""
    kind = DEGRADATION[task]
    if kind == "clean":
        return clean.copy()
    if kind == "noisy":
        return np.clip(clean + NOISE_SIGMA * _rng(name, seed, "noise").standard_normal(clean.shape), 0.0, 1.0)
    if kind == "blurred":
        return gaussian(clean, DEBLUR_SIGMA, scale)
    if kind == "paper-blurred":
        return paper_blur(clean, scale)
    return clean * mask(clean.shape, name, seed)


def target(clean: np.ndarray, task: str, scale: float = 1.0) -> np.ndarray:
    """What the operator should give: Sobel edges, the sigma = 1 blur, or the clean image.

    At ``scale`` times the fitting resolution the blur is ``scale`` pixels wide and the Sobel stencil's taps are
    ``scale`` pixels apart (:func:`sobel`), so every target is the same operator per original pixel.
    """
    if task == "edges":
        return sobel(clean, scale)
    if task == "blur":
        return gaussian(clean, BLUR_SIGMA, scale)
    return clean.copy()


def sobel(img: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``skimage.filters.sobel`` (the magnitude ``sqrt((h^2 + v^2) / 2)``, borders reflected), with its taps
    ``scale`` pixels apart on a grid ``scale`` times finer: the same operator per original pixel (its
    frequency response in cycles per original pixel is the 1x one). ``scale = 1``: exactly scikit-image's."""
    from scipy import ndimage

    s = int(round(scale))
    if s < 1 or abs(scale - s) > 1e-9:
        raise ValueError(f"the Sobel stencil needs a whole scale, not {scale}")
    k = np.zeros((2 * s + 1, 2 * s + 1))
    k[::s, ::s] = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]) / 4.0
    h = ndimage.correlate(img.astype(np.float64), k, mode="reflect")
    v = ndimage.correlate(img.astype(np.float64), k.T, mode="reflect")
    return np.sqrt((h * h + v * v) / 2.0)


def median_window(scale: float = 1.0) -> int:
    """The blind median's odd window: 3 pixels, and on a grid ``scale`` times finer the odd size nearest above
    ``3 * scale`` (7 at 2x), so the output is not shifted by half a pixel."""
    return 2 * int(1.5 * scale) + 1


# ---- classical pixel methods -------------------------------------------------------------------

def gaussian_psf(sigma: float, radius: int | None = None) -> np.ndarray:
    r = radius if radius is not None else int(np.ceil(4 * sigma))
    ax = np.arange(-r, r + 1)
    k = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2 * sigma**2))
    return k / k.sum()


def classical(task: str, degraded: np.ndarray, params: dict, oracle_mask: np.ndarray | None = None,
              scale: float = 1.0, clean: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The pixel methods of each task on the degraded image, with ``params`` tuned on training images.

    ``blur``: ``filters.gaussian`` (sigma 1, the target's own filter: an upper bound);
    ``edges``: ``filters.sobel``; ``denoise``: ``filters.gaussian``, ``denoise_tv_chambolle``,
    ``denoise_nl_means``; ``deblur``: Wiener and Richardson-Lucy with the known PSF;
    ``inpaint``: a blind 3 x 3 median and ``inpaint_biharmonic`` with the oracle mask; ``deblur-paper``: Wiener and
    Richardson-Lucy with the blur's linear part (:func:`paper_psf`), and, given ``clean``, each also with an oracle
    contrast (the affine map of its output closest to ``clean``): the paper's blur rescales every pass to [0, 1],
    an affine change that a deconvolution with the PSF alone does not undo (an upper reference, like the oracle
    mask of ``inpaint``).

    ``scale`` != 1: the image is on a grid ``scale`` times finer than the task's, and only the methods whose
    parameters carry over are run: blur widths and the PSF times ``scale``, Sobel's taps ``scale`` apart,
    the median's window :func:`median_window`, Wiener's balance times ``scale**4`` (its Laplacian regulariser
    falls by ``scale**2`` at a given frequency per original pixel). The total-variation weight and the
    non-local-means patches are tuned per pixel of the training grid, and the oracle mask exists on that grid
    only: those are left out.
    """
    from skimage import restoration
    from scipy import ndimage

    out: dict[str, np.ndarray] = {}
    native = scale == 1
    if task == "blur":
        out["filters.gaussian (sigma 1)"] = gaussian(degraded, BLUR_SIGMA, scale)
    elif task == "edges":
        out["filters.sobel"] = sobel(degraded, scale)
    elif task == "denoise":
        out["filters.gaussian (tuned)"] = gaussian(degraded, params["gaussian_sigma"], scale)
        if native:
            out["denoise_tv_chambolle (tuned)"] = restoration.denoise_tv_chambolle(degraded,
                                                                                   weight=params["tv_weight"])
            out["denoise_nl_means (tuned)"] = restoration.denoise_nl_means(
                degraded, h=params["nlm_h"] * NOISE_SIGMA, sigma=NOISE_SIGMA, patch_size=5, patch_distance=6,
                fast_mode=True)
    elif task in ("deblur", "deblur-paper"):
        psf = gaussian_psf(DEBLUR_SIGMA * scale) if task == "deblur" else paper_psf(scale)
        out["Wiener, known PSF (tuned)"] = restoration.wiener(
            degraded, psf, balance=params["wiener_balance"] * scale**4, clip=False)
        out["Richardson-Lucy, known PSF (tuned)"] = restoration.richardson_lucy(
            degraded, psf, num_iter=int(params["rl_iterations"]), clip=False)
        if task == "deblur-paper" and clean is not None:
            for name in ("Wiener, known PSF (tuned)", "Richardson-Lucy, known PSF (tuned)"):
                r = out[name]
                a, b = np.linalg.lstsq(np.stack([r.ravel(), np.ones(r.size)], 1), clean.ravel(), rcond=None)[0]
                out[name.replace("(tuned)", "+ oracle contrast")] = a * r + b
    elif task == "inpaint":
        w = median_window(scale)
        out["median 3x3 (blind)" if native else f"median {w}x{w} (blind)"] = ndimage.median_filter(
            degraded, size=w, mode="reflect")
        if oracle_mask is not None and native:
            out["inpaint_biharmonic (oracle mask)"] = restoration.inpaint_biharmonic(degraded, ~oracle_mask)
    return out


TUNING_GRID = {
    "denoise": {"gaussian_sigma": (0.5, 0.75, 1.0, 1.25, 1.5), "tv_weight": (0.04, 0.06, 0.08, 0.1, 0.14),
                "nlm_h": (0.6, 0.8, 1.0, 1.2)},
    "deblur": {"wiener_balance": (0.001, 0.003, 0.01, 0.03, 0.1), "rl_iterations": (5, 10, 20, 40)},
}
"""Parameters of the classical methods tried on the training images (each tuned on its own)."""
TUNING_GRID["deblur-paper"] = TUNING_GRID["deblur"]

DEFAULT_PARAMS = {"gaussian_sigma": 1.0, "tv_weight": 0.08, "nlm_h": 0.8, "wiener_balance": 0.01,
                  "rl_iterations": 20}


def tune(task: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Pick each classical method's parameter by mean PSNR over ``pairs`` of (degraded, clean) images."""
    from ..metrics import psnr

    params = dict(DEFAULT_PARAMS)
    grid = TUNING_GRID.get(task, {})
    probe = {"gaussian_sigma": "filters.gaussian (tuned)", "tv_weight": "denoise_tv_chambolle (tuned)",
             "nlm_h": "denoise_nl_means (tuned)", "wiener_balance": "Wiener, known PSF (tuned)",
             "rl_iterations": "Richardson-Lucy, known PSF (tuned)"}
    for key, values in grid.items():
        best, best_p = None, -np.inf
        for v in values:
            trial = dict(params, **{key: v})
            p = np.mean([psnr(np.clip(classical(task, d, trial)[probe[key]], 0, 1), c) for d, c in pairs])
            if p > best_p:
                best, best_p = v, p
        params[key] = best
    return params
