"""The one training loop: sample -> objective -> step -> callbacks.

Every optimisation in inrkit runs here: image fits, gradient-domain fits, NeRF, functa
meta-training (its objective runs the inner loop), the functa classifier, the latent flow
and the latent diffusion model. What differs between tasks is data, not loops:

- ``sample(generator) -> Batch``: what the step observes (a fixed set re-indexed, fresh
  random points, rays, a dataset's next minibatch);
- ``objective(model, batch) -> dict`` of named loss terms, ``"loss"`` the one minimised;
- the optimiser and learning-rate schedule;
- a budget of steps and/or training seconds;
- callbacks for everything around the step (evaluation, progress, occupancy-grid updates,
  clamping, early stopping).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field as dc_field
from typing import Any, Callable, Iterable

import torch
from torch import Tensor, nn

from ..batch import Batch

Sampler = Callable[[torch.Generator | None], Batch]
Objective = Callable[[nn.Module, Batch], dict[str, Tensor]]


@dataclass
class FitState:
    """What callbacks see and may change.

    ``step`` counts finished steps (0 before the first). ``train_seconds`` is the time spent
    in sampling, objective and optimiser steps only: callbacks (evaluation, progress) are not
    counted, so a time budget buys the same training whatever is evaluated along the way.
    ``log`` holds figures that callbacks publish for the others (``"psnr"``, ``"val_psnr"``,
    ...), shown by the progress bar. Setting ``stop = True`` ends the run after this step.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    steps: int | None
    max_seconds: float | None
    generator: torch.Generator | None
    scheduler: Any = None
    callbacks: list = dc_field(default_factory=list)
    step: int = 0
    train_seconds: float = 0.0
    terms: dict[str, Tensor] = dc_field(default_factory=dict)
    batch: Batch | None = None
    log: dict[str, float] = dc_field(default_factory=dict)
    stop: bool = False
    diverged: str | None = None
    interrupted: bool = False
    _floats: dict[str, float] | None = None

    @property
    def loss_terms(self) -> dict[str, float]:
        """This step's terms as floats (read back from the device once per step, on demand)."""
        if self._floats is None:
            self._floats = {k: float(v.detach()) for k, v in self.terms.items()}
        return self._floats

    @property
    def fraction(self) -> float:
        """How much of the budget is spent, in [0, 1]: the larger of steps and seconds."""
        parts = [0.0]
        if self.steps:
            parts.append(self.step / self.steps)
        if self.max_seconds:
            parts.append(self.train_seconds / self.max_seconds)
        return min(1.0, max(parts))

    @property
    def last_step(self) -> bool:
        """True on the step that exhausts the step or time budget."""
        return self.stop or self.fraction >= 1.0


class Callback:
    """Hooks around the step; override the ones you need. Each receives the :class:`FitState`."""

    def on_start(self, state: FitState) -> None:
        pass

    def before_step(self, state: FitState) -> None:
        pass

    def after_step(self, state: FitState) -> None:
        pass

    def on_end(self, state: FitState) -> None:
        pass


class _Function(Callback):
    """A plain function ``fn(step, terms, model)`` called after every step (the older form)."""

    def __init__(self, fn: Callable[[int, dict[str, float], nn.Module], Any]):
        self.fn = fn

    def after_step(self, state: FitState) -> None:
        self.fn(state.step, state.loss_terms, state.model)


@dataclass
class FitResult:
    """What ``fit`` returns: steps done, training seconds, the last terms and the published log.

    ``status`` is ``"ok"``; ``"diverged"`` when a step produced a non-finite loss or parameter
    (the model then holds the weights from before that step, the last finite ones, and
    ``steps`` counts the finite steps); or ``"interrupted"`` after Ctrl-C (KeyboardInterrupt),
    with the weights of the last whole step. ``message`` says what happened.
    """

    steps: int
    seconds: float
    final_terms: dict[str, float]
    log: dict[str, float] = dc_field(default_factory=dict)
    status: str = "ok"
    message: str = ""

    @property
    def diverged(self) -> bool:
        return self.status == "diverged"

    @property
    def finished(self) -> bool:
        """Neither diverged nor interrupted."""
        return self.status == "ok"


def fit(model: nn.Module, sample: Sampler, objective: Objective, *, steps: int | None = None,
        max_seconds: float | None = None, optimizer: torch.optim.Optimizer | None = None, lr: float = 1e-3,
        scheduler: Any = None, callbacks: Iterable[Callback | Callable] = (),
        generator: torch.Generator | None = None, amp: bool = False, check_finite: bool = True,
        resume: dict | None = None) -> FitResult:
    """Minimise ``objective(model, sample(generator))["loss"]`` for ``steps`` steps or ``max_seconds``.

    At least one budget must be given; the run ends at whichever comes first, or when a
    callback sets ``state.stop``. ``optimizer`` defaults to Adam over ``model.parameters()``
    at ``lr``; ``scheduler`` (anything with ``step()``, e.g. from :mod:`inrkit.train.schedules`)
    steps once after every optimiser step. ``generator`` is handed to the sampler every step,
    so a seed fixes the sequence of batches. ``amp=True`` runs the objective under bfloat16
    autocast on CUDA (no effect elsewhere).

    Order within a step: ``before_step`` callbacks, sample, objective, backward, optimiser
    step, scheduler, ``after_step`` callbacks. Loss terms are read back from the device only
    when a callback asks (``state.loss_terms``) or at the end.

    ``check_finite=True`` (the default) catches divergence within the step that causes it: the
    trainable parameters are copied before each optimiser step and, if the loss or any
    parameter is then NaN or infinite, put back; the run ends with ``status="diverged"``
    (after the ``on_end`` callbacks) instead of training on, or saving, NaN weights. The check
    costs one copy of the parameters and one flag read back from the device per step.

    Ctrl-C (KeyboardInterrupt) during the loop ends it like a budget would, with
    ``status="interrupted"``, so the caller can still save what was learnt; the ``on_end``
    callbacks run (a :class:`~inrkit.train.resume.Snapshots` callback then saves the state).

    An optimiser that needs a closure (``torch.optim.LBFGS``, or one with ``needs_closure = True``)
    gets one: it re-evaluates the objective on the step's batch as often as its line search needs;
    the step's terms are those of its first evaluation. Give such a step a fixed batch (a sampler
    that returns the same points), as its curvature pairs assume one objective.

    ``resume`` is a snapshot from :mod:`inrkit.train.resume` (model, optimiser, schedule,
    generator, step, training seconds, callbacks' states) to continue from; build everything
    as for the original run, then pass it.
    """
    if steps is None and max_seconds is None:
        raise ValueError("fit needs a step budget, a time budget or both")
    if steps is not None and steps < 0:
        raise ValueError("steps must be non-negative")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError("max_seconds must be positive")
    opt = optimizer if optimizer is not None else torch.optim.Adam(model.parameters(), lr=lr)
    cbs = [cb if isinstance(cb, Callback) else _Function(cb) for cb in callbacks]
    state = FitState(model=model, optimizer=opt, steps=steps, max_seconds=max_seconds, generator=generator,
                     scheduler=scheduler, callbacks=cbs)
    if resume is not None:
        from .resume import restore

        restore(state, resume)
    closure_step = _needs_closure(opt)
    device_type = _device_type(model)
    use_amp = amp and device_type == "cuda"
    params = [p for p in model.parameters() if p.requires_grad] if check_finite else []
    saved = [torch.empty_like(p) for p in params]
    for cb in cbs:
        cb.on_start(state)
    limit = steps if steps is not None else math.inf
    phase = "between steps"
    try:
        while state.step < limit and not state.stop and (max_seconds is None or state.train_seconds < max_seconds):
            for cb in cbs:
                cb.before_step(state)
            t0 = time.perf_counter()
            model.train()
            batch = sample(generator)
            if params:
                with torch.no_grad():
                    torch._foreach_copy_(saved, params)
            if closure_step:  # the optimiser evaluates the objective itself, as often as it needs
                evals = _closure_evals(model, batch, objective, opt, use_amp)
                phase = "stepping"
                opt.step(evals)
                terms, last = evals.first, evals.last
            else:
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                    terms = objective(model, batch)
                opt.zero_grad(set_to_none=True)
                terms["loss"].float().backward()
                phase = "stepping"
                opt.step()
                last = terms["loss"]
            if params and not (_finite(terms["loss"], params) and bool(torch.isfinite(last.detach()).all())):
                with torch.no_grad():
                    torch._foreach_copy_(params, saved)
                state.train_seconds += time.perf_counter() - t0
                state.diverged = _divergence_message(state.step + 1, terms["loss"])
                state.stop = True
                break
            if scheduler is not None:
                scheduler.step()
            state.train_seconds += time.perf_counter() - t0
            state.step += 1
            state.terms, state.batch, state._floats = terms, batch, None
            phase = "between steps"
            for cb in cbs:
                cb.after_step(state)
    except KeyboardInterrupt:
        if phase == "stepping" and params:  # an update half applied: back to the last whole step
            with torch.no_grad():
                torch._foreach_copy_(params, saved)
        state.interrupted = True
        state.stop = True
    for cb in cbs:
        cb.on_end(state)
    final = state.loss_terms if state.terms else {}
    status = "diverged" if state.diverged else "interrupted" if state.interrupted else "ok"
    message = state.diverged or (f"interrupted after {state.step} steps" if state.interrupted else "")
    return FitResult(steps=state.step, seconds=state.train_seconds, final_terms=final, log=dict(state.log),
                     status=status, message=message)


def _needs_closure(opt: torch.optim.Optimizer) -> bool:
    """Optimisers whose ``step`` must re-evaluate the loss (``torch.optim.LBFGS``, or any with ``needs_closure = True``)."""
    return isinstance(opt, torch.optim.LBFGS) or bool(getattr(opt, "needs_closure", False))


class _closure_evals:
    """The closure handed to ``opt.step``: objective and backward on the step's one batch.

    ``first`` keeps the terms of the first evaluation (the loss at the weights the step started
    from, as for every other optimiser); ``last`` the loss of the latest one (where a line search
    ended), so a step that wandered into NaN is caught too.
    """

    def __init__(self, model: nn.Module, batch: Batch, objective: Objective, opt: torch.optim.Optimizer,
                 use_amp: bool):
        self.model, self.batch, self.objective, self.opt, self.use_amp = model, batch, objective, opt, use_amp
        self.first: dict[str, Tensor] = {}
        self.last: Tensor | None = None

    def __call__(self) -> Tensor:
        with torch.enable_grad():
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_amp):
                terms = self.objective(self.model, self.batch)
            self.opt.zero_grad(set_to_none=True)
            terms["loss"].float().backward()
        if not self.first:
            self.first = terms
        self.last = terms["loss"]
        return terms["loss"]


def _finite(loss: Tensor, params: list[Tensor]) -> bool:
    """One flag read back: are the loss and every parameter finite?"""
    flags = torch.stack([torch.isfinite(loss.detach()).all()] + [torch.isfinite(p).all() for p in params])
    return bool(flags.all())


def _divergence_message(step: int, loss: Tensor) -> str:
    value = float(loss.detach())
    what = f"the loss became {value}" if not math.isfinite(value) else "a parameter became NaN or infinite"
    return (f"training diverged at step {step}: {what}; the weights from before that step were kept "
            f"(try a lower learning rate)")


def _device_type(model: nn.Module) -> str:
    for p in model.parameters():
        return p.device.type
    return "cpu"
