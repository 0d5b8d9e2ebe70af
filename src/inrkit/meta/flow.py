"""RealNVP normalizing flow on vectors (Dinh, Sohl-Dickstein, Bengio 2017).

Used to model a functaset: a density over latent vectors from which new functions are
sampled (functa sec. 4.3 generates in modulation space with flows and diffusion).

The flow maps data x to a standard normal u through invertible layers; the density is
given exactly by the change of variables

    log p(x) = log N(u; 0, I) + sum_k log |det d f_k / d x_k|.

Layers:

* ``ActNorm``: u = (x - b) * exp(-log_s), a per-dimension affine map initialised from the
  first batch so that its output has zero mean and unit variance (Kingma & Dhariwal 2018).
* ``AffineCoupling``: split the dimensions by a binary mask m; the masked half passes
  unchanged and conditions a scale and shift of the other half,

      y = m * x + (1 - m) * (x * exp(s(m * x)) + t(m * x)),   log|det| = sum (1 - m) * s,

  with s = tanh(.) * scale kept bounded for stable training (RealNVP sec. 3.3-3.4).
  Consecutive couplings alternate complementary masks so every dimension is transformed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..batch import Batch
from ..nn import init as I
from ..train.fit import Callback, FitState, fit
from ..train.progress import Progress
from .epochs import EpochBatches


def _mlp(d_in: int, hidden: int, d_out: int, generator: torch.Generator | None) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(d_in, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                        nn.Linear(hidden, d_out))
    for m in net:
        if isinstance(m, nn.Linear):
            I.torch_default_linear_(m.weight, m.bias, generator)
    with torch.no_grad():  # start as the identity map
        net[-1].weight.zero_()
        net[-1].bias.zero_()
    return net


class ActNorm(nn.Module):
    """Per-dimension affine normalisation, data-initialised on its first forward pass."""

    def __init__(self, dim: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialised", torch.tensor(False))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not bool(self.initialised) and self.training:
            with torch.no_grad():
                self.loc.copy_(x.mean(0))
                self.log_scale.copy_(x.std(0).clamp_min(1e-6).log())
                self.initialised.fill_(True)
        u = (x - self.loc) * torch.exp(-self.log_scale)
        return u, (-self.log_scale.sum()).expand(x.shape[0])

    def inverse(self, u: Tensor) -> Tensor:
        return u * torch.exp(self.log_scale) + self.loc


class AffineCoupling(nn.Module):
    def __init__(self, dim: int, mask: Tensor, hidden: int = 256, scale_bound: float = 2.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.register_buffer("mask", mask.float())
        self.net = _mlp(dim, hidden, 2 * dim, generator)
        self.scale_bound = float(scale_bound)

    def _st(self, xm: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.net(xm).chunk(2, dim=-1)
        s = self.scale_bound * torch.tanh(s / self.scale_bound) * (1 - self.mask)
        return s, t * (1 - self.mask)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self._st(x * self.mask)
        return x * torch.exp(s) + t, s.sum(-1)

    def inverse(self, y: Tensor) -> Tensor:
        s, t = self._st(y * self.mask)  # the masked half is unchanged, so s, t are recomputable
        return (y - t) * torch.exp(-s)


class RealNVP(nn.Module):
    """``couplings`` affine couplings with alternating masks, after an ActNorm.

    Masks alternate between even/odd dimensions and first/second half, so that each
    dimension is conditioned on both near and far ones.
    """

    def __init__(self, dim: int, couplings: int = 8, hidden: int = 256, generator: torch.Generator | None = None):
        super().__init__()
        self.dim, self.couplings, self.hidden = dim, couplings, hidden
        idx = torch.arange(dim)
        layers: list[nn.Module] = [ActNorm(dim)]
        for k in range(couplings):
            base = (idx % 2 == 0) if (k // 2) % 2 == 0 else (idx < dim // 2)
            mask = base if k % 2 == 0 else ~base
            layers.append(AffineCoupling(dim, mask, hidden, generator=generator))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x (B, dim)`` -> ``u (B, dim)``, ``log|det du/dx| (B,)``."""
        logdet = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, u: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            u = layer.inverse(u)
        return u

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density of each row, in nats: ``(B,)``."""
        u, logdet = self(x)
        return -0.5 * (u ** 2).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi) + logdet

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` samples; ``temperature < 1`` shrinks the base normal (Kingma & Dhariwal 2018)."""
        dev = next(self.parameters()).device
        u = torch.randn(n, self.dim, generator=generator).to(dev) * temperature
        return self.inverse(u)

    def spec(self) -> dict:
        return {"type": "realnvp", "dim": self.dim, "couplings": self.couplings, "hidden": self.hidden}


def gaussian_log_prob(train: Tensor, test: Tensor, shrink: float = 1e-3) -> Tensor:
    """Log-density of ``test`` under the full-covariance Gaussian fitted to ``train``: the
    baseline a flow must beat. ``shrink`` adds a ridge (relative to the mean variance)."""
    x = train.double()
    mu = x.mean(0)
    cov = torch.cov((x - mu).T).reshape(x.shape[1], x.shape[1])
    cov = cov + shrink * cov.diagonal().mean() * torch.eye(x.shape[1], dtype=x.dtype)
    dist = torch.distributions.MultivariateNormal(mu, covariance_matrix=cov)
    return dist.log_prob(test.double()).float()


class NegativeLogLikelihood:
    """Objective: mean negative log-likelihood (nats) of the rows of ``batch.coords (B, dim)``."""

    def __call__(self, flow: RealNVP, batch: Batch) -> dict[str, Tensor]:
        return {"loss": -flow.log_prob(batch.coords).mean()}


def clip_gradients(optimizer: torch.optim.Optimizer, max_norm: float):
    """Clip the gradient norm of ``optimizer``'s parameters to ``max_norm`` before each of its steps.

    A step pre-hook, so it runs between the backward pass and the update wherever the
    optimiser is stepped; returns the hook's handle (``.remove()`` detaches it).
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]

    def hook(opt, args, kwargs):
        torch.nn.utils.clip_grad_norm_(params, max_norm)

    return optimizer.register_step_pre_hook(hook)


class EpochEvaluation(Callback):
    """After every epoch: the epoch's log-likelihoods, the best state on validation, early stopping.

    ``steps_per_epoch`` optimiser steps make an epoch. The record of an epoch holds the mean
    training log-likelihood per dimension over the epoch's batches (as trained, weighted by
    batch size), and on the epoch's final weights the validation (``val``, used to select)
    and ``test`` (reported only) figures. The best state is the one with the highest
    validation likelihood (the training one without a validation split). With ``patience``,
    the run stops once that many epochs pass without a new best.
    """

    def __init__(self, steps_per_epoch: int, fit_rows: int, val: Tensor | None, test: Tensor | None,
                 patience: int | None = None):
        self.steps_per_epoch, self.fit_rows = steps_per_epoch, fit_rows
        self.val, self.test, self.patience = val, test, patience
        self.history: list[dict] = []
        self.best, self.best_state, self.best_epoch = -math.inf, None, 0
        self._total = 0.0

    def after_step(self, state: FitState) -> None:
        self._total += state.loss_terms["loss"] * len(state.batch)
        if state.step % self.steps_per_epoch:
            return
        flow, epoch = state.model, state.step // self.steps_per_epoch
        d = flow.dim
        flow.eval()
        rec = {"epoch": epoch, "train_ll_per_dim": -self._total / self.fit_rows / d}
        self._total = 0.0
        with torch.no_grad():
            if self.val is not None:
                rec["val_ll_per_dim"] = float(flow.log_prob(self.val).mean()) / d
            if self.test is not None:
                rec["test_ll_per_dim"] = float(flow.log_prob(self.test).mean()) / d
        score = rec.get("val_ll_per_dim", rec["train_ll_per_dim"])
        if math.isfinite(score) and score > self.best:
            self.best, self.best_epoch = score, epoch
            self.best_state = {k: v.detach().clone() for k, v in flow.state_dict().items()}
            rec["best"] = True
        self.history.append(rec)
        state.log.update({k: v for k, v in rec.items() if k not in ("epoch", "best")})
        if self.patience is not None and epoch - self.best_epoch >= self.patience:
            state.stop = True


def train_flow(train: Tensor, test: Tensor | None = None, couplings: int = 8, hidden: int = 128,
               epochs: int = 100, batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
               val_fraction: float = 0.1, progress_every: int = 0, patience: int | None = None,
               progress: bool = False) -> tuple[RealNVP, list[dict]]:
    """Maximum likelihood with Adam and a cosine schedule, keeping the best state on validation.

    ``val_fraction`` of the training rows (at random) are held out; the returned flow is
    the state with the best validation likelihood (a flow on a few thousand latents
    overfits within tens of epochs). With ``patience``, training stops early once that
    many epochs pass without a new best (default: all ``epochs`` run). Gradients are
    clipped to norm 10. The history holds mean log-likelihoods per data dimension, in
    nats, for train, validation and ``test`` (reported only, never used for selection).
    ``progress`` (or a non-zero ``progress_every``, the older form) shows the progress
    display with the latest epoch's figures.
    """
    g = torch.Generator().manual_seed(seed)
    perm0 = torch.randperm(len(train), generator=g).to(train.device)
    n_val = int(round(val_fraction * len(train))) if len(train) >= 10 else 0
    val, rows = train[perm0[:n_val]], train[perm0[n_val:]]
    flow = RealNVP(train.shape[1], couplings, hidden, generator=g).to(train.device)
    flow.train()
    with torch.no_grad():
        flow.layers[0](rows)  # data-dependent ActNorm initialisation on the whole fitting set
    opt = torch.optim.Adam(flow.parameters(), lr=lr, weight_decay=1e-5)
    clip_gradients(opt, 10.0)
    batches = EpochBatches(rows, batch_size=batch_size)
    steps = epochs * len(batches)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    evaluation = EpochEvaluation(len(batches), len(rows), val if n_val else None, test, patience)
    fit(flow, batches, NegativeLogLikelihood(), steps=steps, optimizer=opt, scheduler=sched, generator=g,
        callbacks=[evaluation, Progress("flow", progress or bool(progress_every))])
    if evaluation.best_state is not None:
        flow.load_state_dict(evaluation.best_state)
    flow.eval()
    return flow, evaluation.history
