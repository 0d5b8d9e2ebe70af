"""Forward-mode (diagonal jet) derivatives agree with autograd, with and without hard constraints."""

import pytest
import torch

from inrkit import pde
from inrkit.objectives.pde import PDEResidual


def _autograd(model, x):
    x = x.clone().requires_grad_(True)
    u = model(x)[:, 0]
    g = torch.autograd.grad(u.sum(), x, create_graph=True)[0]
    H = torch.stack([torch.autograd.grad(g[:, i].sum(), x, retain_graph=True)[0] for i in range(x.shape[1])], 1)
    return u.detach(), g.detach(), H.detach()


@pytest.mark.parametrize("arch", ["tanh", "siren", "ffn", "sin"])
@pytest.mark.parametrize("hard", [False, True])
def test_forward_mode_matches_autograd(arch, hard):
    torch.manual_seed(0)
    p = pde.get_problem("burgers")
    g = torch.Generator().manual_seed(0)
    model = pde.build_model(p, arch, 16, 3, g, hard=hard).double()
    x = p.domain.interior(64, "uniform", g)
    u, grad, H = _autograd(model, x)
    D = pde.Derivatives(model, x, spatial=(0,), time=1, second=(0, 1), method="forward")
    assert D.forward
    torch.testing.assert_close(D.u[:, 0].detach(), u)
    torch.testing.assert_close(D.d(0)[:, 0].detach(), grad[:, 0])
    torch.testing.assert_close(D.u_t[:, 0].detach(), grad[:, 1])
    torch.testing.assert_close(D.dd(0)[:, 0].detach(), H[:, 0, 0])
    torch.testing.assert_close(D.dd(1)[:, 0].detach(), H[:, 1, 1])
    torch.testing.assert_close(D.mixed(0, 1)[:, 0].detach(), H[:, 0, 1])  # autograd fallback
    A = pde.Derivatives(model, x, spatial=(0,), time=1, method="autograd")
    torch.testing.assert_close(A.dd(0)[:, 0].detach(), H[:, 0, 0])


def test_undeclared_second_partial_falls_back_to_autograd():
    p = pde.get_problem("helmholtz-2d")
    g = torch.Generator().manual_seed(0)
    model = pde.build_model(p, "tanh", 8, 2, g).double()
    x = p.domain.interior(16, "uniform", g)
    _, _, H = _autograd(model, x)
    D = pde.Derivatives(model, x, spatial=(0, 1), second=(0,))
    torch.testing.assert_close(D.dd(1)[:, 0].detach(), H[:, 1, 1])
    torch.testing.assert_close(D.lap[:, 0].detach(), H[:, 0, 0] + H[:, 1, 1])


def test_forward_and_autograd_objectives_give_the_same_gradients():
    p = pde.get_problem("heat")
    g = torch.Generator().manual_seed(0)
    model = pde.build_model(p, "tanh", 16, 3, g).double()
    batch = pde.CollocationSampler(p, 32, 8, 8, "sobol", dtype=torch.float64)(g)
    grads = []
    for how in ("forward", "autograd"):
        model.zero_grad()
        PDEResidual(p, derivatives=how)(model, batch)["loss"].backward()
        grads.append(torch.cat([q.grad.reshape(-1) for q in model.parameters()]))
    torch.testing.assert_close(grads[0], grads[1])


def test_hard_constraints_hold_exactly():
    g = torch.Generator().manual_seed(0)
    for name in ["helmholtz-2d", "poisson-1d", "heat", "burgers", "diffusion-1d"]:
        p = pde.get_problem(name)
        model = pde.build_model(p, "tanh", 16, 2, g)
        with torch.no_grad():
            for q in model.field.parameters():
                q.normal_(0, 3.0, generator=g)  # any network: the constraint must not depend on it
        xb, _ = p.domain.boundary(100, "uniform", g)
        xb = xb.float()
        with torch.no_grad():
            ub = model(xb)
        if name in ("helmholtz-2d", "poisson-1d", "heat", "burgers"):
            assert torch.equal(ub, torch.zeros_like(ub)) or ub.abs().max() < 1e-6, name
        if p.domain.time:
            x0 = p.domain.initial(100, "uniform", g).float()
            ic = [c for c in p.conditions if isinstance(c, pde.Initial)][0]
            with torch.no_grad():
                assert torch.equal(model(x0), ic.value(x0)), name


@pytest.mark.parametrize("arch", ["sin", "ffn"])
@pytest.mark.parametrize("hard", [False, True])
def test_forward_laplacian_stream_matches_autograd(arch, hard):
    """``laplacian=True``: one summed second-order stream (Forward Laplacian) gives the exact Laplacian."""
    p = pde.get_problem("helmholtz-2d")
    assert p.laplacian  # the built-in declares that its residual needs only the Laplacian
    g = torch.Generator().manual_seed(1)
    model = pde.build_model(p, arch, 16, 3, g, hard=hard).double()
    x = p.domain.interior(32, "uniform", g)
    u, grad, H = _autograd(model, x)
    D = pde.Derivatives(model, x, spatial=(0, 1), method="forward", laplacian=True)
    torch.testing.assert_close(D.u[:, 0].detach(), u)
    torch.testing.assert_close(D.d(1)[:, 0].detach(), grad[:, 1])
    torch.testing.assert_close(D.lap[:, 0].detach(), H[:, 0, 0] + H[:, 1, 1])
    torch.testing.assert_close(D.dd(0)[:, 0].detach(), H[:, 0, 0])  # autograd fallback


def test_an_odd_hard_constraint_makes_the_solution_odd_exactly():
    """Burgers declares u odd in x: the model is odd for any weights, and forward mode still matches autograd."""
    p = pde.get_problem("burgers")
    assert p.hard.odd == (0,)
    g = torch.Generator().manual_seed(3)
    model = pde.build_model(p, "tanh", 16, 3, g).double()
    x = p.domain.interior(64, "uniform", g)
    flipped = x * torch.tensor([-1.0, 1.0], dtype=x.dtype)
    with torch.no_grad():
        torch.testing.assert_close(model(flipped), -model(x), rtol=0, atol=1e-14)
        bare = pde.build_model(p, "tanh", 16, 3, torch.Generator().manual_seed(3), hard=False).double()
        assert (bare(flipped) + bare(x)).abs().max() > 1e-3  # without it, a network is not odd
    D = pde.Derivatives(model, x, spatial=(0,), time=1, second=(0, 1), method="forward")
    u, grad, H = _autograd(model, x)
    torch.testing.assert_close(D.d(0)[:, 0].detach(), grad[:, 0])
    torch.testing.assert_close(D.dd(0)[:, 0].detach(), H[:, 0, 0])


def test_an_odd_coordinate_needs_a_symmetric_domain():
    from inrkit.errors import InrkitError

    with pytest.raises(InrkitError, match="symmetric about 0"):
        pde.Problem(name="p", domain=pde.Interval(0, 1), residual=lambda x, D, p: D.dd(0),
                    hard=pde.HardConstraint(g=lambda x: x[:, :1] * 0, h=lambda x: x[:, :1], odd=(0,)))
    sym = pde.Interval(-1, 1)
    with pytest.raises(InrkitError, match="g odd and h even"):  # g = 1 is not odd: u could not be
        pde.Problem(name="p", domain=sym, residual=lambda x, D, p: D.dd(0),
                    hard=pde.HardConstraint(g=lambda x: torch.ones_like(x[:, :1]), h=lambda x: 1 - x[:, :1] ** 2,
                                            odd=(0,)))
    with pytest.raises(InrkitError, match="g odd and h even"):  # h = 1 - x is not even
        pde.Problem(name="p", domain=sym, residual=lambda x, D, p: D.dd(0),
                    hard=pde.HardConstraint(g=lambda x: x[:, :1], h=lambda x: 1 - x[:, :1], odd=(0,)))
    with pytest.raises(InrkitError, match="g odd and h even"):  # NaN values prove nothing: refused
        pde.Problem(name="p", domain=sym, residual=lambda x, D, p: D.dd(0),
                    hard=pde.HardConstraint(g=lambda x: x[:, :1] * float("nan"), h=lambda x: 1 - x[:, :1] ** 2,
                                            odd=(0,)))
    with pytest.raises(InrkitError, match="tuple of coordinate indices"):
        pde.Problem(name="p", domain=sym, residual=lambda x, D, p: D.dd(0),
                    hard=pde.HardConstraint(g=lambda x: x[:, :1], h=lambda x: 1 - x[:, :1] ** 2, odd=0))
    ok = pde.Problem(name="p", domain=sym, residual=lambda x, D, p: D.dd(0),
                     hard=pde.HardConstraint(g=lambda x: torch.sin(x[:, :1]), h=lambda x: 1 - x[:, :1] ** 2, odd=(0,)))
    assert ok.hard.odd == (0,)
