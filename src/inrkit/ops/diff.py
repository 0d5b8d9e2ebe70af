"""Differential operators by automatic differentiation.

All of them rely on fields being pointwise (row i of the output depends only on row i
of the input): then d(sum_i y_i)/dx_i = dy_i/dx_i, so ONE backward pass of ``y.sum()``
gives the derivative at every point of the batch instead of one pass per point.

Shapes: ``coords (*, d)`` with ``requires_grad=True`` and ``outputs`` computed from it.
Every function keeps the graph (``create_graph=True``) so results can be differentiated
again (Laplacians, Hessians) and used inside losses.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _grad(y: Tensor, x: Tensor) -> Tensor:
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if g is None else g  # a field that ignores x has zero gradient


def gradient(outputs: Tensor, coords: Tensor) -> Tensor:
    """grad f: ``outputs (*, 1)`` or ``(*,)`` -> ``(*, d)``."""
    if outputs.dim() == coords.dim():
        if outputs.shape[-1] != 1:
            raise ValueError(f"gradient needs a scalar field, got {outputs.shape[-1]} channels; use jacobian")
        outputs = outputs[..., 0]
    return _grad(outputs, coords)


def jacobian(outputs: Tensor, coords: Tensor) -> Tensor:
    """J_ij = d f_i / d x_j: ``outputs (*, m)`` -> ``(*, m, d)``."""
    return torch.stack([_grad(outputs[..., i], coords) for i in range(outputs.shape[-1])], dim=-2)


def divergence(vectors: Tensor, coords: Tensor) -> Tensor:
    """div v = sum_i d v_i / d x_i: ``vectors (*, d)`` -> ``(*, 1)``."""
    if vectors.shape[-1] != coords.shape[-1]:
        raise ValueError(f"divergence needs {coords.shape[-1]} components, got {vectors.shape[-1]}")
    total = sum(_grad(vectors[..., i], coords)[..., i] for i in range(vectors.shape[-1]))
    return total[..., None]


def laplacian(outputs: Tensor, coords: Tensor) -> Tensor:
    """Delta f = div grad f: ``outputs (*, 1)`` -> ``(*, 1)``."""
    return divergence(gradient(outputs, coords), coords)


def hessian(outputs: Tensor, coords: Tensor) -> Tensor:
    """H_ij = d^2 f / dx_i dx_j: ``outputs (*, 1)`` -> ``(*, d, d)``."""
    return jacobian(gradient(outputs, coords), coords)
