"""Sparse-view CT as a signal: a parallel-beam sinogram observed through line integrals of mu(x, y).

Tancik et al. 2020 (sec. 6, "2D computed tomography") fit a coordinate network to the
attenuation of a 2-D phantom from a few parallel-beam projections. Here the observations are the
sinogram entries; each training step draws a random set of rays (views x detector bins) and the
objective (:class:`inrkit.objectives.RayIntegral`) integrates the field along them with the
geometry of :mod:`inrkit.rendering.radon` (scikit-image's, so ``skimage.transform.radon`` of the
ground truth makes the same sinogram and ``iradon`` / ``iradon_sart`` reconstruct from it).

Inputs: the built-in Shepp-Logan phantom, a user's grey image (made square by a centre crop and
zeroed outside the inscribed circle, as ``radon(circle=True)`` assumes), or a sinogram file:
``.npz`` with ``sinogram (D, V)`` and ``theta (V,)`` in degrees, or ``.npy (D, V)`` with the angles
given separately (default: ``V`` angles evenly over 180 degrees).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..batch import Batch
from ..errors import InrkitError
from ..limits import MAX_ARRAY_PIXELS
from ..rendering import radon as R

PHANTOMS = ("shepp-logan",)
"""Built-in ground truths: scikit-image's modified Shepp-Logan phantom (400 x 400, resized)."""

MAX_SIDE = 4096
"""Largest image side (pixels) a CT problem may have; a sinogram of more detector bins is refused."""
MAX_VIEWS = 4096


def phantom(name: str, size: int) -> np.ndarray:
    """A built-in phantom ``(size, size)`` float64 in [0, 1], anti-aliased resize, zero outside the
    reconstruction circle."""
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    if name not in PHANTOMS:
        raise InrkitError(f"unknown phantom {name!r}; built-in: {', '.join(PHANTOMS)}")
    img = resize(shepp_logan_phantom(), (size, size), anti_aliasing=True, mode="reflect")
    return _inside_circle(np.clip(img, 0.0, 1.0))


def _inside_circle(img: np.ndarray) -> np.ndarray:
    n = img.shape[0]
    c, r = n // 2, n // 2
    yy, xx = np.ogrid[:n, :n]
    out = img.copy()
    out[(yy - c) ** 2 + (xx - c) ** 2 > r ** 2] = 0.0
    return out


def check_angles(theta: np.ndarray, views: int, what: str = "the sinogram") -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    if theta.shape[0] != views:
        raise InrkitError(f"{what} has {views} views but {theta.shape[0]} angles are given; they must match")
    if not np.all(np.isfinite(theta)):
        raise InrkitError("the projection angles must be finite numbers (degrees)")
    return theta


def _read_array(path: Path, key: str | None = None) -> np.ndarray:
    """A float array from ``.npy`` (header checked before reading) or one entry of ``.npz``."""
    if not path.is_file():
        raise InrkitError(f"no such file: {path}")
    try:
        if path.suffix == ".npy":
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
                if dtype.hasobject:
                    raise InrkitError(f"{path} holds Python objects; refusing to unpickle")
                MAX_ARRAY_PIXELS.check(int(np.prod(shape)), str(path))
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as z:
            if key not in z.files:
                raise InrkitError(f"{path} has no array {key!r} (it holds {', '.join(z.files) or 'nothing'})")
            MAX_ARRAY_PIXELS.check(int(np.prod(z[key].shape)), f"{path}:{key}")
            return z[key]
    except InrkitError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise InrkitError(f"cannot read {path}: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}") \
            from None


@dataclass
class CTProblem:
    """A parallel-beam CT problem: ``sinogram (n, V)`` for angles ``theta (V,)`` (degrees) of an
    ``n x n`` image, and the ground truth ``image (n, n)`` in [0, 1] when it is known."""

    sinogram: np.ndarray
    theta: np.ndarray
    image: np.ndarray | None = None
    name: str = "ct"
    info: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.sinogram.shape[0])

    @property
    def views(self) -> int:
        return int(self.sinogram.shape[1])

    def sampler(self, rays: int, device=None, jitter: bool = True, samples: int | None = None,
                tv_points: int = 0) -> "RaySampler":
        return RaySampler(self, rays, device, jitter, samples, tv_points)

    def meta(self) -> dict:
        return {"kind": "ct", "name": self.name, "shape": [self.n, self.n], "views": self.views,
                "theta": [float(t) for t in self.theta], **self.info}


class RaySampler:
    """Each step: ``rays`` random sinogram entries (uniform over views x detector bins, with
    replacement; 0 or more than there are: all of them) with ``samples`` stratified samples along
    each (default ``n``, one per pixel of path; :func:`inrkit.rendering.radon.ray_samples`).

    The batch has no ``coords`` (the objective makes its points from the rays) and carries
    ``targets (R, 1)`` (the measured line integrals) and extras ``angles (R,)`` in radians,
    ``offsets (R,)`` and ``t (R, S)`` in pixels (:mod:`inrkit.rendering.radon`); with ``tv_points``
    P > 0 also ``tv_points (P, 2)``, uniform in the square, where the objective's total variation is
    estimated."""

    def __init__(self, problem: CTProblem, rays: int, device=None, jitter: bool = True, samples: int | None = None,
                 tv_points: int = 0):
        n, v = problem.n, problem.views
        self.n, self.rays, self.device, self.jitter, self.samples = n, rays, device, jitter, samples
        self.tv_points = tv_points
        k = torch.arange(n, dtype=torch.float32) - float(n // 2)
        self.offsets = k.repeat(v)  # (n * V,), view-major
        self.angles = torch.deg2rad(torch.as_tensor(problem.theta, dtype=torch.float32)).repeat_interleave(n)
        self.targets = torch.as_tensor(problem.sinogram.T.reshape(-1, 1), dtype=torch.float32)  # (n * V, 1)

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        total = self.targets.shape[0]
        if self.rays and self.rays < total:
            idx = torch.randint(0, total, (self.rays,), generator=generator)
        else:
            idx = torch.arange(total)
        t = R.ray_samples(self.n, idx.shape[0], generator, self.jitter, self.samples)
        dev = self.device
        extras = {"angles": self.angles[idx].to(dev), "offsets": self.offsets[idx].to(dev), "t": t.to(dev)}
        if self.tv_points:
            extras["tv_points"] = (torch.rand(self.tv_points, 2, generator=generator) * 2 - 1).to(dev)
        return Batch(None, self.targets[idx].to(dev), extras)


def make_problem(source: str, views: int | None, size: int | None, *, angles: str | os.PathLike | None = None,
                 max_pixels: int = 50_000_000, noise: float = 0.0, seed: int = 0) -> CTProblem:
    """A :class:`CTProblem` from a built-in phantom, an image file or a sinogram file.

    For a phantom or image ``views`` angles evenly spaced over [0, 180) make the sinogram with
    ``skimage.transform.radon`` (``circle=True``); ``noise`` adds Gaussian noise of that standard
    deviation relative to the largest sinogram value. A sinogram file gives its own angles: an
    ``.npz`` ``theta`` entry, or ``angles`` (a ``.npy`` of degrees), or evenly spaced; ``views``,
    when given, must agree with it.
    """
    from skimage.transform import radon

    src = str(source)
    path = Path(src)
    if src in PHANTOMS and not path.exists():
        n = 256 if size is None else size
        _check_side(n)
        image, name, origin = phantom(src, n), src, "skimage.data.shepp_logan_phantom"
    elif path.suffix in (".npy", ".npz"):
        return _sinogram_problem(path, views, angles)
    else:
        from .io import load_image

        if not path.exists() and "." not in src and os.sep not in src:
            raise InrkitError(f"no such file or built-in phantom: {src!r} (built-in: {', '.join(PHANTOMS)})")
        sig = load_image(src, None, max_pixels, alpha="drop")
        grey = sig.pixels.mean(-1).astype(np.float64)
        h, w = grey.shape
        m = min(h, w)
        grey = grey[(h - m) // 2:(h - m) // 2 + m, (w - m) // 2:(w - m) // 2 + m]  # centre crop, square
        if size is not None and size != m:
            from skimage.transform import resize

            _check_side(size)
            grey = resize(grey, (size, size), anti_aliasing=size < m, mode="reflect")
        _check_side(grey.shape[0])
        image, name, origin = _inside_circle(np.clip(grey, 0.0, 1.0)), sig.name, sig.info["source"]
    if angles is not None:
        raise InrkitError("angles are given with a sinogram file; a phantom or image takes --views")
    views = 20 if views is None else views
    if not 1 <= views <= MAX_VIEWS:
        raise InrkitError(f"views must be between 1 and {MAX_VIEWS}, not {views}")
    theta = np.linspace(0.0, 180.0, views, endpoint=False)
    sino = radon(image, theta, circle=True, preserve_range=True)
    if noise > 0:
        rng = np.random.default_rng(seed)
        sino = sino + noise * np.abs(sino).max() * rng.standard_normal(sino.shape)
    return CTProblem(sino, theta, image, name, {"source": origin, "noise": noise})


def _check_side(n: int) -> None:
    if not 8 <= n <= MAX_SIDE:
        raise InrkitError(f"the image side must be between 8 and {MAX_SIDE} pixels, not {n}")


def _sinogram_problem(path: Path, views: int | None, angles) -> CTProblem:
    if path.suffix == ".npz":
        sino = _read_array(path, "sinogram")
        with np.load(path, allow_pickle=False) as z:
            has_theta = "theta" in z.files
        theta = _read_array(path, "theta") if has_theta else None
    else:
        sino, theta = _read_array(path), None
    if angles is not None:
        theta = _read_array(Path(angles))
    sino = np.asarray(sino)
    if sino.ndim != 2 or min(sino.shape) < 1 or not np.issubdtype(sino.dtype, np.number) \
            or np.iscomplexobj(sino):
        raise InrkitError(f"{path}: a sinogram must be a real 2-D array (detector bins x views), "
                          f"not {sino.dtype} of shape {sino.shape}")
    sino = sino.astype(np.float64)
    if not np.all(np.isfinite(sino)):
        raise InrkitError(f"{path}: the sinogram has NaN or infinite entries")
    _check_side(sino.shape[0])
    if sino.shape[1] > MAX_VIEWS:
        raise InrkitError(f"{path}: {sino.shape[1]} views, above the limit of {MAX_VIEWS}")
    if views is not None and views != sino.shape[1]:
        raise InrkitError(f"{path} has {sino.shape[1]} views but {views} were asked for")
    if theta is None:
        theta = np.linspace(0.0, 180.0, sino.shape[1], endpoint=False)
    theta = check_angles(theta, sino.shape[1], str(path))
    return CTProblem(sino, theta, None, path.stem, {"source": str(path)})


def image_of(field_fn, n: int, chunk: int = 65_536) -> np.ndarray:
    """The field on the ``n x n`` pixel grid, zero outside the reconstruction circle: ``(n, n)``."""
    from .. import coords as C

    pts = C.grid((n, n)).reshape(-1, 2)
    with torch.no_grad():
        vals = torch.cat([field_fn(pts[i:i + chunk])[:, :1] for i in range(0, pts.shape[0], chunk)])
        vals = vals * R.disc_mask(pts, n)
    return vals.reshape(n, n).double().cpu().numpy()


__all__ = ["PHANTOMS", "CTProblem", "RaySampler", "make_problem", "phantom", "image_of", "check_angles"]
