"""Weight initialisations as functions on tensors, each drawing from a passed generator."""

from __future__ import annotations

import math

import torch
from torch import Tensor


@torch.no_grad()
def uniform_(tensor: Tensor, bound: float, generator: torch.Generator | None = None) -> Tensor:
    """Fill ``tensor`` with U(-bound, bound) in place."""
    return tensor.uniform_(-bound, bound, generator=generator)


@torch.no_grad()
def torch_default_linear_(weight: Tensor, bias: Tensor | None, generator: torch.Generator | None = None) -> None:
    """PyTorch's default ``nn.Linear`` initialisation, U(-1/sqrt(n), 1/sqrt(n)) for weight and bias.

    (``kaiming_uniform_(a=sqrt(5))`` reduces to this bound.) Reimplemented so that it draws
    from ``generator`` rather than the global random state.
    """
    n = weight.shape[1]
    uniform_(weight, 1.0 / math.sqrt(n), generator)
    if bias is not None:
        uniform_(bias, 1.0 / math.sqrt(n), generator)


@torch.no_grad()
def siren_first_(weight: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """SIREN first layer: W ~ U(-1/n, 1/n), n = fan-in (Sitzmann et al. 2020, sec. 3.2)."""
    return uniform_(weight, 1.0 / weight.shape[1], generator)


@torch.no_grad()
def siren_hidden_(weight: Tensor, w0: float = 30.0, generator: torch.Generator | None = None) -> Tensor:
    """SIREN hidden (and final) layers: W ~ U(-sqrt(6/n)/w0, sqrt(6/n)/w0) (Sitzmann et al. 2020, sec. 3.2).

    With this bound the pre-activations w0 (W x + b) are arcsine-distributed inputs to
    sin that are standard normal-like at every depth (the paper's Theorem 1.8).
    """
    return uniform_(weight, math.sqrt(6.0 / weight.shape[1]) / w0, generator)
