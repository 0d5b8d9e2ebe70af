"""Short solves: Poisson 1-D to < 1e-2, the stall detector, divergence, the inverse problem within 5 %."""

import dataclasses

import pytest
import torch

from inrkit import pde
from inrkit.errors import InrkitError


def test_poisson_short_solve():
    p = pde.get_problem("poisson-1d")
    cfg = pde.SolveConfig(arch="tanh", width=20, layers=2, points=32, adam_steps=300, lr=3e-3, lbfgs_steps=100,
                          float64=True, eval_every=0)
    r = pde.solve(p, cfg)
    assert r.status == "ok"
    assert r.rel_l2 < 1e-2
    assert [ph["phase"] for ph in r.phases] == ["adam", "lbfgs"]
    assert r.phases[1]["iterations"] > 20  # the L-BFGS phase really ran
    assert {"residual", "loss"} <= set(r.history[-1])


def test_lbfgs_rounds_draw_fresh_points_and_count_every_iteration():
    p = pde.get_problem("poisson-1d")
    cfg = pde.SolveConfig(arch="tanh", width=16, layers=2, points=24, adam_steps=100, lr=3e-3, lbfgs_steps=90,
                          lbfgs_rounds=3, lbfgs_per_step=10, float64=True, eval_every=0)
    r = pde.solve(p, cfg)
    lb = r.phases[-1]
    assert r.status == "ok" and lb["rounds"] == 3
    assert 30 < lb["iterations"] <= 90 and lb["steps"] <= 9
    assert r.rel_l2 < 5e-2
    with pytest.raises(InrkitError):
        dataclasses.replace(cfg, lbfgs_rounds=0).check()


def test_soft_constraints_log_each_term():
    p = pde.get_problem("diffusion-1d")
    cfg = pde.SolveConfig(arch="tanh", width=8, layers=2, points=16, boundary=8, initial=8, adam_steps=5,
                          hard=False, eval_every=0, weights={"bc": 10.0})
    r = pde.solve(p, cfg)
    assert {"residual", "bc", "ic", "loss"} <= set(r.history[-1])
    row = r.history[-1]
    assert row["loss"] == pytest.approx(row["residual"] + 10.0 * row["bc"] + row["ic"], rel=1e-5)


def test_stall_detector_fires_when_lbfgs_cannot_improve():
    base = pde.get_problem("poisson-1d")
    # a residual the parameters cannot change: the loss is constant, so L-BFGS cannot improve it
    p = dataclasses.replace(base, residual=lambda x, D, q: x + 0.0 * D.u)
    cfg = pde.SolveConfig(arch="tanh", width=8, layers=2, points=16, adam_steps=0, lbfgs_steps=200, lbfgs_per_step=5,
                          stall_patience=3, eval_every=0)
    msgs = []
    r = pde.solve(p, cfg, log=msgs.append)
    lb = r.phases[-1]
    assert lb["stalled"] and lb["steps"] < 40
    assert any("stalled" in m for m in msgs) and any("stalled" in m for m in r.messages)


def test_lbfgs_divergence_keeps_last_good_weights():
    base = pde.get_problem("poisson-1d")
    calls = {"n": 0}

    def residual(x, D, q):
        calls["n"] += 1
        r = -D.dd(0) - torch.pi ** 2 * torch.sin(torch.pi * x)
        return r * float("nan") if calls["n"] > 30 else r

    p = dataclasses.replace(base, residual=residual)
    cfg = pde.SolveConfig(arch="tanh", width=8, layers=2, points=16, adam_steps=10, lbfgs_steps=500,
                          lbfgs_per_step=5, float64=True, eval_every=0)
    r = pde.solve(p, cfg)
    assert r.status == "diverged"
    assert all(torch.isfinite(q).all() for q in r.model.parameters())
    assert any("diverged" in m for m in r.messages)
    assert r.rel_l2 is not None and r.rel_l2 == r.rel_l2


def test_inverse_problem_recovers_coefficient():
    p = pde.get_problem("diffusion-inverse")
    cfg = pde.recipe(p, adam_steps=300, lbfgs_steps=150, points=64, width=20, eval_every=0)
    r = pde.solve(p, cfg)
    assert abs(r.coefficients["C"] - 1.0) < 0.05
    assert r.rel_l2 < 2e-2


def test_bad_input():
    with pytest.raises(InrkitError, match="unknown problem"):
        pde.get_problem("nosuch")
    with pytest.raises(InrkitError, match="empty domain"):
        pde.Interval(1, 1)
    with pytest.raises(InrkitError, match="empty domain"):
        pde.Rectangle((0, 0), (1, -1))
    with pytest.raises(InrkitError, match="NaN"):
        pde.Observations(torch.zeros(3, 2), torch.tensor([[0.0], [float("nan")], [1.0]]))
    p = dataclasses.replace(pde.get_problem("poisson-1d"), residual=lambda x, D, q: D.u.reshape(-1)[:3])
    with pytest.raises(InrkitError, match="returned shape"):
        pde.solve(p, pde.SolveConfig(width=4, layers=1, points=8, adam_steps=1, eval_every=0))
    with pytest.raises(InrkitError, match="loss weights for unknown terms"):
        pde.solve(pde.get_problem("heat"), pde.SolveConfig(width=4, layers=1, points=8, adam_steps=1,
                                                           weights={"nope": 1.0}))
    with pytest.raises(InrkitError, match="unknown architecture"):
        pde.SolveConfig(arch="resnet").check()


def test_rar_adds_points():
    p = pde.get_problem("poisson-1d")
    cfg = pde.SolveConfig(arch="tanh", width=8, layers=2, points=16, adam_steps=30, rar_every=10, rar_add=5,
                          eval_every=0)
    r = pde.solve(p, cfg)
    assert r.history[-1]["step"] == 30
    assert r.rar_points == 10  # at steps 10 and 20 (none on the last step), 5 points each


def test_mixed_dirichlet_neumann_and_periodic_problems_solve():
    """The two built-ins that exercise Neumann (one end only) and periodic conditions reach small errors."""
    p = pde.get_problem("poisson-neumann-1d")
    cfg = pde.SolveConfig(arch="tanh", width=20, layers=2, points=32, boundary=2, adam_steps=200, lr=3e-3,
                          lbfgs_steps=100, float64=True, eval_every=0)
    r = pde.solve(p, cfg)
    assert r.status == "ok" and r.rel_l2 < 1e-2
    assert "neumann" in r.history[-1] and "bc" not in r.history[-1]  # the Dirichlet end is imposed exactly
    c = pde.get_problem("convection")
    cfg = pde.SolveConfig(arch="tanh", width=16, layers=2, points=128, boundary=32, initial=32, adam_steps=200,
                          lr=3e-3, lbfgs_steps=100, float64=True, eval_every=0)
    r = pde.solve(c, cfg)
    assert r.status == "ok" and r.rel_l2 < 5e-2
    assert "periodic" in r.history[-1]


def test_faces_restrict_boundary_points_and_bad_faces_are_refused():
    dom = pde.Rectangle((0, 0), (2, 1))
    pts, normals = dom.boundary(500, "uniform", torch.Generator().manual_seed(0), faces=((0, 1), (1, 0)))
    on_right, on_bottom = pts[:, 0] == 2, pts[:, 1] == 0
    assert bool((on_right | on_bottom).all()) and on_right.any() and on_bottom.any()
    assert torch.equal(normals[on_right & ~on_bottom], torch.tensor([1.0, 0.0], dtype=torch.float64).expand(
        int((on_right & ~on_bottom).sum()), 2))
    with pytest.raises(InrkitError, match="face"):
        pde.Problem(name="x", domain=pde.Interval(0, 1), residual=lambda x, D, p: D.u,
                    conditions=(pde.Dirichlet(lambda x: x, faces=((1, 0),)),))
