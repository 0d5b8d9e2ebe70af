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

from ..nn import init as I


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


def train_ddpm(train: Tensor, steps: int = 4000, batch_size: int = 256, lr: float = 1e-3, hidden: int = 512,
               layers: int = 3, ema: float = 0.999, seed: int = 0) -> tuple[VectorDDPM, list[dict]]:
    """Fit a ``VectorDDPM`` to the rows of ``train``; returns the EMA model and a loss history."""
    g = torch.Generator().manual_seed(seed)
    model = VectorDDPM(train.shape[1], hidden, layers, generator=g).to(train.device)
    with torch.no_grad():
        model.loc.copy_(train.mean(0))
        model.scale.copy_(train.std(0).clamp_min(1e-6))
    x = (train - model.loc) / model.scale
    avg = copy.deepcopy(model)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    history, running = [], 0.0
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(x), (min(batch_size, len(x)),), generator=g).to(x.device)
        loss = model.loss(x[idx], g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        decay = min(ema, (1.0 + step) / (10.0 + step))  # warm-up: early averages forget the initial weights
        with torch.no_grad():
            for pa, pm in zip(avg.parameters(), model.parameters()):
                pa.lerp_(pm, 1.0 - decay)
        running += float(loss.detach())
        if step % 100 == 0 or step == steps:
            history.append({"step": step, "loss": running / (100 if step % 100 == 0 else step % 100)})
            running = 0.0
    avg.eval()
    return avg, history


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
