"""Learning-rate schedules for :func:`inrkit.train.fit` (stepped once per optimiser step)."""

from __future__ import annotations

import math

import torch

SCHEDULES = ("constant", "cosine")


def cosine(optimizer: torch.optim.Optimizer, steps: int, floor: float = 0.01) -> torch.optim.lr_scheduler.LambdaLR:
    """Decay from the optimiser's rate to ``floor`` times it along a half cosine over ``steps``."""

    def factor(step: int) -> float:
        t = min(step / max(steps, 1), 1.0)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def exponential(optimizer: torch.optim.Optimizer, steps: int, final_ratio: float) -> torch.optim.lr_scheduler.ExponentialLR:
    """Multiply the rate by a constant each step so that it reaches ``final_ratio`` times it after ``steps``."""
    return torch.optim.lr_scheduler.ExponentialLR(optimizer, final_ratio ** (1.0 / max(steps, 1)))


def per_epoch(scheduler_factory, optimizer: torch.optim.Optimizer, steps_per_epoch: int):
    """Step an epoch-based schedule (``scheduler_factory(optimizer)``) once every ``steps_per_epoch`` steps."""
    inner = scheduler_factory(optimizer)

    class _EveryEpoch:
        def __init__(self):
            self.calls = 0

        def step(self) -> None:
            self.calls += 1
            if self.calls % steps_per_epoch == 0:
                inner.step()

    return _EveryEpoch()


def make(name: str, optimizer: torch.optim.Optimizer, steps: int):
    """A schedule by name: ``constant`` (None: no scheduler) or ``cosine``."""
    if name == "constant":
        return None
    if name == "cosine":
        return cosine(optimizer, steps)
    raise ValueError(f"unknown schedule {name!r}; use {' or '.join(SCHEDULES)}")
