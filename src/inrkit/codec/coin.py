"""COIN (Dupont et al. 2021, "COIN: COmpression with Implicit Neural representations"): the
image is a small SIREN's weights.

The didactic mode: a SIREN (Sitzmann et al. 2020) is fitted to the image with inrkit's own image
fitting (:func:`inrkit.apps.image.fit_signal`, the one loop), then each weight tensor is
quantised with its own step ``step_t = float16(std_t * 2^-b)`` and range-coded under a
discrete Laplace model (:mod:`.entropy`). COIN itself casts weights to float16 (16 bits per
weight); quantising with ``b`` bits below the tensor's spread and entropy coding is the
refinement of Struempler et al. 2022 (sec. 3.2), without their quantisation-aware retraining.
``b`` is chosen by a small rate-distortion search: the ``b`` of :data:`BIT_CHOICES` minimising
``MSE + lambda * bpp`` with the rate from the exact code length.

The file's parameters are ``(width, hidden_layers, w0 as float16 bits)``; the decoder rebuilds
the same SIREN (:func:`inrkit.config.build_field`) and renders it at any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InrkitError
from . import entropy as E
from .format import Container, TensorRecord, float16_bits, float16_value

BIT_CHOICES = (2, 3, 4, 5, 6, 7, 8)
"""Candidate precisions ``b``: step = std / 2^b (2 is coarse, 8 near float16's visual limit)."""


@dataclass(frozen=True)
class CoinSettings:
    """The SIREN and its fit. COIN's Kodak models are 10 layers of 28 (0.3 bpp) with lr 2e-4;
    smaller images want smaller networks."""

    width: int = 32
    hidden_layers: int = 3
    w0: float = 30.0
    steps: int = 1000
    lr: float = 2e-4
    seed: int = 0


def _field(width: int, hidden_layers: int, w0: float, channels: int, samples: int):
    from ..config import FieldConfig, build_field

    return build_field(FieldConfig(arch="siren", width=width, hidden_layers=hidden_layers, w0=w0), 2, channels,
                       samples, generator=torch.Generator().manual_seed(0))


def _render(field, h: int, w: int) -> np.ndarray:
    """uint8 ``(h, w, C)`` of the field on a cell-centre grid."""
    from .. import coords as C
    from ..ops import evaluate

    with torch.no_grad():
        v = evaluate(field, C.grid((h, w)), "value")  # (h, w, C) in [-1, 1]
    return np.round(np.clip((v.numpy().astype(np.float64) + 1.0) * 0.5, 0, 1) * 255.0).astype(np.uint8)


def quantise_array(w: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """(integer symbols, float16 bits of the step) of ``w`` at step ``std(w) * 2^-bits``."""
    w = np.asarray(w, dtype=np.float64)
    sd = float(w.std()) or float(np.abs(w).max()) or 1.0
    step_bits = float16_bits(min(max(sd * 2.0 ** -bits, 1e-4), 1e4))
    q = np.round(w / float16_value(step_bits)).astype(np.int64)
    if q.size and np.abs(q).max() >= 1 << 15:
        raise InrkitError("a weight is too large to quantise")
    return q, step_bits


def _quantise(field, bits: int) -> list[tuple[np.ndarray, int]]:
    """Per parameter tensor: (integer symbols, float16 step bits)."""
    return [quantise_array(p.detach().double().numpy(), bits) for _, p in field.named_parameters()]


def _load(field, tensors: list[tuple[np.ndarray, float]]) -> None:
    with torch.no_grad():
        for (_, p), (q, step) in zip(field.named_parameters(), tensors):
            p.copy_(torch.as_tensor(q.reshape(p.shape) * step, dtype=p.dtype))


def factorised_record(q: np.ndarray, step_bits: int) -> TensorRecord:
    """One tensor under one discrete Laplace model fitted to it, coded."""
    lo, hi = int(q.min()), int(q.max())
    r = E.refine_decay(q, lo, hi, E.fit_decay(q), span=2)
    return TensorRecord(tuple(q.shape), step_bits, lo, hi, 0, (r,), E.encode(q, [r], lo, hi))


def _records(quant: list[tuple[np.ndarray, int]]) -> list[TensorRecord]:
    return [factorised_record(q, s) for q, s in quant]


def encode(signal, lmbda: float, settings: CoinSettings = CoinSettings(), progress: bool = False,
           fitted=None) -> tuple[Container, np.ndarray, dict]:
    """Fit, quantise, code: (container, the decoder's exact uint8 reconstruction, a record).

    ``fitted`` reuses an already fitted SIREN (a bench sweeping lambda fits once)."""
    from ..apps.image import fit_signal
    from ..config import FieldConfig, TrainConfig

    h, w = signal.shape
    if fitted is None:
        fcfg = FieldConfig(arch="siren", width=settings.width, hidden_layers=settings.hidden_layers, w0=settings.w0)
        tcfg = TrainConfig(steps=settings.steps, lr=settings.lr, seed=settings.seed, log_every=max(1, settings.steps // 10))
        fitted = fit_signal(signal, fcfg, tcfg, device="cpu", progress=progress, derivative_maps=False).field
    field = fitted
    target = np.round(signal.pixels * 255.0).astype(np.float64)  # (h, w, C)
    params = (settings.width, settings.hidden_layers, float16_bits(settings.w0))
    best = None
    for b in BIT_CHOICES:
        quant = _quantise(field, b)
        recs = _records(quant)
        c = Container("coin", h, w, signal.channels, "gray" if signal.channels == 1 else "rgb", params, recs)
        from .format import serialise

        nbytes = len(serialise(c))
        dec = _decoder_field(c)
        img = _render(dec, h, w)
        mse = float(np.mean((img.astype(np.float64) - target) ** 2)) / 255.0 ** 2
        bpp = 8.0 * nbytes / (h * w)
        cost = mse + lmbda * bpp
        if best is None or cost < best[0]:
            best = (cost, c, img, {"bits": b, "bpp": bpp, "mse": mse})
    _, c, img, info = best
    return c, img, info


def _decoder_field(c: Container):
    if len(c.params) != 3:
        raise InrkitError("corrupt .inrk file: a COIN file has 3 parameters")
    width, depth, w0_bits = c.params
    w0 = float16_value(w0_bits)
    if not (1 <= width <= 1024 and 1 <= depth <= 32 and np.isfinite(w0) and w0 > 0):
        raise InrkitError(f"corrupt .inrk file: SIREN of width {width}, depth {depth}, w0 {w0}")
    field = _field(width, depth, w0, c.channels, max(c.height, c.width))
    shapes = [tuple(p.shape) for p in field.parameters()]
    if [t.shape for t in c.tensors] != shapes:
        raise InrkitError("corrupt .inrk file: its tensors do not match a SIREN of the stated size")
    tensors = []
    for t in c.tensors:
        q = E.decode(t.data, t.size, t.r_q, t.lo, t.hi)
        tensors.append((q, t.step_value))
    _load(field, tensors)
    field.eval()
    return field


def decode(c: Container, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 ``(H, W, C)`` at the stored size or ``size = (W, H)`` (the SIREN is a function)."""
    field = _decoder_field(c)
    w, h = size if size is not None else (c.width, c.height)
    return _render(field, h, w)
