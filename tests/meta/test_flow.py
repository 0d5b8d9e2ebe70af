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


def test_flow_keeps_the_best_epoch_and_may_stop_early():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 3, generator=g)
    flow, hist = FL.train_flow(x, couplings=2, hidden=8, epochs=4, batch_size=64, seed=0)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    assert all({"train_ll_per_dim", "val_ll_per_dim"} <= set(h) for h in hist)
    best = max(hist, key=lambda h: h["val_ll_per_dim"])
    assert best.get("best") and not flow.training
    # the returned state is the best epoch's: its validation figure is reproduced
    perm0 = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        val_ll = float(flow.log_prob(x[perm0[:30]]).mean()) / 3
    assert abs(val_ll - best["val_ll_per_dim"]) < 1e-5
    # a huge learning rate makes every epoch after the first worse: patience 1 stops after epoch 2
    _, short = FL.train_flow(x, couplings=2, hidden=8, epochs=20, batch_size=64, lr=0.5, seed=0, patience=1)
    assert len(short) < 20 and not short[-1].get("best")


def test_flow_gradients_are_clipped_before_each_step():
    w = torch.nn.Parameter(torch.zeros(4))
    opt = torch.optim.SGD([w], lr=1.0)
    FL.clip_gradients(opt, 1.0)
    w.grad = torch.full((4,), 10.0)
    opt.step()
    assert torch.allclose(w.detach(), torch.full((4,), -0.5))  # gradient of norm 20 scaled to norm 1


def test_ddpm_ema_follows_its_warm_up_and_history_averages_the_loss():
    from inrkit.meta import diffusion as D
    from inrkit.train import Callback, fit

    model = torch.nn.Linear(2, 1)
    start = torch.cat([p.detach().flatten() for p in model.parameters()])
    seen, losses = [], []

    class Record(Callback):
        def after_step(self, state):
            seen.append(torch.cat([p.detach().flatten().clone() for p in state.model.parameters()]))
            losses.append(state.loss_terms["loss"])

    ema, history = D.EMA(model, decay=0.999), D.LossHistory(every=2)
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    fit(model, D.RowBatches(x, 4), lambda m, b: {"loss": m(b.coords).pow(2).mean()}, steps=3, lr=0.1,
        callbacks=[Record(), ema, history], generator=torch.Generator().manual_seed(0))
    expected = start
    for s, w in enumerate(seen, 1):
        decay = min(0.999, (1 + s) / (10 + s))  # warm-up: 2/11, 3/12, 4/13
        expected = decay * expected + (1 - decay) * w
    got = torch.cat([p.detach().flatten() for p in ema.average.parameters()])
    assert torch.allclose(got, expected, atol=1e-6)
    assert history.history == [{"step": 2, "loss": (losses[0] + losses[1]) / 2}, {"step": 3, "loss": losses[2]}]
