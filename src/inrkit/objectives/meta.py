"""Functa's outer objective: reconstruction after the inner loop (Dupont, Kim et al. 2022, sec. 3).

Meta-training is :func:`inrkit.train.fit` with this objective: each step fits the batch's
latents by the inner loop (:func:`inrkit.meta.functa.inner_loop`), then scores the shared
weights and the Meta-SGD rates by the loss of the fitted signals. The optimiser's gradient
flows back through the inner steps (second order) unless ``first_order``.
"""

from __future__ import annotations

from torch import Tensor

from ..batch import Batch
from ..fields.modulated import LatentModulatedField
from ..meta.functa import PerSignalLoss, inner_loop, per_signal_loss
from ..metrics import psnr_from_mse


class MetaReconstruction:
    """``loss`` = mean over signals of ``per_signal(field(coords, z*), targets)``, z* from the inner loop.

    Reads ``batch.coords (N, d)`` (shared by every signal) and ``batch.targets (B, N, C)``
    in [-1, 1]. Also returns ``psnr``: the batch's mean PSNR in dB (of the per-signal MSE,
    whatever ``per_signal`` is). ``per_signal`` is the per-signal loss of both loops
    (default: the MSE of each signal).
    """

    def __init__(self, inner_steps: int = 3, first_order: bool = False,
                 per_signal: PerSignalLoss = per_signal_loss):
        self.inner_steps, self.first_order, self.per_signal = inner_steps, first_order, per_signal

    def __call__(self, field: LatentModulatedField, batch: Batch) -> dict[str, Tensor]:
        coords, targets = batch.coords, batch.targets
        z = inner_loop(field, coords, targets, self.inner_steps, self.first_order, loss=self.per_signal)
        pred = field(coords, z)  # (B, N, C)
        losses = self.per_signal(pred, targets)  # (B,)
        mse = losses.detach() if self.per_signal is per_signal_loss else per_signal_loss(pred.detach(), targets)
        return {"loss": losses.mean(), "psnr": psnr_from_mse(mse).mean()}
