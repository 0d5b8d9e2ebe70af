"""Undersampled MRI as a signal: an image observed through its 2-D DFT on a sampling mask.

The field is the image (real, in [0, 1]); each step it is evaluated on the whole pixel grid and
the objective (:class:`inrkit.objectives.MaskedFourier`) compares the masked unitary DFT of those
values (:func:`inrkit.ops.fourier.masked_fft`) with the measured k-space. Masks, stored centred
(DC in the middle) with the image's shape:

- ``radial``: straight spokes through the k-space centre at golden-angle increments (111.25 deg,
  Winkelmann et al. 2007), added until the sampled fraction reaches ``1 / acceleration``;
- ``random``: variable-density random sampling (Lustig, Donoho and Pauly 2007, sec. III-A): each
  location kept with probability ``min(1, c * exp(-r^2 / (2 * 0.3^2)))``, ``r`` the distance to
  the centre in units of the half-width, ``c`` set by bisection so the expected fraction is
  ``1 / acceleration``; a disc of radius 0.04 around DC is always sampled.

Data: the built-in Shepp-Logan phantom, a real slice (``brain``: nibabel's own test data,
``nibabel/tests/data/example4d.nii.gz``, an EPI brain volume, slice 12 of volume 0, 96 x 128), any
grey image, or a NIfTI file (``.nii``, ``.nii.gz``: its middle axial slice).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .. import coords as C
from ..batch import Batch
from ..errors import InrkitError
from ..limits import MAX_ARRAY_PIXELS
from ..ops.fourier import check_mask, masked_fft, masked_fft_adjoint

IMAGES = ("shepp-logan", "brain")
MASKS = ("radial", "random")
GOLDEN_ANGLE = math.pi * (math.sqrt(5) - 1) / 2
"""111.246 degrees (180 / golden ratio), in radians."""
MAX_SIDE = 2048


def radial_mask(shape: tuple[int, int], acceleration: float) -> Tensor:
    """Golden-angle radial spokes through the centre until ``1 / acceleration`` of k-space is sampled."""
    h, w = shape
    target = 1.0 / acceleration
    mask = torch.zeros(h, w)
    cy, cx = h // 2, w // 2
    r = torch.linspace(-1.0, 1.0, 4 * max(h, w)) * math.hypot(h, w) / 2
    k = 0
    while mask.mean() < target and k < 100 * max(h, w):
        a = k * GOLDEN_ANGLE
        ys = torch.round(cy + r * math.sin(a)).long()
        xs = torch.round(cx + r * math.cos(a)).long()
        ok = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
        mask[ys[ok], xs[ok]] = 1.0
        k += 1
    return mask


def random_mask(shape: tuple[int, int], acceleration: float, seed: int = 0) -> Tensor:
    """Variable-density random mask with expected fraction ``1 / acceleration`` (see the module)."""
    h, w = shape
    yy, xx = torch.meshgrid(torch.arange(h) - h // 2, torch.arange(w) - w // 2, indexing="ij")
    r = torch.sqrt((yy / (h / 2)) ** 2 + (xx / (w / 2)) ** 2)
    pdf = torch.exp(-r ** 2 / (2 * 0.3 ** 2))
    lo, hi = 0.0, 1e6
    for _ in range(100):
        c = (lo + hi) / 2
        if torch.clamp(c * pdf, max=1.0).mean() < 1.0 / acceleration:
            lo = c
        else:
            hi = c
    prob = torch.clamp(hi * pdf, max=1.0)
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(h, w, generator=g) < prob).float()
    mask[r <= 0.04] = 1.0
    return mask


def make_mask(kind: str, shape: tuple[int, int], acceleration: float, seed: int = 0) -> Tensor:
    if kind not in MASKS:
        raise InrkitError(f"unknown mask {kind!r}; choose one of {', '.join(MASKS)} or give a .npy file")
    if not 1.0 <= acceleration <= 1000:
        raise InrkitError(f"acceleration must be between 1 and 1000, not {acceleration}")
    return radial_mask(shape, acceleration) if kind == "radial" else random_mask(shape, acceleration, seed)


def load_mask(path: str | os.PathLike, shape: tuple[int, int], what: str = "mask") -> Tensor:
    """A user's mask: a ``.npy`` of 0/1 of the image's shape; a k-space mask is centred (DC at
    ``(H // 2, W // 2)``). ``what``: ``mask`` or ``support``, for the messages."""
    from .tomography import _read_array

    p = Path(path)
    if p.suffix != ".npy":
        choices = ", ".join(MASKS) if what == "mask" else "none, auto"
        raise InrkitError(f"unknown {what} {str(path)!r}; choose one of {choices} or give a .npy file")
    arr = np.asarray(_read_array(p))
    if arr.dtype.kind not in "biuf":
        raise InrkitError(f"{p}: a mask must be numbers (0 and 1), not {arr.dtype}")
    return check_mask(torch.as_tensor(arr.astype(np.float32)), shape,
                      "the k-space mask" if what == "mask" else f"the support {p.name}")


SUPPORT_MARGIN = 3
"""Pixels the estimated support is widened by (:func:`estimate_support`)."""


def estimate_support(zero_filled: np.ndarray, margin: int = SUPPORT_MARGIN) -> np.ndarray:
    """Where the object is, estimated from the measurement alone: ``(H, W)`` bool.

    The magnitude of the zero-filled image ``|A^H y|``, smoothed by a Gaussian of 1.5 px, is thresholded at
    half of Otsu's threshold (Otsu 1979: the level that best splits it into background and object; half of
    it, because undersampling spreads the object's edges and lowers them); islands smaller than a tenth of
    the largest region (undersampling streaks) are dropped; the rest is widened by ``margin`` pixels and its
    holes filled. A support constraint (the image is zero outside S) is the classical prior of constrained
    MRI reconstruction (Haacke, Liang and Izen 1989, "Constrained reconstruction: a superresolution, optimal
    signal-to-noise alternative to the Fourier transform in magnetic resonance imaging"). It helps where the
    background is dark (air around a head, a phantom's surround), and it never sees the ground truth."""
    from scipy.ndimage import binary_dilation, binary_fill_holes, gaussian_filter, label
    from skimage.filters import threshold_otsu

    a = np.abs(np.asarray(zero_filled, dtype=np.float64))
    if not np.isfinite(a).all():
        raise InrkitError("the zero-filled image is not finite; no support can be estimated")
    g = gaussian_filter(a, 1.5)
    if g.max() <= g.min():
        return np.ones(a.shape, dtype=bool)
    s = g > 0.5 * threshold_otsu(g)
    regions, n = label(s)
    if n > 1:
        area = np.bincount(regions.ravel())[1:]
        s = np.isin(regions, 1 + np.flatnonzero(area >= 0.1 * area.max()))
    if margin > 0:
        s = binary_dilation(s, iterations=int(margin))
    return binary_fill_holes(s)


def brain_slice() -> np.ndarray:
    """nibabel's test EPI volume ``example4d.nii.gz``, slice 12 of volume 0, as ``(96, 128)`` in [0, 1]."""
    import nibabel

    path = Path(nibabel.__file__).parent / "tests" / "data" / "example4d.nii.gz"
    if not path.is_file():
        raise InrkitError(f"nibabel's test data is missing ({path}); install nibabel with its tests data")
    vol = np.asarray(nibabel.load(str(path)).dataobj)[..., 12, 0].astype(np.float64)
    img = vol.T[::-1]  # radiological display: rows are anterior-posterior, top is anterior
    return np.ascontiguousarray(img / img.max())


def _nifti_slice(path: Path) -> np.ndarray:
    import nibabel

    try:
        img = nibabel.load(str(path))
        shape = tuple(int(s) for s in img.shape)
    except Exception as exc:  # nibabel raises many types for damaged files
        raise InrkitError(f"cannot read {path} as NIfTI: {type(exc).__name__}") from None
    if len(shape) < 2 or min(shape) < 1:
        raise InrkitError(f"{path}: an image of shape {shape} has no 2-D slice")
    MAX_ARRAY_PIXELS.check(int(np.prod(shape[:3])), str(path))
    data = np.asarray(img.dataobj, dtype=np.float64)
    while data.ndim > 3:
        data = data[..., 0]
    sl = data[..., data.shape[2] // 2] if data.ndim == 3 else data
    sl = sl.T[::-1]
    lo, hi = np.nanmin(sl), np.nanmax(sl)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        raise InrkitError(f"{path}: the middle slice is constant or not finite")
    return np.ascontiguousarray((sl - lo) / (hi - lo))


def load_mri_image(source: str, size: int | None = None, max_pixels: int = 50_000_000) -> tuple[np.ndarray, str]:
    """``(image (H, W) in [0, 1], name)`` from a built-in name, a NIfTI file or an image file;
    ``size`` resizes the longer side."""
    src = str(source)
    path = Path(src)
    if src in IMAGES and not path.exists():
        if src == "brain":
            img = brain_slice()
        else:
            from .tomography import phantom

            img = phantom("shepp-logan", 256 if size is None else size)
        name = src
    elif path.name.endswith((".nii", ".nii.gz")):
        if not path.is_file():
            raise InrkitError(f"no such file: {path}")
        img, name = _nifti_slice(path), path.name.split(".")[0]
    else:
        from .io import load_image

        if not path.exists() and "." not in src and os.sep not in src:
            raise InrkitError(f"no such file or built-in image: {src!r} (built-in: {', '.join(IMAGES)})")
        sig = load_image(src, None, max_pixels, alpha="drop")
        img, name = sig.pixels.mean(-1).astype(np.float64), sig.name
    if size is not None and max(img.shape) != size:
        from skimage.transform import resize

        h, w = img.shape
        s = size / max(h, w)
        img = resize(img, (max(1, round(h * s)), max(1, round(w * s))), anti_aliasing=s < 1, mode="reflect")
    if min(img.shape) < 8 or max(img.shape) > MAX_SIDE:
        raise InrkitError(f"the image must be between 8 and {MAX_SIDE} pixels a side, not {img.shape}")
    return np.clip(img, 0.0, 1.0), name


@dataclass
class MRIProblem:
    """``image (H, W)`` in [0, 1] (the ground truth, when known), centred ``mask (H, W)`` and the
    measured ``kspace (H, W)`` complex (zero off the mask)."""

    image: np.ndarray | None
    mask: Tensor
    kspace: Tensor
    name: str = "mri"
    info: dict = field(default_factory=dict)
    support: Tensor | None = None
    """``(H, W)`` 0/1: where the image may be non-zero (None: everywhere); :meth:`with_support`."""

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.mask.shape[0]), int(self.mask.shape[1])

    @classmethod
    def simulate(cls, image: np.ndarray, mask: Tensor, name: str = "mri", noise: float = 0.0, seed: int = 0,
                 info: dict | None = None) -> "MRIProblem":
        """Measure ``image`` through ``mask`` (complex Gaussian noise of std ``noise`` per sample)."""
        mask = check_mask(mask, image.shape)
        y = masked_fft(torch.as_tensor(image, dtype=torch.float64), mask.double())
        if noise > 0:
            g = torch.Generator().manual_seed(seed)
            n = torch.complex(torch.randn(y.shape, generator=g, dtype=torch.float64),
                              torch.randn(y.shape, generator=g, dtype=torch.float64)) * (noise / math.sqrt(2))
            y = y + mask * n
        return cls(image, mask, y, name, dict(info or {}, noise=noise))

    def with_support(self, support: np.ndarray | Tensor | str = "auto") -> "MRIProblem":
        """This problem with a support constraint: ``"auto"`` estimates it from the measurement
        (:func:`estimate_support`), or a 0/1 array of the image's shape (a user's mask)."""
        from dataclasses import replace

        if isinstance(support, str):
            if support != "auto":
                raise InrkitError(f"unknown support {support!r}; choose auto, none or a .npy of 0/1")
            s = torch.as_tensor(estimate_support(self.zero_filled()), dtype=torch.float32)
            how = "estimated from the zero-filled image"
        else:
            s = check_mask(torch.as_tensor(np.asarray(support, dtype=np.float32)), self.shape, "the support")
            how = "given"
        return replace(self, support=s, info={**self.info, "support": how,
                                              "support_fraction": float(s.mean())})

    def zero_filled(self) -> np.ndarray:
        """The zero-filled reconstruction ``Re(A^H y)``, ``(H, W)``."""
        return masked_fft_adjoint(self.kspace, self.mask.double()).real.numpy()

    def sampler(self, device=None) -> "KSpaceSampler":
        return KSpaceSampler(self, device)

    def meta(self) -> dict:
        h, w = self.shape
        return {"kind": "mri", "name": self.name, "shape": [h, w], "sampled_fraction": float(self.mask.mean()),
                **self.info}


class KSpaceSampler:
    """Every step the whole grid (raster order, ``grid=(H, W)``) with extras ``kspace (H*W, 2)``
    (real and imaginary parts, centred k-space in raster order), ``mask (H*W, 1)`` and, when the problem
    has one, ``support (H*W, 1)``."""

    def __init__(self, problem: MRIProblem, device=None):
        h, w = problem.shape
        y = problem.kspace.to(torch.complex64)
        coords = C.grid((h, w), device=device).reshape(-1, 2)
        extras = {"kspace": torch.stack([y.real, y.imag], -1).reshape(-1, 2).to(device),
                  "mask": problem.mask.reshape(-1, 1).float().to(device)}
        if problem.support is not None:
            extras["support"] = problem.support.reshape(-1, 1).float().to(device)
        self.batch = Batch(coords, None, extras, (h, w))

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        return self.batch


__all__ = ["IMAGES", "MASKS", "radial_mask", "random_mask", "make_mask", "load_mask", "brain_slice", "estimate_support",
           "load_mri_image", "MRIProblem", "KSpaceSampler"]
