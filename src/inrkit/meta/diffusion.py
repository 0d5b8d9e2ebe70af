"""A denoising diffusion model on vectors (DDPM, Ho, Jain, Abbeel 2020), and the Frechet distance.

Used as the second generative model of a functaset (functa sec. 4.3 samples modulations
with a diffusion model as well as flows). Data are standardised per dimension first.

Forward process with the paper's linear schedule beta_1 = 1e-4 ... beta_T = 0.02, T = 1000:

    x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,    abar_t = prod_{s <= t} (1 - beta_s).

A network eps_theta(x_t, t) predicts eps; the loss is ||eps - eps_theta||^2 at a uniform
random t (the "simple" objective, Ho et al. eq. 14). Ancestral sampling (Algorithm 2):

    x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(1 - beta_t) + sigma_t z,
    sigma_t^2 = beta_t.

The denoiser is an MLP on [x_t, sinusoidal embedding of t] with SiLU units, trained with
Adam and an exponential moving average of its weights (used for sampling).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from ..batch import Batch
from ..nn import init as I
from ..train.fit import Callback, FitState, fit
from ..train.progress import Progress


def _time_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding of integer steps ``t (B,)`` -> ``(B, dim)`` (Vaswani et al. 2017)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    ang = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)


class VectorDDPM(nn.Module):
    """eps_theta(x_t, t) for ``dim``-vectors, with the schedule as buffers and the data scaling."""

    def __init__(self, dim: int, hidden: int = 512, layers: int = 3, steps: int = 1000, temb: int = 64,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.dim, self.hidden, self.layers, self.steps, self.temb = dim, hidden, layers, steps, temb
        mods: list[nn.Module] = []
        d_in = dim + temb
        for _ in range(layers):
            mods += [nn.Linear(d_in, hidden), nn.SiLU()]
            d_in = hidden
        mods.append(nn.Linear(hidden, dim))
        self.net = nn.Sequential(*mods)
        for m in self.net:
            if isinstance(m, nn.Linear):
                I.torch_default_linear_(m.weight, m.bias, generator)
        betas = torch.linspace(1e-4, 0.02, steps)
        self.register_buffer("betas", betas)
        self.register_buffer("abar", torch.cumprod(1.0 - betas, 0))
        self.register_buffer("loc", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))

    def spec(self) -> dict:
        return {"type": "ddpm", "dim": self.dim, "hidden": self.hidden, "layers": self.layers, "steps": self.steps,
                "temb": self.temb}

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        """Predicted noise for standardised ``x_t (B, dim)`` at integer steps ``t (B,)`` in [0, steps)."""
        return self.net(torch.cat([x_t, _time_embedding(t, self.temb)], dim=1))

    def loss(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The simple objective on standardised data ``x0 (B, dim)``."""
        t = torch.randint(0, self.steps, (len(x0),), generator=generator).to(x0.device)
        eps = torch.randn(x0.shape, generator=generator).to(x0.device)
        ab = self.abar[t][:, None]
        x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
        return ((self(x_t, t) - eps) ** 2).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """``n`` samples in the data's own units (the standardisation undone).

        ``temperature`` scales the initial noise and each step's added noise (1 = the model).
        """
        dev = self.betas.device
        x = temperature * torch.randn(n, self.dim, generator=generator).to(dev)
        for t in range(self.steps - 1, -1, -1):
            tt = torch.full((n,), t, dtype=torch.long, device=dev)
            b, ab = self.betas[t], self.abar[t]
            x = (x - b / (1 - ab).sqrt() * self(x, tt)) / (1 - b).sqrt()
            if t > 0:
                x = x + temperature * b.sqrt() * torch.randn(n, self.dim, generator=generator).to(dev)
        return x * self.scale + self.loc


class DenoisingLoss:
    """Objective: the simple DDPM loss (Ho et al. eq. 14) on standardised rows ``batch.coords (B, dim)``.

    Draws the steps t and the noise from ``generator`` (held here, since the objective is
    called right after the sampler, the two share one generator in a fixed order).
    """

    def __init__(self, generator: torch.Generator | None = None):
        self.generator = generator

    def __call__(self, model: VectorDDPM, batch: Batch) -> dict[str, Tensor]:
        return {"loss": model.loss(batch.coords, self.generator)}


class RowBatches:
    """Sampler: ``batch_size`` rows of ``x (M, dim)`` drawn uniformly with replacement (one
    ``torch.randint`` on the CPU per step, then moved to ``x``'s device)."""

    def __init__(self, x: Tensor, batch_size: int):
        self.x, self.batch_size = x, min(batch_size, len(x))

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        idx = torch.randint(0, len(self.x), (self.batch_size,), generator=generator).to(self.x.device)
        return Batch(coords=self.x[idx])


class EMA(Callback):
    """Exponential moving average of the model's weights, in ``average`` (Polyak averaging).

    After step s the average moves towards the weights by 1 - decay_s with
    decay_s = min(``decay``, (1 + s) / (10 + s)): a warm-up, so that early averages forget
    the initial weights.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999):
        self.average = copy.deepcopy(model)
        self.decay = decay

    def after_step(self, state: FitState) -> None:
        decay = min(self.decay, (1.0 + state.step) / (10.0 + state.step))
        with torch.no_grad():
            for pa, pm in zip(self.average.parameters(), state.model.parameters()):
                pa.lerp_(pm, 1.0 - decay)


class LossHistory(Callback):
    """Mean training loss over every ``every`` steps (and the remainder at the end)."""

    def __init__(self, every: int = 100):
        self.every, self.history, self._running, self._count = every, [], 0.0, 0

    def after_step(self, state: FitState) -> None:
        self._running += state.loss_terms["loss"]
        self._count += 1
        if state.step % self.every == 0 or state.last_step:
            self.history.append({"step": state.step, "loss": self._running / self._count})
            self._running, self._count = 0.0, 0


def train_ddpm(train: Tensor, steps: int = 4000, batch_size: int = 256, lr: float = 1e-3, hidden: int = 512,
               layers: int = 3, ema: float = 0.999, seed: int = 0,
               progress: bool = False) -> tuple[VectorDDPM, list[dict]]:
    """Fit a ``VectorDDPM`` to the rows of ``train``; returns the EMA model and a loss history.

    Adam at ``lr`` with a cosine decay over ``steps``; ``batch_size`` rows drawn with
    replacement each step; the history holds the mean loss of every 100 steps.
    """
    g = torch.Generator().manual_seed(seed)
    model = VectorDDPM(train.shape[1], hidden, layers, generator=g).to(train.device)
    with torch.no_grad():
        model.loc.copy_(train.mean(0))
        model.scale.copy_(train.std(0).clamp_min(1e-6))
    x = (train - model.loc) / model.scale
    average, history = EMA(model, ema), LossHistory(100)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    fit(model, RowBatches(x, batch_size), DenoisingLoss(g), steps=steps, optimizer=opt, scheduler=sched,
        generator=g, callbacks=[average, history, Progress("diffusion", progress)])
    average.average.eval()
    return average.average, history.history


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """Frechet distance between Gaussians fitted to the rows of ``a`` and ``b``:
    ||mu_a - mu_b||^2 + tr(C_a + C_b - 2 (C_a C_b)^(1/2)) (the FID formula, Heusel et al. 2017,
    applied to the vectors themselves). The matrix square root is taken through the symmetric
    form C_a^(1/2) C_b C_a^(1/2), whose eigenvalues are those of C_a C_b."""
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = torch.cov(a.T).reshape(a.shape[1], -1), torch.cov(b.T).reshape(b.shape[1], -1)

    def sqrtm_psd(m: Tensor) -> Tensor:
        w, v = torch.linalg.eigh((m + m.T) / 2)
        return (v * w.clamp_min(0).sqrt()) @ v.T

    ra = sqrtm_psd(ca)
    cross = torch.linalg.eigvalsh((ra @ cb @ ra + (ra @ cb @ ra).T) / 2).clamp_min(0).sqrt().sum()
    return float(((mu_a - mu_b) ** 2).sum() + ca.trace() + cb.trace() - 2 * cross)
