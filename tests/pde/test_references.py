"""Every built-in reference solution satisfies its PDE; Cole-Hopf Burgers agrees with a fine finite-difference solve."""

import math

import numpy as np
import pytest
import torch

from inrkit import pde


class FiniteDifferences:
    """Stands in for :class:`inrkit.pde.Derivatives`: central differences of the reference (float64)."""

    def __init__(self, fn, x, spatial, time, h=1e-4):
        self.fn, self.x, self.h = fn, x, h
        self.spatial, self.time = spatial, time
        self.u = fn(x)

    def _shift(self, i, s):
        y = self.x.clone()
        y[:, i] += s
        return self.fn(y)

    def d(self, i):
        return (self._shift(i, self.h) - self._shift(i, -self.h)) / (2 * self.h)

    def dd(self, i):
        return (self._shift(i, self.h) - 2 * self.u + self._shift(i, -self.h)) / self.h ** 2

    @property
    def lap(self):
        return sum(self.dd(i) for i in self.spatial)

    @property
    def u_t(self):
        return self.d(self.time)


@pytest.mark.parametrize("name", ["poisson-1d", "diffusion-1d", "heat", "helmholtz-2d", "burgers"])
def test_reference_satisfies_pde(name):
    p = pde.get_problem(name)
    g = torch.Generator().manual_seed(0)
    dom = p.domain
    x = dom.interior(200, "uniform", g)
    if name == "burgers":  # away from t = 0 (the kernel's width) and from the front at x = 0
        x[:, 1] = 0.05 + 0.9 * x[:, 1]
        x = x[(x[:, 0].abs() > 0.2) | (x[:, 1] < 0.25)]
    lo, hi = torch.tensor(dom.lo), torch.tensor(dom.hi)
    x = lo + 0.02 * (hi - lo) + 0.96 * (x - lo)  # stencils stay inside
    D = FiniteDifferences(p.reference, x, dom.spatial, dom.time_index, h=1e-3 if name == "burgers" else 1e-4)
    r = p.residual(x, D, {})
    scale = D.u.abs().max() * (1 + (4 * math.pi) ** 2)
    assert r.abs().max() / scale < 1e-5


def test_reference_meets_conditions():
    for name in ["poisson-1d", "diffusion-1d", "heat", "helmholtz-2d", "burgers"]:
        p = pde.get_problem(name)
        g = torch.Generator().manual_seed(1)
        xb, _ = p.domain.boundary(50, "uniform", g)
        assert p.reference(xb).abs().max() < 1e-10, name
        if p.domain.time:
            x0 = p.domain.initial(50, "uniform", g)
            ic = [c for c in p.conditions if isinstance(c, pde.Initial)][0]
            assert torch.allclose(p.reference(x0), ic.value(x0).double(), atol=1e-12), name


def test_cole_hopf_matches_finite_difference_solve():
    t = 0.2
    x, u = pde.burgers_finite_difference(801, t)
    ref = pde.burgers_cole_hopf(x, np.full_like(x, t))
    assert np.linalg.norm(u - ref) / np.linalg.norm(ref) < 1e-3
    assert np.allclose(pde.burgers_cole_hopf(x, np.zeros_like(x)), -np.sin(np.pi * x))
