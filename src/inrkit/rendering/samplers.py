"""Where to sample along rays: stratified (NeRF sec. 4) and importance sampling (sec. 5.2)."""

from __future__ import annotations

import torch
from torch import Tensor


def stratified(t_near: Tensor, t_far: Tensor, samples: int, generator: torch.Generator | None = None,
               perturb: bool = True) -> Tensor:
    """Sample edges ``(R, samples + 1)`` splitting [t_near, t_far] into equal bins; with ``perturb``
    the whole set of edges is shifted by one uniform draw per ray (every bin keeps its width),
    so each sample (a bin's midpoint) is uniform within its own stratum (eq. 2)."""
    u = torch.linspace(0.0, 1.0, samples + 1, device=t_near.device, dtype=t_near.dtype)  # (S+1,)
    if perturb:
        jitter = torch.rand(t_near.shape[0], 1, generator=generator).to(t_near.device, t_near.dtype)
        u = (u + (jitter - 0.5) / samples).clamp(0.0, 1.0)  # (R, S+1)
    return t_near[:, None] + (t_far - t_near)[:, None] * u


def sample_pdf(edges: Tensor, weights: Tensor, samples: int, generator: torch.Generator | None = None,
               perturb: bool = True) -> Tensor:
    """Inverse-transform samples ``(R, samples)`` from the piecewise-constant density with
    ``weights (R, S)`` over bins ``edges (R, S + 1)`` (hierarchical sampling, NeRF sec. 5.2).

    Sorted along each ray; gradients do not flow into the positions.
    """
    w = weights.detach() + 1e-5  # keeps rays with all-zero weights uniform
    pdf = w / w.sum(-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, -1)], -1).clamp(max=1.0)  # (R, S+1)
    if perturb:
        u = torch.rand(edges.shape[0], samples, generator=generator).to(edges.device, edges.dtype)
    else:
        u = torch.linspace(0.0, 1.0, samples + 2, device=edges.device, dtype=edges.dtype)[1:-1].expand(
            edges.shape[0], samples)
    u = u.contiguous()
    idx = torch.searchsorted(cdf.contiguous(), u, right=True).clamp(1, cdf.shape[-1] - 1)  # (R, samples)
    c0, c1 = cdf.gather(-1, idx - 1), cdf.gather(-1, idx)
    e0, e1 = edges.detach().gather(-1, idx - 1), edges.detach().gather(-1, idx)
    frac = ((u - c0) / (c1 - c0).clamp_min(1e-10)).clamp(0.0, 1.0)
    return torch.sort(e0 + frac * (e1 - e0), -1).values


def midpoints_and_deltas(edges: Tensor) -> tuple[Tensor, Tensor]:
    """Bins ``edges (R, S + 1)`` -> midpoints and widths ``(R, S)``."""
    return 0.5 * (edges[:, 1:] + edges[:, :-1]), edges[:, 1:] - edges[:, :-1]


def merge_samples(t_a: Tensor, t_b: Tensor, t_near: Tensor, t_far: Tensor) -> Tensor:
    """Union of two sorted sample sets as bin edges ``(R, Sa + Sb + 1)``: each sample becomes a bin
    bounded by the midpoints to its neighbours (the fine pass of NeRF sec. 5.2)."""
    t = torch.sort(torch.cat([t_a, t_b], -1), -1).values
    mids = 0.5 * (t[:, 1:] + t[:, :-1])
    return torch.cat([t_near[:, None], mids, t_far[:, None]], -1)
