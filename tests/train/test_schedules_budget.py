"""The time-budget cosine: the rate follows the spent fraction of steps or seconds, whichever is larger."""

from __future__ import annotations

import math
import sys

import torch

from inrkit.batch import Batch
from inrkit.train import Callback, fit, schedules


def _quadratic():
    model = torch.nn.Linear(2, 1)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    batch = Batch(x, x.sum(-1, keepdim=True))

    def objective(m, b):
        return {"loss": ((m(b.coords) - b.targets) ** 2).mean()}

    return model, (lambda g: batch), objective


def test_budget_cosine_decays_with_the_step_fraction_like_the_step_cosine():
    model, sample, objective = _quadratic()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    seen = []

    class Rates(Callback):
        def after_step(self, state):
            seen.append(state.optimizer.param_groups[0]["lr"])

    fit(model, sample, objective, steps=10, optimizer=opt, callbacks=[schedules.BudgetCosine(opt), Rates()])
    ref = [0.1 * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * k / 10))) for k in range(10)]
    assert all(abs(a - b) < 1e-12 for a, b in zip(seen, ref)), (seen, ref)


def test_budget_cosine_follows_the_clock_when_time_ends_the_run(monkeypatch):
    """A step cap far away and a time budget: the rate reaches its floor as the seconds run out."""
    F = sys.modules["inrkit.train.fit"]  # the module (the package exports the function under that name)
    clock = iter(range(10_000))
    monkeypatch.setattr(F.time, "perf_counter", lambda: float(next(clock)))  # every step costs one "second"
    model, sample, objective = _quadratic()
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    rates = []

    class Rates(Callback):
        def before_step(self, state):
            rates.append(state.optimizer.param_groups[0]["lr"])

    res = fit(model, sample, objective, steps=1_000_000, max_seconds=20, optimizer=opt,
              callbacks=[schedules.BudgetCosine(opt), Rates()])
    assert res.steps == 20
    assert abs(rates[0] - 0.1) < 1e-12
    assert abs(rates[10] - 0.1 * (0.01 + 0.99 * 0.5)) < 1e-9  # half the time: half the cosine
    assert rates[-1] < 0.1 * 0.02  # the last step runs near the floor
    assert opt.param_groups[0]["lr"] < 0.1 * 0.02
