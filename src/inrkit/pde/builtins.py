"""The built-in problems, with the settings of DeepXDE's own examples (Lu et al. 2021, SIAM Review 63, 208).

Each ``settings`` dict holds what DeepXDE's example uses (``examples/pinn_forward/*.py`` in
lululxvi/deepxde, read for the numbers only): network ``width`` x ``layers``, point counts
(``points`` interior, ``boundary``, ``initial``), Adam steps and learning rate, and whether an
L-BFGS phase follows (DeepXDE's default L-BFGS budget: 15,000 iterations). ``inrkit`` then
chooses its own solver settings in ``recipe`` (what ``inrkit pde solve`` uses by default).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InrkitError
from .domains import Interval, Rectangle
from .problem import Dirichlet, HardConstraint, Initial, Neumann, Observations, Periodic, Problem
from .reference import burgers_cole_hopf

PI = math.pi


def _np(fn, cache: bool = False):
    """A reference written on numpy columns, called on a tensor: ``(N, d) -> (N, 1)`` float64.

    ``cache``: remember the last few point sets' values (the Cole-Hopf quadrature on the
    evaluation grid costs seconds, and a solve and its report ask for the same grid).
    """
    memo: dict = {}

    def ref(x: torch.Tensor) -> torch.Tensor:
        a = x.detach().cpu().double().numpy()
        key = (a.shape, hash(a.tobytes())) if cache else None
        if key is not None and key in memo:
            return memo[key].clone()
        out = torch.from_numpy(np.asarray(fn(a), np.float64).reshape(-1, 1))
        if key is not None:
            if len(memo) >= 4:
                memo.pop(next(iter(memo)))
            memo[key] = out.clone()
        return out
    return ref


def poisson_1d() -> Problem:
    """-u'' = pi^2 sin(pi x) on [-1, 1], u(+-1) = 0; u = sin(pi x) (DeepXDE Poisson_Dirichlet_1d.py)."""
    return Problem(
        name="poisson-1d", domain=Interval(-1, 1),
        residual=lambda x, D, p: -D.dd(0) - PI ** 2 * torch.sin(PI * x[:, :1]),
        conditions=(Dirichlet(lambda x: torch.zeros_like(x[:, :1])),),
        hard=HardConstraint(g=lambda x: torch.zeros_like(x[:, :1]), h=lambda x: 1 - x[:, :1] ** 2),
        reference=_np(lambda a: np.sin(PI * a[:, 0])), grid=(1000,),
        equation="-u'' = pi^2 sin(pi x), x in [-1, 1], u(-1) = u(1) = 0",
        description="1-D Poisson with Dirichlet conditions; exact u = sin(pi x)",
        settings=dict(width=50, layers=3, points=16, boundary=2, initial=0, adam_steps=10_000, lr=1e-3,
                      lbfgs=False, activation="tanh", init="Glorot uniform"))


def poisson_neumann_1d() -> Problem:
    """u'' = 2 on [-1, 1], u(-1) = 0, u'(1) = 4; u = (x + 1)^2 (DeepXDE Poisson_Neumann_1d.py).

    A mixed problem: the Dirichlet end is imposed exactly (``u = (x + 1) N(x)``), the Neumann end
    is a loss term on the outward derivative at ``x = 1``.
    """
    return Problem(
        name="poisson-neumann-1d", domain=Interval(-1, 1),
        residual=lambda x, D, p: D.dd(0) - 2.0,
        conditions=(Dirichlet(lambda x: torch.zeros_like(x[:, :1]), faces=((0, 0),)),
                    Neumann(lambda x: 2.0 * (x[:, :1] + 1.0), faces=((0, 1),))),
        hard=HardConstraint(g=lambda x: torch.zeros_like(x[:, :1]), h=lambda x: 1 + x[:, :1]),
        reference=_np(lambda a: (a[:, 0] + 1.0) ** 2), grid=(1000,),
        equation="u'' = 2, x in [-1, 1], u(-1) = 0, u'(1) = 4",
        description="1-D Poisson with a Dirichlet and a Neumann end; exact u = (x + 1)^2",
        settings=dict(width=50, layers=3, points=16, boundary=2, initial=0, adam_steps=10_000, lr=1e-3,
                      lbfgs=False, activation="tanh", init="Glorot uniform"))


def convection(beta: float = 1.0) -> Problem:
    """u_t + beta u_x = 0 on [0, 2 pi] x [0, 1], u(x, 0) = sin x, periodic in x; u = sin(x - beta t).

    The convection benchmark of Krishnapriyan et al. 2021 ("Characterizing possible failure modes
    in physics-informed neural networks", NeurIPS, sec. 3.1), where plain PINNs fail for large
    ``beta`` (their Fig. 1: beta = 30 and above); beta = 1 here. Periodicity is a loss term on
    values and first derivatives at x = 0 and 2 pi; the initial condition is imposed exactly.
    """
    return Problem(
        name="convection", domain=Interval(0, 2 * PI).with_time(0, 1),
        residual=lambda x, D, p: D.u_t + beta * D.d(0),
        conditions=(Periodic(0), Initial(lambda x: torch.sin(x[:, :1]))),
        hard=HardConstraint(g=lambda x: torch.sin(x[:, :1]), h=lambda x: x[:, 1:2], imposes=("ic",)),
        reference=_np(lambda c: np.sin(c[:, 0] - beta * c[:, 1])), grid=(256, 101),
        equation=f"u_t + {beta:g} u_x = 0, u(x, 0) = sin x, u(0, t) = u(2 pi, t)",
        description=f"convection with periodic boundaries (beta = {beta:g}); exact u = sin(x - {beta:g} t)",
        settings=dict(width=50, layers=4, points=1000, boundary=100, initial=100, adam_steps=10_000, lr=1e-3,
                      lbfgs=True, activation="tanh", init="Glorot normal"))


def _diffusion_source(x: torch.Tensor) -> torch.Tensor:
    xs, t = x[:, :1], x[:, 1:2]
    return torch.exp(-t) * (torch.sin(PI * xs) - PI ** 2 * torch.sin(PI * xs))


def diffusion_1d() -> Problem:
    """u_t = u_xx - e^-t (sin pi x - pi^2 sin pi x), x in [-1, 1], t in [0, 1]; u = e^-t sin(pi x) (DeepXDE diffusion_1d.py)."""
    exact = lambda x: torch.exp(-x[:, 1:2]) * torch.sin(PI * x[:, :1])  # noqa: E731
    return Problem(
        name="diffusion-1d", domain=Interval(-1, 1).with_time(0, 1),
        residual=lambda x, D, p: D.u_t - D.dd(0) + _diffusion_source(x),
        conditions=(Dirichlet(exact), Initial(exact)),
        hard=HardConstraint(g=lambda x: torch.sin(PI * x[:, :1]),  # u0 at t = 0, zero at x = +-1
                            h=lambda x: (1 - x[:, :1] ** 2) * (1 - torch.exp(-x[:, 1:2])), imposes=("bc", "ic")),
        reference=_np(lambda a: np.exp(-a[:, 1]) * np.sin(PI * a[:, 0])), grid=(201, 101),
        equation="u_t = u_xx - e^-t (sin(pi x) - pi^2 sin(pi x)), u(x, 0) = sin(pi x), u(+-1, t) = 0",
        description="1-D diffusion with a source; exact u = e^-t sin(pi x)",
        settings=dict(width=32, layers=3, points=40, boundary=20, initial=10, adam_steps=10_000, lr=1e-3,
                      lbfgs=False, activation="tanh", init="Glorot uniform"))


def heat() -> Problem:
    """u_t = 0.4 u_xx on [0, 1] x [0, 1], u(x, 0) = sin(pi x), u(0, t) = u(1, t) = 0 (DeepXDE heat.py)."""
    a = 0.4
    return Problem(
        name="heat", domain=Interval(0, 1).with_time(0, 1),
        residual=lambda x, D, p: D.u_t - a * D.dd(0),
        conditions=(Dirichlet(lambda x: torch.zeros_like(x[:, :1])), Initial(lambda x: torch.sin(PI * x[:, :1]))),
        hard=HardConstraint(g=lambda x: torch.sin(PI * x[:, :1]),
                            h=lambda x: x[:, :1] * (1 - x[:, :1]) * x[:, 1:2], imposes=("bc", "ic")),
        reference=_np(lambda c: np.exp(-PI ** 2 * a * c[:, 1]) * np.sin(PI * c[:, 0])), grid=(256, 201),
        equation="u_t = 0.4 u_xx, u(x, 0) = sin(pi x), u(0, t) = u(1, t) = 0",
        description="heat equation; exact u = exp(-0.4 pi^2 t) sin(pi x)",
        settings=dict(width=20, layers=3, points=2540, boundary=80, initial=160, adam_steps=20_000, lr=1e-3,
                      lbfgs=True, activation="tanh", init="Glorot normal"))


def helmholtz_2d() -> Problem:
    """-u_xx - u_yy - k0^2 u = k0^2 sin(k0 x) sin(k0 y) on [0, 1]^2, u = 0 on the boundary, k0 = 4 pi (DeepXDE Helmholtz_Dirichlet_2d.py)."""
    k0 = 4 * PI
    return Problem(
        name="helmholtz-2d", domain=Rectangle((0, 0), (1, 1)),
        residual=lambda x, D, p: (-D.lap - k0 ** 2 * D.u
                                  - k0 ** 2 * torch.sin(k0 * x[:, :1]) * torch.sin(k0 * x[:, 1:2])),
        conditions=(Dirichlet(lambda x: torch.zeros_like(x[:, :1])),),
        hard=HardConstraint(g=lambda x: torch.zeros_like(x[:, :1]),
                            h=lambda x: x[:, :1] * (1 - x[:, :1]) * x[:, 1:2] * (1 - x[:, 1:2])),
        reference=_np(lambda c: np.sin(k0 * c[:, 0]) * np.sin(k0 * c[:, 1])), grid=(101, 101), laplacian=True,
        equation="-u_xx - u_yy - k0^2 u = k0^2 sin(k0 x) sin(k0 y), u = 0 on the boundary, k0 = 4 pi",
        description="2-D Helmholtz, Dirichlet; exact u = sin(4 pi x) sin(4 pi y)",
        settings=dict(width=150, layers=3, points=400, boundary=80, initial=0, adam_steps=5000, lr=1e-3,
                      lbfgs=False, activation="sin", init="Glorot uniform"))


def burgers(nu: float = 0.01 / PI) -> Problem:
    """u_t + u u_x = nu u_xx on [-1, 1] x [0, 0.99], u0 = -sin(pi x), u(+-1, t) = 0 (DeepXDE Burgers.py)."""
    return Problem(
        name="burgers", domain=Interval(-1, 1).with_time(0, 0.99),
        residual=lambda x, D, p: D.u_t + D.u * D.d(0) - nu * D.dd(0),
        conditions=(Dirichlet(lambda x: torch.zeros_like(x[:, :1])),
                    Initial(lambda x: -torch.sin(PI * x[:, :1]))),
        hard=HardConstraint(g=lambda x: -torch.sin(PI * x[:, :1]),
                            h=lambda x: (1 - x[:, :1] ** 2) * x[:, 1:2], imposes=("bc", "ic"), odd=(0,)),
        reference=_np(lambda c: burgers_cole_hopf(c[:, 0], c[:, 1], nu), cache=True), grid=(256, 100),
        equation="u_t + u u_x = (0.01 / pi) u_xx, u(x, 0) = -sin(pi x), u(+-1, t) = 0",
        description="viscous Burgers (a steep front forms at x = 0; u is odd in x, imposed exactly); reference "
                    "by Cole-Hopf and quadrature",
        settings=dict(width=20, layers=3, points=2540, boundary=80, initial=160, adam_steps=15_000, lr=1e-3,
                      lbfgs=True, activation="tanh", init="Glorot normal"))


def diffusion_inverse(noise: float = 0.01, observations: int = 50, seed: int = 0) -> Problem:
    """Recover C in u_t = C u_xx - e^-t (sin pi x - pi^2 sin pi x) (true C = 1) from noisy values of u.

    DeepXDE's ``examples/pinn_inverse/diffusion_1d_inverse.py`` poses the same problem (initial
    guess C = 2, the same network and point counts) with 10 noise-free values at t = 1 and
    50,000 Adam steps; here the observations are ``observations`` points drawn uniformly in the
    domain (fixed by ``seed``), values of the exact solution with Gaussian noise of standard
    deviation ``noise``, and ``settings`` keeps 10,000 Adam steps (the forward diffusion
    example's budget; ``example_adam_steps`` records the example's) so the benchmark stays short.
    """
    g = torch.Generator().manual_seed(seed)
    dom = Interval(-1, 1).with_time(0, 1)
    xo = dom.interior(observations, "uniform", g)
    uo = torch.exp(-xo[:, 1:2]) * torch.sin(PI * xo[:, :1])
    uo = uo + noise * torch.randn(uo.shape, generator=g, dtype=torch.float64)
    base = diffusion_1d()
    return Problem(
        name="diffusion-inverse", domain=dom,
        residual=lambda x, D, p: D.u_t - p["C"] * D.dd(0) + _diffusion_source(x),
        conditions=base.conditions, hard=base.hard, reference=base.reference, grid=base.grid,
        observations=Observations(xo, uo), unknowns={"C": 2.0}, truth={"C": 1.0},
        equation="u_t = C u_xx - e^-t (sin(pi x) - pi^2 sin(pi x)); C unknown (true 1), initial guess 2",
        description=f"inverse: recover the diffusion coefficient from {observations} noisy values (noise {noise:g})",
        settings=dict(width=32, layers=3, points=40, boundary=20, initial=10, adam_steps=10_000, lr=1e-3,
                      lbfgs=False, activation="tanh", init="Glorot uniform", example_adam_steps=50_000))


PROBLEMS = {"poisson-1d": poisson_1d, "poisson-neumann-1d": poisson_neumann_1d, "diffusion-1d": diffusion_1d,
            "heat": heat, "helmholtz-2d": helmholtz_2d, "burgers": burgers, "convection": convection,
            "diffusion-inverse": diffusion_inverse}
"""Built-in problems by name, each a function returning a fresh :class:`Problem`."""


def get_problem(name: str) -> Problem:
    """The built-in problem ``name``; one-line error naming the choices otherwise."""
    if name not in PROBLEMS:
        raise InrkitError(f"unknown problem {name!r}; choose from {', '.join(PROBLEMS)} (inrkit pde list)")
    return PROBLEMS[name]()
