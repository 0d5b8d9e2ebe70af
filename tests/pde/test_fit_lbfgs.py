"""``inrkit.train.fit`` drives closure optimisers (L-BFGS): the step re-evaluates the objective on one batch."""

import torch
from torch import nn

from inrkit.batch import Batch
from inrkit.train.fit import fit


def _problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g, dtype=torch.float64)
    w = torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64)
    batch = Batch(coords=x, targets=x @ w)
    model = nn.Linear(3, 1, bias=False).double()
    objective = lambda m, b: {"loss": (m(b.coords) - b.targets).square().mean()}  # noqa: E731
    return model, (lambda gen: batch), objective, w


def test_lbfgs_converges_through_fit():
    model, sample, objective, w = _problem()
    opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=10, line_search_fn="strong_wolfe",
                            tolerance_grad=0.0, tolerance_change=0.0)
    calls = []
    r = fit(model, sample, objective, steps=3, optimizer=opt, callbacks=[lambda s, t, m: calls.append(t["loss"])])
    assert r.status == "ok" and r.steps == 3
    torch.testing.assert_close(model.weight.detach().T, w, atol=1e-8, rtol=0)
    assert calls[0] > 1.0 and calls[-1] < 1e-12  # the terms of each step: its first evaluation


def test_lbfgs_nan_is_caught_and_weights_kept():
    model, sample, _, _ = _problem()
    n = {"k": 0}

    def objective(m, b):
        n["k"] += 1
        loss = (m(b.coords) - b.targets).square().mean()
        return {"loss": loss * float("nan") if n["k"] > 4 else loss}

    opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=3)
    r = fit(model, sample, objective, steps=10, optimizer=opt)
    assert r.status == "diverged"
    assert torch.isfinite(model.weight).all()


def test_adam_path_unchanged():
    model, sample, objective, w = _problem()
    r = fit(model, sample, objective, steps=300, lr=0.05)
    assert r.status == "ok" and r.final_terms["loss"] < 1e-3
