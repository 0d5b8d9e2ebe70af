"""Sampled signals on a regular grid of 1, 2 or 3 dimensions: audio, volumes, video.

A :class:`GridSignal` holds ``values (*shape, C)`` float32 in the signal's own units (audio
amplitude, MRI intensity, pixel values) and the ``value_range (lo, hi)`` that training maps
to [-1, 1]::

    targets = 2 (values - lo) / (hi - lo) - 1

Coordinates follow :mod:`inrkit.coords`: array axis k is coordinate d-1-k (so ``(Z, Y, X)``
has coordinates ``(x, y, z)``, audio ``(N,)`` has ``(t,)``) and sample i of n along an axis
sits at the centre of its cell. With a physical ``spacing`` per array axis (voxel size from
a NIfTI header), the axis of longest physical extent ``n_k * spacing_k`` spans [-1, 1] and
every other axis [-e_k, e_k] with ``e_k = n_k spacing_k / max_j(n_j spacing_j)``: one unit
of coordinate is the same physical length on every axis, so a sphere stays a sphere.

Coordinates are computed per batch from raster indices (:class:`GridSampler`), never stored
for the whole grid: a 256^3 volume holds its values (64 MiB) and the batches, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

from .. import coords as C
from ..batch import Batch
from ..errors import InrkitError


def bounds_for(shape: tuple[int, ...], spacing: tuple[float, ...] | None = None) -> C.Bounds:
    """Per-coordinate ``(low, high)`` of a grid of ``shape`` (array order) with ``spacing`` per array axis.

    Without spacing every axis is [-1, 1] (the image convention). With it, the longest physical
    extent is [-1, 1] and the others shrink in proportion (module docstring). Coordinate order.
    """
    d = len(shape)
    if spacing is None:
        return tuple((-1.0, 1.0) for _ in range(d))
    if len(spacing) != d:
        raise ValueError(f"spacing has {len(spacing)} axes, shape {d}")
    extent = [n * float(s) for n, s in zip(shape, spacing)]
    top = max(extent)
    half = [e / top for e in extent]  # array order
    return tuple((-half[d - 1 - c], half[d - 1 - c]) for c in range(d))


@dataclass
class GridSignal:
    """Values on a regular grid, with the bounds, value range and description a checkpoint keeps.

    ``values``: ``(*shape, C)`` float32, or uint8 kept as it is (``(*shape,)`` is taken as one channel). ``kind`` names
    the registered kind (:mod:`inrkit.signals.kinds`). ``info`` is copied into :meth:`meta`
    (sample rate, bit depth, source, affine, ...).
    """

    values: np.ndarray
    kind: str
    value_range: tuple[float, float] = (-1.0, 1.0)
    spacing: tuple[float, ...] | None = None
    name: str = "signal"
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        v = np.asarray(self.values)
        if v.ndim < 2:
            v = v[..., None]
        # uint8 stays uint8 (a video is 4x smaller); targets are converted per batch
        self.values = np.ascontiguousarray(v, dtype=np.uint8 if v.dtype == np.uint8 else np.float32)
        if any(n < 1 for n in self.values.shape):
            raise InrkitError(f"a {self.kind} signal of shape {self.values.shape} has no samples")
        lo, hi = (float(x) for x in self.value_range)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise InrkitError(f"the value range of a {self.kind} signal must be finite, not {self.value_range}")
        if hi <= lo:  # a constant signal: any range around it
            lo, hi = lo - 1.0, lo + 1.0
        self.value_range = (lo, hi)
        if self.spacing is not None:
            self.spacing = tuple(float(s) for s in self.spacing)
            if len(self.spacing) != self.dims or not all(np.isfinite(s) and s > 0 for s in self.spacing):
                raise InrkitError(f"sample spacing {self.spacing} must be {self.dims} positive numbers")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.values.shape[:-1])

    @property
    def channels(self) -> int:
        return int(self.values.shape[-1])

    @property
    def dims(self) -> int:
        return len(self.shape)

    @property
    def samples(self) -> int:
        return int(np.prod(self.shape))

    @property
    def bounds(self) -> C.Bounds:
        return bounds_for(self.shape, self.spacing)

    # ---- values <-> targets ------------------------------------------------------------------

    def to_targets(self, values: np.ndarray | Tensor) -> Tensor:
        lo, hi = self.value_range
        v = torch.as_tensor(values, dtype=torch.float32)
        return (v - lo) * (2.0 / (hi - lo)) - 1.0

    def to_values(self, targets: np.ndarray | Tensor, inplace: bool = False) -> np.ndarray:
        """Field outputs in [-1, 1] back to the signal's units, float32. ``inplace=True`` (a float32 NumPy
        array only) overwrites ``targets`` with them and returns it: a whole clip's outputs are not copied."""
        lo, hi = self.value_range
        if inplace:
            if not (isinstance(targets, np.ndarray) and targets.dtype == np.float32):
                raise TypeError("inplace conversion needs a float32 NumPy array")
            targets += 1.0
            targets *= np.float32((hi - lo) / 2.0)
            targets += np.float32(lo)
            return targets
        t = np.asarray(torch.as_tensor(targets).detach().cpu(), dtype=np.float32)
        return ((t + 1.0) * ((hi - lo) / 2.0) + lo).astype(np.float32)

    # ---- coordinates and samples ---------------------------------------------------------------

    def coords(self, index: Tensor | None = None, device=None) -> Tensor:
        """``(N, d)`` coordinates of raster indices ``index (N,)``, or the whole grid ``(*shape, d)``."""
        if index is None:  # the same numbers as the batches get (C.grid's to float32 rounding)
            return index_coords(torch.arange(self.samples), self.shape, self.bounds).reshape(
                *self.shape, self.dims).to(device)
        return index_coords(index, self.shape, self.bounds).to(device)

    def targets(self, index: Tensor | None = None) -> Tensor:
        """``(N, C)`` targets in [-1, 1] at raster indices, or all of them ``(*shape, C)``."""
        if index is None:
            return self.to_targets(self.values)
        flat = self.values.reshape(-1, self.channels)  # (N, C), a view
        return self.to_targets(flat[index.cpu().numpy()])

    def sampler(self, batch_size: int, device=None, heldout: np.ndarray | None = None) -> "GridSampler":
        return GridSampler(self, batch_size, device, heldout)

    def meta(self) -> dict:
        """The checkpoint's description: kind, shape, channels, bounds, spacing, value range, info."""
        return {"kind": self.kind, "name": self.name, "shape": list(self.shape), "channels": self.channels,
                "bounds": [list(b) for b in self.bounds], "spacing": list(self.spacing) if self.spacing else None,
                "value_range": list(self.value_range), **self.info}


def index_coords(index: Tensor, shape: tuple[int, ...], bounds: C.Bounds) -> Tensor:
    """Cell-centre coordinates ``(N, d)`` (coordinate order) of raster indices ``index (N,)`` into ``shape``."""
    d = len(shape)
    idx = index.to(torch.int64)
    out = torch.empty(idx.shape[0], d, dtype=torch.float32)
    rest = idx
    for k in range(d - 1, -1, -1):  # last array axis first: it is coordinate 0
        n = shape[k]
        i = rest % n
        rest = rest // n
        lo, hi = bounds[d - 1 - k]
        # in float64, rounded once: a sample shared by two grids (rate R and 3R) gets the same float32
        out[:, d - 1 - k] = (lo + (hi - lo) * (2 * i + 1).to(torch.float64) / (2 * n)).to(torch.float32)
    return out


class GridSampler:
    """Random batches of a :class:`GridSignal`: ``batch_size`` raster indices drawn uniformly (with
    replacement) among the training samples, coordinates computed per batch.

    ``heldout`` (bool ``(N,)``, raster order) marks samples never drawn: candidates that fall on
    one are dropped and the batch is topped up. ``batch_size = 0`` (or ``>= N``) hands over the
    whole training set every step (small signals only; it is built once).
    """

    def __init__(self, signal: GridSignal, batch_size: int, device=None, heldout: np.ndarray | None = None):
        if batch_size < 0:
            raise ValueError(f"batch_size must be 0 (every sample) or positive, not {batch_size}")
        self.signal, self.batch_size, self.device = signal, batch_size, device
        self.n = signal.samples
        self.heldout = torch.as_tensor(heldout) if heldout is not None and heldout.any() else None
        self.full: Batch | None = None
        if not batch_size or batch_size >= self.n:
            idx = torch.arange(self.n) if self.heldout is None else torch.nonzero(~self.heldout)[:, 0]
            self.full = Batch(signal.coords(idx).to(device), signal.targets(idx).to(device), {},
                              signal.shape if self.heldout is None else None)

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        if self.full is not None:
            return self.full
        idx = torch.randint(0, self.n, (self.batch_size,), generator=generator)
        if self.heldout is not None:
            keep = idx[~self.heldout[idx]]
            while len(keep) < self.batch_size:
                more = torch.randint(0, self.n, (self.batch_size,), generator=generator)
                keep = torch.cat([keep, more[~self.heldout[more]]])
            idx = keep[:self.batch_size]
        return Batch(self.signal.coords(idx).to(self.device), self.signal.targets(idx).to(self.device))


def holdout_mask(samples: int, fraction: float, seed: int) -> np.ndarray:
    """Bool ``(samples,)``: a seeded random ``fraction`` of samples held out of training (the protocol
    of :func:`inrkit.signals.image.holdout_split`, Tancik et al. 2020 sec. 5.1, with its seed offset)."""
    from .image import HOLDOUT_SEED_OFFSET, holdout_count

    k = holdout_count(samples, fraction)
    mask = np.zeros(samples, dtype=bool)
    if k:
        rng = np.random.default_rng(seed + HOLDOUT_SEED_OFFSET)
        mask[rng.choice(samples, size=k, replace=False)] = True
    return mask


def evaluate_grid(field: nn.Module, shape: tuple[int, ...], bounds, chunk: int | None = None,
                  progress: Callable[[int], None] | None = None) -> np.ndarray:
    """The field's outputs ``(*shape, C)`` float32 at the cell centres of ``shape`` within ``bounds``,
    evaluated ``chunk`` points at a time from raster indices (no coordinate grid is ever built), or, for a
    grid-encoded field (``NeuralField.separable``), in lattice blocks of at most ``chunk`` points (or one
    line of the fastest axis; :func:`lattice_bands`). ``progress(points_done)`` is called after each chunk
    (a :class:`inrkit.train.progress.Counter`)."""
    chunk = chunk or 65_536
    n = int(np.prod(shape))
    dev = next((p.device for p in field.parameters()), torch.device("cpu"))
    out = None
    was_training = field.training
    field.eval()
    if LATTICE and getattr(field, "separable", False) and field.in_dim == len(shape):
        try:
            return _evaluate_lattice(field, tuple(shape), bounds, chunk, progress, dev)
        finally:
            field.train(was_training)
    with torch.no_grad():
        for a in range(0, n, chunk):
            idx = torch.arange(a, min(n, a + chunk))
            y = field(index_coords(idx, tuple(shape), bounds).to(dev)).float().cpu().numpy()
            if out is None:
                out = np.empty((n, y.shape[-1]), dtype=np.float32)
            out[a:a + len(idx)] = y
            if progress is not None:
                progress(a + len(idx))
    field.train(was_training)
    return out.reshape(*shape, -1)


LATTICE = True
"""Evaluate grid-encoded fields band by band through their lattice form (:func:`_evaluate_lattice`);
tests turn it off to compare with the per-point path."""


def axis_centres(n: int, lo: float, hi: float) -> Tensor:
    """The ``n`` cell centres of one axis within ``(lo, hi)``, float32: the numbers :func:`index_coords` gives."""
    i = torch.arange(n, dtype=torch.float64)
    return (lo + (hi - lo) * (2 * i + 1) / (2 * n)).to(torch.float32)


def lattice_bands(shape: tuple[int, ...], chunk: int) -> Iterator[tuple[int, int, int, int]]:
    """Blocks of a grid of ``shape`` (array order) that each hold at most ``chunk`` points, or one line of the
    fastest axis when that alone is longer: ``(a0, a1, b0, b1)``, array axis 0 from ``a0`` to ``a1`` and
    axis 1 from ``b0`` to ``b1`` (the whole axis 1 when a block holds several slabs; a 1-D grid has no axis 1:
    ``b0 = b1 = 0``), in raster order."""
    if len(shape) == 1:
        for a in range(0, shape[0], chunk):
            yield a, min(shape[0], a + chunk), 0, 0
        return
    per_slab = int(np.prod(shape[1:]))
    if per_slab <= chunk:
        step = chunk // per_slab
        for a in range(0, shape[0], step):
            yield a, min(shape[0], a + step), 0, shape[1]
        return
    rows = max(1, chunk // int(np.prod(shape[2:])))
    for a in range(shape[0]):
        for b in range(0, shape[1], rows):
            yield a, a + 1, b, min(shape[1], b + rows)


def _evaluate_lattice(field: nn.Module, shape: tuple[int, ...], bounds, chunk: int,
                      progress: Callable[[int], None] | None, dev) -> np.ndarray:
    """:func:`evaluate_grid` for a field with ``forward_lattice``: blocks of at most ``chunk`` points
    (:func:`lattice_bands`: several of a video's frames or a volume's z slices, or bands of rows of one),
    each a lattice of the per-axis cell centres."""
    d = len(shape)
    axes = [axis_centres(shape[d - 1 - k], *bounds[k]).to(dev) for k in range(d)]  # coordinate order
    per_slab, per_row = int(np.prod(shape[1:])), int(np.prod(shape[2:]))
    out = None
    with torch.no_grad():
        for a0, a1, b0, b1 in lattice_bands(shape, chunk):
            block = axes[:-1] + [axes[-1][a0:a1]]
            if d > 1:
                block[-2] = axes[-2][b0:b1]  # coordinate d-2 is array axis 1
            y = field.forward_lattice(block)  # (a1 - a0, b1 - b0, ..., C)
            if out is None:
                out = np.empty((*shape, y.shape[-1]), dtype=np.float32)
            if d > 1:
                out[a0:a1, b0:b1] = y.float().cpu().numpy()
            else:
                out[a0:a1] = y.float().cpu().numpy()
            if progress is not None:  # points done: the blocks go in raster order
                progress((a1 - 1) * per_slab + b1 * per_row if d > 1 else a1)
    return out
