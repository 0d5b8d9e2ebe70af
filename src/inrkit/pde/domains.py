"""Domains of PDE problems: axis-aligned boxes in space, optionally times an interval of time.

A :class:`Box` is ``[lo_1, hi_1] x ... x [lo_d, hi_d]``; with ``time=True`` its last coordinate
is time ``t`` in ``[lo_d, hi_d]`` and the others are space. Coordinates are the problem's own
(``x`` in ``[-1, 1]`` for Burgers, ``[0, 1]^2`` for Helmholtz), channels-last ``(N, d)``, so a
field is trained and evaluated where the problem is stated.

Points are drawn uniformly or from a scrambled low-discrepancy sequence (Sobol or Halton,
``scipy.stats.qmc``; Owen 1998 scrambling), each draw seeded from the caller's
``torch.Generator`` so a seed fixes every batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import InrkitError

METHODS = ("uniform", "sobol", "halton")
"""How collocation points are drawn."""


class QMCStream:
    """Successive blocks of one scrambled Sobol or Halton sequence per dimension.

    Building a scrambled engine costs milliseconds, as much as a training step of a small PINN,
    so a sampler keeps one per dimension and draws the next ``n`` points each step: the union
    of the blocks stays a low-discrepancy set. Seeds come from the first call's generator.
    """

    def __init__(self, method: str):
        if method not in ("sobol", "halton"):
            raise InrkitError(f"unknown low-discrepancy sequence {method!r}")
        self.method = method
        self.engines: dict[int, object] = {}

    def random(self, n: int, dim: int, generator: torch.Generator | None) -> Tensor:
        import warnings

        from scipy.stats import qmc

        if dim not in self.engines:
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
            self.engines[dim] = (qmc.Sobol(dim, scramble=True, seed=seed) if self.method == "sobol"
                                 else qmc.Halton(dim, scramble=True, seed=seed))
        with warnings.catch_warnings():  # Sobol is balanced at powers of two; other sizes are prefixes
            warnings.simplefilter("ignore")
            return torch.from_numpy(np.asarray(self.engines[dim].random(n), dtype=np.float64))


def unit_points(n: int, dim: int, method, generator: torch.Generator | None) -> Tensor:
    """``n`` points in ``[0, 1)^dim`` (float64): uniform, or a scrambled Sobol / Halton set.

    ``method``: ``"uniform"``, ``"sobol"``, ``"halton"`` (a fresh sequence) or a :class:`QMCStream`.
    """
    if n > 0 and dim > 0 and isinstance(method, QMCStream):
        return method.random(n, dim, generator)
    if method not in METHODS:
        raise InrkitError(f"unknown sampling method {method!r}; choose from {', '.join(METHODS)}")
    if n <= 0 or dim <= 0:
        return torch.zeros(max(n, 0), max(dim, 0), dtype=torch.float64)
    if method == "uniform":
        return torch.rand(n, dim, generator=generator, dtype=torch.float64)
    from scipy.stats import qmc

    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    engine = qmc.Sobol(dim, scramble=True, seed=seed) if method == "sobol" else qmc.Halton(dim, scramble=True,
                                                                                          seed=seed)
    # Sobol is balanced at powers of two; other sizes are a prefix (scipy warns, harmlessly).
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.from_numpy(np.asarray(engine.random(n), dtype=np.float64))


@dataclass(frozen=True)
class Box:
    """``[lo, hi]`` per coordinate; ``time=True``: the last coordinate is time (``names[-1] == "t"``)."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    time: bool = False

    def __post_init__(self):
        lo, hi = tuple(float(v) for v in self.lo), tuple(float(v) for v in self.hi)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        if len(lo) != len(hi) or not lo:
            raise InrkitError(f"a domain needs as many lower as upper bounds (got {len(lo)} and {len(hi)})")
        if not all(math.isfinite(a) and math.isfinite(b) for a, b in zip(lo, hi)):
            raise InrkitError("a domain's bounds must be finite")
        for i, (a, b) in enumerate(zip(lo, hi)):
            if not b > a:
                raise InrkitError(f"empty domain: coordinate {self.names[i]} runs from {a:g} to {b:g}")

    # ---- description -------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return len(self.lo)

    @property
    def spatial(self) -> tuple[int, ...]:
        """Indices of the space coordinates."""
        return tuple(range(self.dim - 1 if self.time else self.dim))

    @property
    def time_index(self) -> int | None:
        return self.dim - 1 if self.time else None

    @property
    def names(self) -> tuple[str, ...]:
        space = ("x", "y", "z", "w")[: len(self.lo) - (1 if self.time else 0)]
        if len(space) < len(self.lo) - (1 if self.time else 0):
            space = tuple(f"x{i}" for i in range(len(self.lo) - (1 if self.time else 0)))
        return space + (("t",) if self.time else ())

    def describe(self) -> str:
        return " x ".join(f"{n} in [{a:g}, {b:g}]" for n, a, b in zip(self.names, self.lo, self.hi))

    def with_time(self, t0: float, t1: float) -> "Box":
        """This spatial box times ``[t0, t1]``."""
        if self.time:
            raise InrkitError("this domain already has a time coordinate")
        return Box(self.lo + (t0,), self.hi + (t1,), time=True)

    def _scale(self, u: Tensor, dims: tuple[int, ...]) -> Tensor:
        lo = torch.tensor([self.lo[i] for i in dims], dtype=u.dtype)
        hi = torch.tensor([self.hi[i] for i in dims], dtype=u.dtype)
        return lo + (hi - lo) * u

    # ---- points ------------------------------------------------------------------------
    def interior(self, n: int, method: str = "uniform", generator: torch.Generator | None = None) -> Tensor:
        """``n`` points inside the domain (space and time): ``(n, d)`` float64."""
        return self._scale(unit_points(n, self.dim, method, generator), tuple(range(self.dim)))

    def boundary(self, n: int, method: str = "uniform", generator: torch.Generator | None = None,
                 faces: tuple[tuple[int, int], ...] | None = None) -> tuple[Tensor, Tensor]:
        """``n`` points on the spatial boundary (times any time) and their outward unit normals.

        Faces are chosen in proportion to their measure (a 1-D interval: its two ends equally);
        ``faces`` (``(coordinate, side)`` pairs, side 1 the high end) restricts them to those.
        Returns ``points (n, d)`` and ``normals (n, d)`` (zero in the time column), float64.
        """
        sp = self.spatial
        u = unit_points(n, self.dim, method, generator)
        pts = self._scale(u, tuple(range(self.dim)))
        normals = torch.zeros_like(pts)
        if n == 0:
            return pts, normals
        chosen = faces
        faces = []  # (dim, side) with its measure
        for i in sp:
            others = [self.hi[j] - self.lo[j] for j in range(self.dim) if j != i]
            measure = float(np.prod(others)) if others else 1.0
            faces += [(i, side, measure) for side in (0, 1) if chosen is None or (i, side) in chosen]
        if not faces:
            raise InrkitError(f"no boundary faces among {chosen!r}")
        weights = torch.tensor([f[2] for f in faces], dtype=torch.float64)
        pick = torch.multinomial(weights, n, replacement=True, generator=generator)
        for k, (i, side, _) in enumerate(faces):
            rows = pick == k
            pts[rows, i] = self.hi[i] if side else self.lo[i]
            normals[rows, i] = 1.0 if side else -1.0
        return pts, normals

    def initial(self, n: int, method: str = "uniform", generator: torch.Generator | None = None) -> Tensor:
        """``n`` points at the initial time ``t = lo[-1]`` (space uniform or low-discrepancy)."""
        if not self.time:
            raise InrkitError("this domain has no time coordinate, so no initial condition")
        pts = self.interior(n, method, generator)
        pts[:, -1] = self.lo[-1]
        return pts

    def periodic_pairs(self, n: int, dim: int, method: str = "uniform",
                       generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` pairs of points on the two faces across coordinate ``dim`` (same other coordinates)."""
        a = self.interior(n, method, generator)
        b = a.clone()
        a[:, dim], b[:, dim] = self.lo[dim], self.hi[dim]
        return a, b

    def grid(self, sizes: tuple[int, ...]) -> Tensor:
        """A regular grid including the ends: ``(sizes[0] * ... , d)`` float64, first coordinate slowest."""
        if len(sizes) != self.dim:
            raise ValueError(f"need {self.dim} grid sizes, got {len(sizes)}")
        axes = [torch.linspace(a, b, int(s), dtype=torch.float64) for a, b, s in zip(self.lo, self.hi, sizes)]
        mesh = torch.meshgrid(*axes, indexing="ij")
        return torch.stack([m.reshape(-1) for m in mesh], -1)


def Interval(a: float, b: float) -> Box:
    """``[a, b]``."""
    return Box((a,), (b,))


def Rectangle(lo: tuple[float, float], hi: tuple[float, float]) -> Box:
    """``[lo_x, hi_x] x [lo_y, hi_y]``."""
    return Box(tuple(lo), tuple(hi))
