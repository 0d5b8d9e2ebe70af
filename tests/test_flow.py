"""RealNVP flow: exact invertibility, exact log-determinant, and it learns a non-Gaussian density."""

import math

import torch

from inrkit.meta import flow as FL


def _perturbed_flow(dim=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = FL.RealNVP(dim, couplings=4, hidden=16, generator=g).double()
    f.train()
    f.layers[0](torch.randn(64, dim, generator=g, dtype=torch.float64) * 3 + 1)  # ActNorm data init
    with torch.no_grad():  # the couplings start as identities; make them non-trivial
        for p in f.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return f.eval()


def test_inverse_and_log_determinant_are_exact():
    f = _perturbed_flow()
    x = torch.randn(5, 4, dtype=torch.float64)
    u, logdet = f(x)
    assert torch.allclose(f.inverse(u), x, atol=1e-10)
    for i in range(len(x)):
        J = torch.autograd.functional.jacobian(lambda v: f(v[None])[0][0], x[i])
        assert abs(float(torch.linalg.slogdet(J.detach())[1]) - float(logdet[i].detach())) < 1e-8
    # log_prob is the change of variables with a standard normal base
    expected = -0.5 * (u ** 2).sum(-1) - 2 * math.log(2 * math.pi) + logdet
    assert torch.allclose(f.log_prob(x), expected)


def test_flow_beats_a_gaussian_on_a_curved_density():
    g = torch.Generator().manual_seed(1)

    def banana(n):
        a = torch.randn(n, generator=g)
        return torch.stack([a, a ** 2 - 1 + 0.1 * torch.randn(n, generator=g)], 1)

    tr, te = banana(2000), banana(500)
    flow, hist = FL.train_flow(tr, te, couplings=6, hidden=64, epochs=40, batch_size=200, lr=3e-3)
    with torch.no_grad():
        ll_flow = float(flow.log_prob(te).mean())
    ll_gauss = float(FL.gaussian_log_prob(tr, te).mean())
    assert math.isfinite(ll_flow) and ll_flow > ll_gauss + 0.3, (ll_flow, ll_gauss)
    assert any(h.get("best") for h in hist)
    s = flow.sample(1000, generator=torch.Generator().manual_seed(2))
    assert s.shape == (1000, 2) and torch.isfinite(s).all()
    # samples follow the curve: x2 ~ x1^2 - 1 (a Gaussian's samples would not)
    resid = (s[:, 1] - (s[:, 0] ** 2 - 1)).abs().median()
    assert resid < 0.3, float(resid)


def test_ddpm_learns_a_curved_density_and_frechet_distance():
    """A DDPM on a noisy half circle puts its samples on the circle, which a Gaussian cannot."""
    from inrkit.meta import diffusion as D

    g = torch.Generator().manual_seed(0)
    th = torch.rand(2000, generator=g) * math.pi
    x = torch.stack([torch.cos(th), torch.sin(th)], 1) + 0.05 * torch.randn(2000, 2, generator=g)
    model, history = D.train_ddpm(x, steps=3000, hidden=256, seed=0)
    assert history[-1]["loss"] < history[0]["loss"]
    s = model.sample(500, torch.Generator().manual_seed(1))
    near = ((s.norm(dim=1) - 1).abs() < 0.2).float().mean()
    gauss = x.mean(0) + torch.randn(500, 2, generator=g) @ torch.linalg.cholesky(torch.cov(x.T)).T
    near_gauss = ((gauss.norm(dim=1) - 1).abs() < 0.2).float().mean()
    assert near > 0.9 and near > near_gauss + 0.3
    # Frechet distance: zero for a set against itself, the closed form for two 1-D-shifted Gaussians
    assert abs(D.frechet_distance(x, x)) < 1e-8
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    b = 2.0 * torch.randn(4000, 3, generator=g, dtype=torch.float64) + torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    # N(0, I) against N(e1, 4 I): |mu|^2 + tr(I + 4I - 2 * 2I) = 1 + 3 = 4 (up to sampling noise)
    assert abs(D.frechet_distance(a, b) - 4.0) < 0.3
