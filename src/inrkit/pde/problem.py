"""A PDE problem as data: domain, residual, conditions, optional hard constraint, observations, reference.

A user writes a problem in a few lines::

    from inrkit import pde
    problem = pde.Problem(
        name="poisson-1d", domain=pde.Interval(-1, 1),
        residual=lambda x, D, p: -D.dd(0) - torch.pi**2 * torch.sin(torch.pi * x),
        conditions=(pde.Dirichlet(lambda x: torch.sin(torch.pi * x)),),
        reference=lambda x: torch.sin(torch.pi * x))

``residual(x, D, p)`` receives the points ``x (N, d)``, their :class:`~inrkit.pde.derivatives.Derivatives`
``D`` (``D.u``, ``D.d(i)``, ``D.dd(i)``, ``D.lap``, ``D.u_t``, ``D.mixed(i, j)``) and the unknown
coefficients ``p`` (a dict of scalar tensors, empty for a forward problem) and returns ``(N, k)``
residuals (``(N,)`` is read as ``(N, 1)``), zero at the solution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from ..errors import InrkitError
from .domains import Box

PointFn = Callable[[Tensor], Tensor]


Face = tuple[int, int]
"""A face of a box domain: ``(coordinate, side)``, side 0 at the low end and 1 at the high end."""


@dataclass(frozen=True)
class Dirichlet:
    """``u = value(x)`` on the spatial boundary (soft: a mean-square loss term ``name``).

    ``faces``: only these faces (``((0, 0),)`` is ``x = lo``); all of the spatial boundary when None.
    """

    value: PointFn
    name: str = "bc"
    faces: tuple[Face, ...] | None = None


@dataclass(frozen=True)
class Neumann:
    """``du/dn = value(x)`` (outward normal derivative) on the spatial boundary, or on ``faces`` only."""

    value: PointFn
    name: str = "neumann"
    faces: tuple[Face, ...] | None = None


@dataclass(frozen=True)
class Periodic:
    """``u`` equal on the two faces across coordinate ``dim`` (and ``du/dx_dim`` too if ``derivative``)."""

    dim: int = 0
    derivative: bool = True
    name: str = "periodic"


@dataclass(frozen=True)
class Initial:
    """``u = value(x)`` at the initial time."""

    value: PointFn
    name: str = "ic"


@dataclass(frozen=True)
class HardConstraint:
    """``u = g(x) + h(x) N(x)``: conditions that hold exactly (Lagaris et al. 1998).

    ``h`` vanishes where the condition is imposed and ``g`` takes the imposed values there
    (Helmholtz on ``[0, 1]^2``: ``g = 0``, ``h = x (1 - x) y (1 - y)``). Both are parameter-free
    functions ``(N, d) -> (N, 1)``; the conditions they impose need no loss term.

    ``odd``: coordinates in which the solution is odd, ``u(.., -x_i, ..) = -u(.., x_i, ..)``, a symmetry
    that follows from the equation and its data (Burgers with ``u0 = -sin(pi x)``). The network's
    output is then replaced by its odd part, ``(N(x) - N(R x)) / 2`` with ``R`` flipping those
    coordinates' signs; with ``g`` odd and ``h`` even in them, ``u`` is odd exactly, so a front on
    the symmetry plane cannot drift off it. Reflection is about 0: the domain must be symmetric.
    """

    g: PointFn
    h: PointFn
    imposes: tuple[str, ...] = ("bc",)
    odd: tuple[int, ...] = ()


@dataclass(frozen=True)
class Observations:
    """Measured values ``values (M, m)`` at ``coords (M, d)`` (inverse problems): a loss term ``data``."""

    coords: Tensor
    values: Tensor

    def __post_init__(self):
        if self.coords.dim() != 2 or self.values.dim() != 2 or self.coords.shape[0] != self.values.shape[0]:
            raise InrkitError(f"observations need coords (M, d) and values (M, m) with the same M, got "
                              f"{tuple(self.coords.shape)} and {tuple(self.values.shape)}")
        if self.coords.shape[0] == 0:
            raise InrkitError("observations are empty")
        if not (torch.isfinite(self.coords).all() and torch.isfinite(self.values).all()):
            raise InrkitError("observations contain NaN or infinite values")


@dataclass(frozen=True)
class Problem:
    """Everything that defines a PDE problem; solving settings live elsewhere (:class:`~inrkit.pde.solve.SolveConfig`).

    ``second``: the coordinates whose pure second partials forward mode precomputes (default:
    the space coordinates). ``laplacian=True``: the residual takes second derivatives only as
    ``D.lap``; forward mode then carries their sum as one stream (Li et al. 2024), cheaper in
    2-D and above, and ``D.dd(i)`` falls back to autograd. ``unknowns``: coefficients to recover with their initial guesses
    (inverse problems; ``truth`` holds the values used to make the observations, for the report).
    ``reference(x) -> (N, m)``: the exact or classical-solver solution, float64. ``grid``: the
    dense evaluation grid sizes per coordinate. ``settings``: the solver defaults this problem
    suggests (DeepXDE's example settings for the built-in ones), overridable on the command line.
    """

    name: str
    domain: Box
    residual: Callable[[Tensor, object, dict[str, Tensor]], Tensor]
    conditions: tuple = ()
    hard: HardConstraint | None = None
    reference: PointFn | None = None
    observations: Observations | None = None
    unknowns: dict[str, float] = field(default_factory=dict)
    truth: dict[str, float] = field(default_factory=dict)
    second: tuple[int, ...] | None = None
    laplacian: bool = False
    grid: tuple[int, ...] | None = None
    out_dim: int = 1
    description: str = ""
    equation: str = ""
    settings: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.domain, Box):
            raise InrkitError("a problem's domain must be an inrkit.pde Box (Interval, Rectangle, with_time)")
        names = [c.name for c in self.conditions]
        if len(set(names)) != len(names):
            raise InrkitError(f"condition names must differ, got {names}")
        for c in self.conditions:
            if isinstance(c, Initial) and not self.domain.time:
                raise InrkitError(f"problem {self.name}: an initial condition needs a domain with time")
            if isinstance(c, Periodic) and c.dim not in self.domain.spatial:
                raise InrkitError(f"problem {self.name}: periodic coordinate {c.dim} is not a space coordinate")
            for face in getattr(c, "faces", None) or ():
                if (not isinstance(face, tuple) or len(face) != 2 or face[0] not in self.domain.spatial
                        or face[1] not in (0, 1)):
                    raise InrkitError(f"problem {self.name}: condition {c.name} names face {face!r}; a face is "
                                      f"(space coordinate, 0 or 1) with the coordinate in {self.domain.spatial}")
        if self.hard is not None and self.hard.odd != ():
            self._check_odd(self.hard)
        for k, v in self.unknowns.items():
            if not isinstance(v, (int, float)):
                raise InrkitError(f"unknown coefficient {k!r} needs a number as its initial guess")

    def _check_odd(self, hard: HardConstraint) -> None:
        """``odd`` names space coordinates of a domain symmetric about 0, and ``g`` is odd and ``h`` even in
        them (checked at 64 points), so that ``u = g + h N_odd`` is odd."""
        odd = hard.odd
        if not isinstance(odd, tuple) or not all(isinstance(i, int) and not isinstance(i, bool) for i in odd):
            raise InrkitError(f"problem {self.name}: odd must be a tuple of coordinate indices, got {odd!r}")
        for i in odd:
            if i not in self.domain.spatial or abs(self.domain.lo[i] + self.domain.hi[i]) > 1e-12:
                raise InrkitError(f"problem {self.name}: odd coordinate {i} must be a space coordinate whose "
                                  "domain is symmetric about 0")
        x = self.domain.interior(64, "uniform", torch.Generator().manual_seed(0)).double()
        sign = torch.ones(x.shape[1], dtype=x.dtype)
        sign[list(odd)] = -1.0
        with torch.no_grad():
            g, g_r, h, h_r = hard.g(x), hard.g(x * sign), hard.h(x), hard.h(x * sign)
        tol = 1e-6 * (1.0 + float(g.abs().max().nan_to_num(0.0)) + float(h.abs().max().nan_to_num(0.0)))
        if not (float((g_r + g).abs().max()) <= tol and float((h_r - h).abs().max()) <= tol):  # NaN fails too
            names = ", ".join(self.domain.names[i] for i in odd)
            raise InrkitError(f"problem {self.name}: a solution odd in {names} needs g odd and h even in "
                              f"{names} (g(-x) = -g(x), h(-x) = h(x)); the hard constraint's are not")

    @property
    def second_dims(self) -> tuple[int, ...]:
        return self.domain.spatial if self.second is None else tuple(self.second)

    @property
    def eval_grid(self) -> tuple[int, ...]:
        if self.grid is not None:
            return tuple(self.grid)
        return {1: (1001,), 2: (201, 201), 3: (41, 41, 41)}[min(self.domain.dim, 3)]

    def soft_conditions(self) -> tuple:
        """The conditions that need a loss term (those no hard constraint imposes)."""
        imposed = set(self.hard.imposes) if self.hard is not None else set()
        return tuple(c for c in self.conditions if c.name not in imposed)
