"""A Cool-chic-like codec (Ladune et al. 2023, "COOL-CHIC: Coordinate-based Low Complexity
Hierarchical Image Codec"): multi-resolution latent grids, a tiny per-pixel synthesis MLP,
trained for rate and distortion together.

Model. Grids ``y_k`` of shape ``ceil(H / 2^k) x ceil(W / 2^k)``, ``k = first .. first + n - 1``
(scales 1 to 1/64 with ``first = 0, n = 7``; ``first = 1`` drops the finest grid, a lever at low
rates). Each is upsampled bilinearly to the output size and the ``n`` values at a pixel go
through an MLP ``n -> h1 -> h2 -> C`` (ReLU), about ``n h1 + h1 h2 + h2 C`` multiply-adds per pixel
(7*24 + 24*24 + 24*3 = 816 by default, the issue's 0.5-1k). Output RGB (or gray) directly in
[0, 1]: the loss and the reported PSNR are both on RGB.

Training (the one loop, :func:`inrkit.train.fit`, with :class:`RateDistortion` as the objective
and :class:`GridSampler` handing out targets and noise):
``loss = MSE + lambda * bpp`` (Balle et al. 2017; Cool-chic eq. 2), with the latents' rate from
a Laplace model per grid whose log scale depends on the coarser grid, ``log b = a_k + c_k
log(1 + s)``, ``s`` the parent neighbourhood's sum of ``|y|`` (the same statistic the coder's
context classes use). Quantisation is replaced by additive uniform noise, then a short
straight-through phase (Cool-chic sec. 3.3). Speed levers for the CPU: the first part of the
budget trains at half resolution (coarse to fine), and the latents learn at lr 0.1, five times the
MLP's 0.02 (Adam moves a parameter by about lr per step, and latents must reach several units in a
few hundred steps; on camera at 128x128 after 300 steps at lambda 0.002, latent and MLP lr 0.01
gave 25.4 dB at 1.01 bpp; latent lr 0.03: 28.7 dB at 0.93 bpp; latent lr 0.1 with MLP lr 0.02:
29.2 dB at 0.95 bpp).

Coding. Latents are rounded to integers and range-coded coarse to fine; grid ``k`` is split into
:data:`entropy.N_CONTEXT_CLASSES` classes from the decoded grid ``k + 1``
(:func:`entropy.classes_from_coarser`), each with its own Laplace decay; the coarsest grid has one
model. MLP weights are quantised per tensor (step ``std * 2^-b``), ``b`` chosen by a
rate-distortion search on the decoded image. The file's parameters are
``(first, n, h1, h2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..batch import Batch
from ..train.fit import Callback
from ..errors import InrkitError
from . import entropy as E
from .coin import BIT_CHOICES, factorised_record, quantise_array
from .format import Container, TensorRecord, float16_bits, serialise

LATENT_STEP = float16_bits(1.0)
MAX_GRIDS = 10
MAX_HIDDEN = 128


@dataclass(frozen=True)
class CoolChicSettings:
    """A preset: grids, MLP and the training budget (steps, or seconds when set)."""

    grids: int = 7
    drop_finest: bool = False
    hidden: tuple[int, int] = (24, 24)
    steps: int = 1500
    seconds: float | None = None
    lr: float = 2e-2
    latent_lr: float = 1e-1
    coarse_fraction: float = 0.3
    ste_fraction: float = 0.1
    seed: int = 0


PRESETS = {
    # a 240 s training budget plus a few seconds of coding: under the 5 CPU minutes per image whatever its
    # size (docs/benchmarks.md has a reduced run at 256 px with 60 s; the 512 px protocol was not run yet)
    "fast": CoolChicSettings(steps=100_000, seconds=240.0),
    "quality": CoolChicSettings(grids=7, hidden=(40, 40), steps=100_000, seconds=1800.0),
    "tiny": CoolChicSettings(grids=4, hidden=(8, 8), steps=120),  # tests
}


def grid_shape(h: int, w: int, k: int) -> tuple[int, int]:
    return -(-h // (1 << k)), -(-w // (1 << k))


class CoolChic(nn.Module):
    """Latent grids + synthesis MLP + the training-time rate model's parameters.

    ``latents[i]`` is grid ``first + i``, ``(1, 1, h_k, w_k)``. ``forward(size, noise, mode)``
    returns ``((H, W, C) image in [0, 1], bits)``.
    """

    def __init__(self, h: int, w: int, channels: int, grids: int = 7, first: int = 0,
                 hidden: tuple[int, int] = (24, 24), generator: torch.Generator | None = None):
        super().__init__()
        self.h, self.w, self.channels, self.first = h, w, channels, first
        self.latents = nn.ParameterList([nn.Parameter(torch.zeros(1, 1, *grid_shape(h, w, first + i)))
                                         for i in range(grids)])
        dims = (grids, *hidden, channels)
        layers: list[nn.Module] = []
        for i in range(len(dims) - 1):
            lin = nn.Linear(dims[i], dims[i + 1])
            bound = 1.0 / math.sqrt(dims[i])
            with torch.no_grad():
                lin.weight.uniform_(-bound, bound, generator=generator)
                lin.bias.uniform_(-bound, bound, generator=generator)
            layers += [lin, nn.ReLU()]
        self.synthesis = nn.Sequential(*layers[:-1])
        self.rate_a = nn.Parameter(torch.zeros(grids))  # log Laplace scale at s = 0
        self.rate_c = nn.Parameter(torch.zeros(grids))  # its slope in log(1 + s)

    def synthesis_parameters(self) -> list[nn.Parameter]:
        return list(self.synthesis.parameters())

    def quantised(self, noise: list[Tensor] | None, mode: str) -> list[Tensor]:
        """The latents as the synthesis sees them: + noise, straight-through rounded, or rounded."""
        if mode == "noise":
            return [y + n for y, n in zip(self.latents, noise)]
        if mode == "ste":
            return [y + (torch.round(y) - y).detach() for y in self.latents]
        return [torch.round(y) for y in self.latents]

    def synthesise(self, ys: list[Tensor], size: tuple[int, int]) -> Tensor:
        """``(H, W, C)`` in [0, 1] from latents ``ys`` upsampled to ``size = (H, W)``."""
        up = torch.cat([F.interpolate(y, size=size, mode="bilinear", align_corners=False) for y in ys], 1)
        feats = up[0].permute(1, 2, 0).reshape(-1, len(ys))  # (H*W, n)
        out = self.synthesis(feats)  # (H*W, C)
        return out.reshape(*size, self.channels)

    def rate_bits(self, ys: list[Tensor]) -> Tensor:
        """Estimated bits of the latents ``ys``: -log2 of the Laplace mass of [y - 1/2, y + 1/2]."""
        total = ys[0].new_zeros(())
        for i, y in enumerate(ys):
            if i + 1 < len(ys):
                s = _context_sum(ys[i + 1].detach(), y.shape[-2:])  # (1, 1, h, w)
                log_b = self.rate_a[i] + self.rate_c[i] * torch.log1p(s)
            else:
                log_b = self.rate_a[i].expand_as(y)
            b = torch.exp(log_b).clamp_min(1e-3)
            p = _laplace_cdf(y + 0.5, b) - _laplace_cdf(y - 0.5, b)
            total = total - torch.log2(p.clamp_min(1e-9)).sum()
        return total


def _laplace_cdf(x: Tensor, b: Tensor) -> Tensor:
    return 0.5 + 0.5 * torch.sign(x) * (1.0 - torch.exp(-x.abs() / b))


def _context_sum(coarser: Tensor, shape) -> Tensor:
    """Float version of :func:`entropy.classes_from_coarser`'s statistic: sum of |q| over the
    parent cell and its 4 neighbours, mapped to ``shape`` by the parent index."""
    c = coarser.abs()
    pad = F.pad(c, (1, 1, 1, 1), mode="replicate")
    s = pad[..., 1:-1, 1:-1] + pad[..., :-2, 1:-1] + pad[..., 2:, 1:-1] + pad[..., 1:-1, :-2] + pad[..., 1:-1, 2:]
    H, W = int(shape[0]), int(shape[1])
    h, w = c.shape[-2:]
    rows = (torch.arange(H) * h) // H
    cols = (torch.arange(W) * w) // W
    return s[..., rows[:, None], cols[None, :]]


# ---- training through the one loop ------------------------------------------------------------

class GridSampler:
    """Each step: the whole target at one resolution and fresh uniform noise for every grid
    (drawn from the loop's generator, so a seed fixes the run)."""

    def __init__(self, pixels: Tensor, model: CoolChic, mode: str):
        self.targets, self.model, self.mode = pixels, model, mode  # (H, W, C)

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        extras = {}
        if self.mode == "noise":
            for i, y in enumerate(self.model.latents):
                extras[f"noise{i}"] = torch.rand(y.shape, generator=generator) - 0.5
        return Batch(coords=None, targets=self.targets, extras=extras, grid=tuple(self.targets.shape[:2]))


class RateDistortion:
    """``loss = MSE + lambda * bpp`` on [0, 1] pixels; bits counted over the full-size image's
    pixels (the latents' rate does not depend on the training resolution)."""

    def __init__(self, lmbda: float, mode: str, pixels: int):
        self.lmbda, self.mode, self.pixels = lmbda, mode, pixels

    def __call__(self, model: CoolChic, batch: Batch) -> dict[str, Tensor]:
        noise = [batch[f"noise{i}"] for i in range(len(model.latents))] if self.mode == "noise" else None
        ys = model.quantised(noise, self.mode)
        t = batch.targets
        x = model.synthesise(ys, tuple(t.shape[:2]))
        mse = torch.mean((x - t) ** 2)
        bpp = model.rate_bits(ys) / self.pixels
        psnr = -10.0 * torch.log10(mse.detach().clamp_min(1e-12))
        return {"loss": mse + self.lmbda * bpp, "mse": mse.detach(), "bpp": bpp.detach(), "psnr": psnr}


def _half(pixels: Tensor) -> Tensor:
    """(H, W, C) -> area average to ceil(H/2) x ceil(W/2)."""
    x = pixels.permute(2, 0, 1)[None]
    x = F.adaptive_avg_pool2d(x, grid_shape(pixels.shape[0], pixels.shape[1], 1))
    return x[0].permute(1, 2, 0).contiguous()


class BudgetCosine(Callback):
    """Cosine decay of every parameter group's learning rate to ``floor`` of its initial value
    over the run's budget, by :attr:`FitState.fraction` (steps or seconds, whichever is spent
    faster), so a time-budgeted run decays too (a step-based schedule would not)."""

    def __init__(self, floor: float = 0.01):
        self.floor, self.base = floor, []

    def on_start(self, state) -> None:
        self.base = [g["lr"] for g in state.optimizer.param_groups]

    def before_step(self, state) -> None:
        k = self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * state.fraction))
        for g, lr in zip(state.optimizer.param_groups, self.base):
            g["lr"] = lr * k


def train(signal, lmbda: float, settings: CoolChicSettings, progress: bool = False) -> tuple[CoolChic, dict]:
    """Fit a :class:`CoolChic` to ``signal`` in three calls of the one loop: noise at half
    resolution, noise at full resolution, straight-through; (model, steps and seconds per phase)."""
    from ..train import Progress, fit

    h, w = signal.shape
    gen = torch.Generator().manual_seed(settings.seed)
    first = 1 if settings.drop_finest else 0
    model = CoolChic(h, w, signal.channels, settings.grids, first, settings.hidden, generator=gen)
    target = torch.as_tensor(signal.pixels, dtype=torch.float32)  # (H, W, C) in [0, 1]
    record: dict = {}
    phases = [("coarse", _half(target), "noise", settings.coarse_fraction, settings.lr),
              ("fine", target, "noise", 1.0 - settings.coarse_fraction - settings.ste_fraction, settings.lr),
              ("ste", target, "ste", settings.ste_fraction, settings.lr * 0.1)]
    for name, t, mode, frac, lr in phases:
        if frac <= 0:
            continue
        steps = max(1, int(round(settings.steps * frac)))
        secs = settings.seconds * frac if settings.seconds else None
        latents = list(model.latents.parameters())
        ids = {id(p) for p in latents}
        rest = [p for p in model.parameters() if id(p) not in ids]
        opt = torch.optim.Adam([{"params": latents, "lr": lr * settings.latent_lr / settings.lr},
                                {"params": rest, "lr": lr}])
        res = fit(model, GridSampler(t, model, mode), RateDistortion(lmbda, mode, h * w), steps=steps,
                  max_seconds=secs, optimizer=opt,
                  callbacks=([BudgetCosine()] if name != "coarse" else []) + [Progress(f"cool-chic {name}", progress)],
                  generator=torch.Generator().manual_seed(settings.seed + 1))
        record[name] = {"steps": res.steps, "seconds": round(res.seconds, 2), "status": res.status}
    return model, record


# ---- coding -----------------------------------------------------------------------------------

def _latent_records(model: CoolChic) -> list[TensorRecord]:
    """Coarse to fine: the coarsest under one model, each finer one under context classes."""
    qs = [torch.round(y.detach())[0, 0].numpy().astype(np.int64) for y in model.latents]  # fine -> coarse
    recs = []
    for i in reversed(range(len(qs))):
        q = qs[i]
        if q.size and np.abs(q).max() >= 1 << 15:
            raise InrkitError("a latent is too large to code; try a larger lambda")
        if i == len(qs) - 1:
            recs.append(factorised_record(q, LATENT_STEP))
            continue
        cls = E.classes_from_coarser(qs[i + 1], q.shape)
        lo, hi = int(q.min()), int(q.max())
        r_q = tuple(E.refine_decay(q[cls == k], lo, hi, E.fit_decay(q[cls == k]), span=1) if (cls == k).any() else 0
                    for k in range(E.N_CONTEXT_CLASSES))
        recs.append(TensorRecord(q.shape, LATENT_STEP, lo, hi, 1, r_q, E.encode(q, r_q, lo, hi, cls)))
    return recs


def encode(signal, lmbda: float, settings: CoolChicSettings = PRESETS["fast"], progress: bool = False,
           model: CoolChic | None = None) -> tuple[Container, np.ndarray, dict]:
    """Train (unless ``model`` is given), quantise and code; (container, the decoder's exact uint8
    reconstruction, a record with the chosen weight precision, bpp and MSE)."""
    if not lmbda > 0:
        raise InrkitError(f"lambda must be positive, not {lmbda}")
    h, w = signal.shape
    record: dict = {}
    if model is None:
        model, record = train(signal, lmbda, settings, progress)
    latents = _latent_records(model)
    target = np.round(signal.pixels * 255.0).astype(np.float64)
    params = (model.first, len(model.latents), *[m.out_features for m in model.synthesis if isinstance(m, nn.Linear)][:-1])
    colour = "gray" if signal.channels == 1 else "rgb"
    best = None
    for b in BIT_CHOICES:
        weights = [factorised_record(*quantise_array(p.detach().double().numpy(), b))
                   for p in model.synthesis_parameters()]
        c = Container("coolchic", h, w, signal.channels, colour, tuple(params), latents + weights)
        nbytes = len(serialise(c))
        img = decode(c)
        mse = float(np.mean((img.astype(np.float64) - target) ** 2)) / 255.0 ** 2
        bpp = 8.0 * nbytes / (h * w)
        cost = mse + lmbda * bpp
        if best is None or cost < best[0]:
            best = (cost, c, img, {"weight_bits": b, "bpp": bpp, "mse": mse, "training": record})
    return best[1], best[2], best[3]


def decoder_model(c: Container) -> tuple[CoolChic, list[torch.Tensor]]:
    """Rebuild the synthesis and the integer latents (fine to coarse) from a container."""
    if len(c.params) != 4:
        raise InrkitError("corrupt .inrk file: a cool-chic file has 4 parameters")
    first, n, h1, h2 = c.params
    if not (first <= 8 and 1 <= n <= MAX_GRIDS and 1 <= h1 <= MAX_HIDDEN and 1 <= h2 <= MAX_HIDDEN):
        raise InrkitError(f"corrupt .inrk file: cool-chic with grids {first}+{n}, hidden {h1}x{h2}")
    if len(c.tensors) != n + 6:
        raise InrkitError(f"corrupt .inrk file: {len(c.tensors)} tensors where a cool-chic file has {n + 6}")
    model = CoolChic(c.height, c.width, c.channels, n, first, (h1, h2))
    latent_recs, weight_recs = c.tensors[:n], c.tensors[n:]
    qs: list[np.ndarray] = []
    for j, t in enumerate(latent_recs):  # coarse to fine
        k = first + n - 1 - j
        shape = grid_shape(c.height, c.width, k)
        if t.shape != shape:
            raise InrkitError(f"corrupt .inrk file: latent grid {k} is {t.shape}, expected {shape}")
        if (t.context == 1) != (j > 0):
            raise InrkitError(f"corrupt .inrk file: latent grid {k} has the wrong context model")
        cls = E.classes_from_coarser(qs[-1], shape) if j > 0 else None
        if cls is not None and len(t.r_q) != E.N_CONTEXT_CLASSES:
            raise InrkitError(f"corrupt .inrk file: latent grid {k} has {len(t.r_q)} classes")
        qs.append(E.decode(t.data, t.size, t.r_q, t.lo, t.hi, cls).reshape(shape))
    params = model.synthesis_parameters()
    if [t.shape for t in weight_recs] != [tuple(p.shape) for p in params]:
        raise InrkitError("corrupt .inrk file: its weights do not match the stated synthesis network")
    with torch.no_grad():
        for p, t in zip(params, weight_recs):
            q = E.decode(t.data, t.size, t.r_q, t.lo, t.hi).reshape(t.shape)
            p.copy_(torch.as_tensor(q * t.step_value, dtype=torch.float32))
    ys = [torch.as_tensor(q, dtype=torch.float32)[None, None] for q in reversed(qs)]  # fine -> coarse
    return model, ys


def decode(c: Container, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 ``(H, W, C)`` at the stored size or ``size = (W, H)`` (latents upsampled to it)."""
    model, ys = decoder_model(c)
    w, h = size if size is not None else (c.width, c.height)
    with torch.no_grad():
        x = model.synthesise(ys, (h, w))
    return np.round(np.clip(x.double().numpy(), 0, 1) * 255.0).astype(np.uint8)
