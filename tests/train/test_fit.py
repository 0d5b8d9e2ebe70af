"""The one loop: samplers that draw fresh points, seeded reproducibility, callbacks, budgets, progress."""

import io
import math

import torch

from inrkit.batch import Batch
from inrkit.config import FieldConfig, build_field
from inrkit.objectives import Reconstruction
from inrkit.signals.sampling import PointSampler
from inrkit.train import Callback, Progress, fit


def _target(x):
    return torch.sin(3 * x[:, :1]) * torch.cos(2 * x[:, 1:])


def fresh_points(n):
    """A sampler that draws n new uniform points in [-1, 1]^2 every step (collocation-style)."""
    seen = []

    def sample(g):
        x = torch.rand(n, 2, generator=g) * 2 - 1
        seen.append(x)
        return Batch(x, _target(x))

    sample.seen = seen
    return sample


def _field(seed=0):
    return build_field(FieldConfig(arch="siren", width=32, hidden_layers=2, w0=10.0), 2, 1, 16,
                       generator=torch.Generator().manual_seed(seed))


def test_fresh_points_every_step_reproducible_with_a_seed_and_learning():
    runs = []
    for _ in range(2):
        f, s = _field(), fresh_points(64)
        r = fit(f, s, Reconstruction(), steps=200, lr=1e-3, generator=torch.Generator().manual_seed(7))
        runs.append((f, s, r))
    (f1, s1, r1), (f2, s2, r2) = runs
    assert len(s1.seen) == 200 and not torch.equal(s1.seen[0], s1.seen[1])  # new points each step
    assert all(torch.equal(a, b) for a, b in zip(s1.seen, s2.seen))
    for a, b in zip(f1.state_dict().values(), f2.state_dict().values()):
        assert torch.equal(a, b)
    xt = torch.rand(500, 2, generator=torch.Generator().manual_seed(99)) * 2 - 1  # held-out points
    with torch.no_grad():
        err = float(((f1(xt) - _target(xt)) ** 2).mean())
    assert err < 0.05 * float((_target(xt) ** 2).mean())
    # another seed draws other points
    s3 = fresh_points(64)
    fit(_field(), s3, Reconstruction(), steps=2, lr=1e-3, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(s3.seen[0], s1.seen[0])


def test_point_sampler_subsets_and_whole_grid():
    x = torch.arange(20.0).reshape(10, 2)
    y = torch.arange(10.0)[:, None]
    whole = PointSampler(x, y, 0, {"mask": y > 4}, grid=(2, 5))(None)
    assert whole.grid == (2, 5) and len(whole) == 10
    sub = PointSampler(x, y, 4, {"mask": y > 4}, grid=(2, 5))(torch.Generator().manual_seed(0))
    assert sub.grid is None and len(sub) == 4
    assert torch.equal(sub.coords[:, 0] / 2, sub.targets[:, 0])  # rows stay together
    assert torch.equal(sub["mask"], sub.targets > 4)


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_start(self, state):
        self.events.append(("start", state.step))

    def before_step(self, state):
        self.events.append(("before", state.step))

    def after_step(self, state):
        self.events.append(("after", state.step))
        if state.step == 3:
            state.stop = True

    def on_end(self, state):
        self.events.append(("end", state.step))


def test_callback_order_and_stop():
    rec = Recorder()
    x = torch.rand(8, 2)
    r = fit(_field(), PointSampler(x, _target(x)), Reconstruction(), steps=10, callbacks=[rec])
    assert r.steps == 3
    assert rec.events == [("start", 0), ("before", 0), ("after", 1), ("before", 1), ("after", 2), ("before", 2),
                          ("after", 3), ("end", 3)]
    assert math.isfinite(r.final_terms["loss"])


def test_time_budget_counts_training_only():
    x = torch.rand(8, 2)
    r = fit(_field(), PointSampler(x, _target(x)), Reconstruction(), max_seconds=1e-9)
    assert r.steps == 1


def test_progress_off_a_terminal_prints_a_few_lines():
    out = io.StringIO()
    x = torch.rand(8, 2)
    fit(_field(), PointSampler(x, _target(x)), Reconstruction(), steps=1000, lr=1e-4,
        callbacks=[Progress("test", stream=out, tty=False)])
    lines = out.getvalue().splitlines()
    assert 5 <= len(lines) <= 12, lines
    assert lines[-1].startswith("test  1000/1000  100%") and "loss" in lines[-1]
    assert "\r" not in out.getvalue()
