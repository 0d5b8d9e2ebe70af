"""The one training loop: sample -> objective -> step -> callbacks."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field as dc_field
from typing import Callable, Protocol

import torch
from torch import Tensor, nn


class Callback(Protocol):
    def __call__(self, step: int, terms: dict[str, float], field: nn.Module) -> None: ...


@dataclass
class FitResult:
    """What ``fit`` returns: the last loss, wall time and every callback's records."""

    steps: int
    seconds: float
    final_terms: dict[str, float]
    history: list[dict] = dc_field(default_factory=list)


def fit(field: nn.Module, objective: Callable[[nn.Module, Tensor, Tensor], dict[str, Tensor]],
        coords: Tensor, targets: Tensor, steps: int, lr: float, batch_size: int = 0,
        generator: torch.Generator | None = None, callbacks: list[Callback] | tuple = (),
        optimizer: torch.optim.Optimizer | None = None, schedule: str = "constant",
        amp: bool = False, max_seconds: float | None = None) -> FitResult:
    """Minimise ``objective(field, coords[batch], targets[batch])["loss"]`` with Adam.

    ``coords (N, d)`` and ``targets (N, k)`` are flat observations. ``batch_size=0``
    uses all N every step (the SIREN image recipe); otherwise each step draws
    ``batch_size`` indices uniformly with replacement from ``generator`` (so a seed
    fixes the sequence). Callbacks run after every step with the step number (1-based),
    the step's terms as floats, and the field.

    ``schedule="cosine"`` decays the learning rate from ``lr`` to 1 % of it along a
    half cosine over ``steps``. ``amp=True`` runs the objective under bfloat16 autocast
    on CUDA (no effect on the CPU, where it would be slower). ``max_seconds`` stops the loop
    once that much time has passed (``FitResult.steps`` says how many steps ran; the schedule
    keeps its plan for ``steps``), so a time-limited job ends with a result instead of being killed.

    The loss is read back from the device only when a callback needs it or at the end, so
    a run without callbacks never waits on the GPU inside the loop.
    """
    if steps < 0:
        raise ValueError("steps must be non-negative")
    opt = optimizer if optimizer is not None else torch.optim.Adam(field.parameters(), lr=lr)
    sched = _scheduler(opt, schedule, steps)
    use_amp = amp and coords.device.type == "cuda"
    n = coords.shape[0]
    t0 = time.perf_counter()
    terms_f: dict[str, float] = {}
    terms: dict[str, Tensor] = {}
    done = 0
    for step in range(1, steps + 1):
        if batch_size and batch_size < n:
            idx = torch.randint(0, n, (batch_size,), generator=generator).to(coords.device)
            x, y = coords[idx], targets[idx]
        else:
            x, y = coords, targets
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
            terms = objective(field, x, y)
        opt.zero_grad(set_to_none=True)
        terms["loss"].float().backward()
        opt.step()
        if sched is not None:
            sched.step()
        done = step
        if callbacks:
            terms_f = {k: float(v.detach()) for k, v in terms.items()}
            for cb in callbacks:
                cb(step, terms_f, field)
        if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
            break
    if terms and not callbacks:
        terms_f = {k: float(v.detach()) for k, v in terms.items()}
    return FitResult(steps=done, seconds=time.perf_counter() - t0, final_terms=terms_f)


def _scheduler(opt: torch.optim.Optimizer, schedule: str, steps: int):
    if schedule == "constant":
        return None
    if schedule == "cosine":
        floor = 0.01

        def factor(step: int) -> float:
            t = min(step / max(steps, 1), 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

        return torch.optim.lr_scheduler.LambdaLR(opt, factor)
    raise ValueError(f"unknown schedule {schedule!r}; use constant or cosine")
