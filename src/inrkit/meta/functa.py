"""Functa meta-learning as functions (Dupont, Kim et al. 2022, sec. 3, with Meta-SGD).

The inner loop fits per-signal latents by a few gradient steps from zero; the outer loop
updates the shared weights and the per-dimension inner learning rates through it. The outer
loop is :func:`inrkit.train.fit` with :class:`inrkit.objectives.meta.MetaReconstruction`
as its objective, :class:`SignalBatches` as its sampler and :class:`ClampMetaLRs` as a
callback. Everything is batched over signals as one tensor computation.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ..batch import Batch
from ..fields.modulated import LatentModulatedField
from ..metrics import psnr_from_mse
from ..train.fit import Callback, FitState

PerSignalLoss = Callable[[Tensor, Tensor], Tensor]
"""``loss(pred (B, N, C), targets (B, N, C)) -> (B,)``: one loss per signal."""


def per_signal_loss(pred: Tensor, targets: Tensor) -> Tensor:
    """Mean squared error of each signal: ``(B, N, C)`` -> ``(B,)``."""
    return ((pred - targets) ** 2).mean(dim=(1, 2))


def inner_loop(field: LatentModulatedField, coords: Tensor, targets: Tensor, steps: int,
               first_order: bool = False, latents: Tensor | None = None,
               loss: PerSignalLoss = per_signal_loss) -> Tensor:
    """Fit latents ``(B, latent_dim)`` to ``targets (B, N, C)`` by ``steps`` Meta-SGD steps from zero.

    z <- z - clip(alpha, 0, 1) * grad_z L, with alpha = ``field.meta_lrs`` and L the sum over
    signals of ``loss(field(coords, z), targets)`` (per-signal MSE by default).
    The per-signal losses are SUMMED, not averaged: signal i's loss depends only on z_i,
    so the gradient of the sum with respect to z_i is exactly that signal's own gradient,
    and the step does not shrink with the batch size (a mean would divide it by B, making
    batched and one-at-a-time encoding differ).
    ``first_order=True`` cuts the graph through the inner gradients (cheaper, for encoding
    or first-order MAML); otherwise the returned latents keep the second-order graph.
    """
    b = targets.shape[0]
    z = latents if latents is not None else torch.zeros(b, field.latent_dim, device=targets.device,
                                                       dtype=targets.dtype)
    if not z.requires_grad:
        z = z.requires_grad_(True)
    lrs = field.meta_lrs.clamp(0.0, 1.0)
    for _ in range(steps):
        with torch.enable_grad():
            total = loss(field(coords, z), targets).sum()
            (g,) = torch.autograd.grad(total, z, create_graph=not first_order)
        z = z - lrs * g
        if first_order:
            z = z.detach().requires_grad_(True)
    return z


class SignalBatches:
    """Sampler for meta-training: ``batch_size`` signals drawn uniformly with replacement.

    Every batch holds the shared ``coords (N, d)`` and ``targets (B, N, C)`` of the drawn
    signals out of ``targets (M, N, C)``. Indices are drawn on the CPU from the generator (one
    ``torch.randint`` per step, also when ``batch_size >= M``) and then moved, so a seed gives
    the same batches on every device.
    """

    def __init__(self, coords: Tensor, targets: Tensor, batch_size: int):
        self.coords, self.targets = coords, targets
        self.batch_size = min(batch_size, targets.shape[0])

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        idx = torch.randint(0, self.targets.shape[0], (self.batch_size,), generator=generator)
        return Batch(coords=self.coords, targets=self.targets[idx.to(self.targets.device)])


class ClampMetaLRs(Callback):
    """Keep the Meta-SGD rates in [0, 1] after every optimiser step (functa's clipping)."""

    def after_step(self, state: FitState) -> None:
        with torch.no_grad():
            state.model.meta_lrs.clamp_(0.0, 1.0)


class TermHistory(Callback):
    """Record ``{"step", "seconds", **terms}`` every ``every`` steps and on the last step.

    ``seconds`` is the training time so far (:attr:`FitState.train_seconds`).
    """

    def __init__(self, every: int = 10):
        self.every = every
        self.history: list[dict] = []

    def after_step(self, state: FitState) -> None:
        if state.step % self.every == 0 or state.last_step:
            self.history.append({"step": state.step, "seconds": state.train_seconds, **state.loss_terms})

    def state_dict(self) -> dict:
        """The record so far, for a resumable snapshot (:mod:`inrkit.train.resume`)."""
        return {"every": self.every, "history": [dict(h) for h in self.history]}

    def load_state_dict(self, state: dict) -> None:
        self.every = int(state["every"])
        self.history = [dict(h) for h in state["history"]]


def encode(field: LatentModulatedField, coords: Tensor, targets: Tensor, steps: int, batch_size: int = 256) -> Tensor:
    """Latents for many signals ``targets (M, N, C)``, ``batch_size`` at a time, first order."""
    out = []
    for i in range(0, targets.shape[0], batch_size):
        z = inner_loop(field, coords, targets[i:i + batch_size], steps, first_order=True)
        out.append(z.detach())
    return torch.cat(out) if out else torch.zeros(0, field.latent_dim)


def psnr_per_signal(field: LatentModulatedField, coords: Tensor, targets: Tensor, latents: Tensor) -> Tensor:
    """PSNR in dB of each signal's reconstruction ``(B,)``, targets in [-1, 1]."""
    with torch.no_grad():
        mse = per_signal_loss(field(coords, latents), targets)
    return psnr_from_mse(mse)


def pca_psnr(train: Tensor, test: Tensor, components: int) -> float:
    """PSNR of reconstructing ``test (M, D)`` (values in [-1, 1]) from its first ``components``
    principal components of ``train (K, D)``: the classical baseline of the same size."""
    mean = train.mean(0, keepdim=True)
    _, _, V = torch.linalg.svd((train - mean).double(), full_matrices=False)
    P = V[:components]  # (k, D)
    rec = ((test - mean).double() @ P.T) @ P + mean.double()
    mse = ((rec - test.double()) ** 2).mean(1)
    return float(psnr_from_mse(mse).mean()) if not math.isnan(float(mse.mean())) else float("nan")
