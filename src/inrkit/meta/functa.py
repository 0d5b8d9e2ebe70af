"""Functa meta-learning as functions (Dupont, Kim et al. 2022, sec. 3, with Meta-SGD).

The inner loop fits per-signal latents by a few gradient steps from zero; the outer loop
updates the shared weights and the per-dimension inner learning rates through it.
Everything is batched over signals as one tensor computation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..fields.modulated import LatentModulatedField


def per_signal_loss(pred: Tensor, targets: Tensor) -> Tensor:
    """Mean squared error of each signal: ``(B, N, C)`` -> ``(B,)``."""
    return ((pred - targets) ** 2).mean(dim=(1, 2))


def inner_loop(field: LatentModulatedField, coords: Tensor, targets: Tensor, steps: int,
               first_order: bool = False, latents: Tensor | None = None) -> Tensor:
    """Fit latents ``(B, latent_dim)`` to ``targets (B, N, C)`` by ``steps`` Meta-SGD steps from zero.

    z <- z - clip(alpha, 0, 1) * grad_z L, with alpha = ``field.meta_lrs``.
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
            loss = per_signal_loss(field(coords, z), targets).sum()
            (g,) = torch.autograd.grad(loss, z, create_graph=not first_order)
        z = z - lrs * g
        if first_order:
            z = z.detach().requires_grad_(True)
    return z


def outer_step(field: LatentModulatedField, optimizer: torch.optim.Optimizer, coords: Tensor, targets: Tensor,
               inner_steps: int = 3, first_order: bool = False) -> dict[str, float]:
    """One meta-learning step: inner loop, then Adam on shared weights and ``meta_lrs``.

    Returns the outer loss and the batch's mean PSNR (targets in [-1, 1]).
    """
    z = inner_loop(field, coords, targets, inner_steps, first_order)
    losses = per_signal_loss(field(coords, z), targets)  # (B,)
    loss = losses.mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        field.meta_lrs.clamp_(0.0, 1.0)  # Meta-SGD rates live in [0, 1] (functa's clipping)
    psnr = float((10 * torch.log10(4.0 / losses.detach().clamp_min(1e-12))).mean())
    return {"loss": float(loss.detach()), "psnr": psnr}


def encode(field: LatentModulatedField, coords: Tensor, targets: Tensor, steps: int, batch_size: int = 256) -> Tensor:
    """Latents for many signals ``targets (M, N, C)``, ``batch_size`` at a time, first order."""
    out = []
    for i in range(0, targets.shape[0], batch_size):
        z = inner_loop(field, coords, targets[i:i + batch_size], steps, first_order=True)
        out.append(z.detach())
    return torch.cat(out) if out else torch.zeros(0, field.latent_dim)


def psnr_per_signal(field: LatentModulatedField, coords: Tensor, targets: Tensor, latents: Tensor) -> Tensor:
    with torch.no_grad():
        mse = per_signal_loss(field(coords, latents), targets)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def pca_psnr(train: Tensor, test: Tensor, components: int) -> float:
    """PSNR of reconstructing ``test (M, D)`` (values in [-1, 1]) from its first ``components``
    principal components of ``train (K, D)``: the classical baseline of the same size."""
    mean = train.mean(0, keepdim=True)
    _, _, V = torch.linalg.svd((train - mean).double(), full_matrices=False)
    P = V[:components]  # (k, D)
    rec = ((test - mean).double() @ P.T) @ P + mean.double()
    mse = ((rec - test.double()) ** 2).mean(1)
    return float((10 * torch.log10(4.0 / mse.clamp_min(1e-12))).mean()) if not math.isnan(float(mse.mean())) else float("nan")
