"""Evaluate a field, or a derivative of it, over many points in bounded memory."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from . import diff
from .jet import jet, supports_jet

Quantity = Literal["value", "gradient", "laplacian", "hessian", "jacobian", "divergence"]
Channels = Literal["mean", "each"]

DEFAULT_CHUNK = 65_536
"""Points per pass for values. Peak memory grows linearly with it (docs/benchmarks.md)."""

DERIVATIVE_CHUNK = 8_192
"""Points per pass for derivatives: a Laplacian keeps the double-backward graph, about
88 KB per point for the 3 x 256 SIREN on the CPU, so 8,192 points peak near 0.7 GB."""

JET_CHUNK = 32_768
"""Points per pass for gradients and Laplacians of MLP fields, computed by forward
propagation (``ops.jet``) without any graph: a few forward passes' activations per point."""


def _uses_jet(field: nn.Module, what: str, method: str) -> bool:
    if method not in ("auto", "autograd"):
        raise ValueError(f"method must be auto or autograd, not {method!r}")
    return method == "auto" and what in ("gradient", "laplacian") and supports_jet(field)


def default_chunk(field: nn.Module, what: str, method: str = "auto") -> int:
    """Points per pass when none is given: ``DEFAULT_CHUNK`` for values, ``JET_CHUNK`` for
    forward-mode derivatives, ``DERIVATIVE_CHUNK`` for derivatives by autograd."""
    if what in ("value", "image"):
        return DEFAULT_CHUNK
    return JET_CHUNK if _uses_jet(field, what, method) else DERIVATIVE_CHUNK


def _scalar(values: Tensor) -> Tensor:
    """Channels -> one scalar per point (their mean), the quantity derivative maps show."""
    return values.mean(dim=-1, keepdim=True)


def _per_channel(op, out: Tensor, x: Tensor) -> Tensor:
    """``op`` (a scalar-field operator of ``ops.diff``) of every channel of ``out (N, m)``,
    channel-major: ``(N, m * k)`` where ``op`` gives ``k`` numbers per point."""
    return torch.cat([op(out[:, i:i + 1], x).reshape(x.shape[0], -1) for i in range(out.shape[-1])], dim=-1)


def evaluate(field: nn.Module, coords: Tensor, what: Quantity = "value", chunk: int | None = None,
             out_device: torch.device | str = "cpu", method: str = "auto", channels: Channels = "mean") -> Tensor:
    """Evaluate ``what`` at ``coords (*, d)`` in chunks of ``chunk`` points.

    - ``"value"``: ``(*, out_dim)``
    - ``"gradient"``: ``(*, d)`` gradient of the channel mean (``channels="mean"``), or
      ``(*, out_dim * d)`` one gradient per channel, channel-major (``channels="each"``;
      the same numbers as ``"jacobian"``)
    - ``"laplacian"``: ``(*, 1)`` Laplacian of the channel mean, or ``(*, out_dim)`` one per channel
    - ``"hessian"``: ``(*, d * d)`` Hessian of the channel mean, row-major, or
      ``(*, out_dim * d * d)`` one per channel, channel-major then row-major
    - ``"jacobian"``: ``(*, out_dim * d)`` Jacobian of all channels, row-major
    - ``"divergence"``: ``(*, 1)`` divergence of a vector field (``out_dim == d``)

    ``channels`` applies to gradient, Laplacian and Hessian only. Its default, ``"mean"``,
    differentiates the mean of the output channels (for an RGB field: of the grey level
    (R + G + B) / 3), the one map a derivative plot shows; for one channel both agree.
    Derivatives are in the field's own output units (a ``NeuralField``'s ``output_scale``
    is applied).

    Each chunk's graph is freed before the next, so memory is bounded by ``chunk``
    whatever the number of points. Gradients and Laplacians of MLP fields (``ops.jet.supports_jet``)
    are propagated forward with no graph at all; the other quantities and fields use autograd.
    ``method="autograd"`` forces autograd for every field (``"auto"``: forward when possible).
    Results go to ``out_device``. ``chunk=None`` takes ``default_chunk(field, what, method)``.
    """
    if what not in ("value", "gradient", "laplacian", "hessian", "jacobian", "divergence"):
        raise ValueError(f"unknown quantity {what!r}")
    if channels not in ("mean", "each"):
        raise ValueError(f"channels must be mean or each, not {channels!r}")
    each = channels == "each"
    use_jet = _uses_jet(field, what, method)
    if chunk is None:
        chunk = default_chunk(field, what, method)
    param = next(iter(field.parameters()), None)
    device = param.device if param is not None else coords.device
    dtype = param.dtype if param is not None else coords.dtype
    lead = coords.shape[:-1]
    flat = coords.reshape(-1, coords.shape[-1])  # (N, d)
    pieces = []
    for start in range(0, flat.shape[0], chunk):
        x = flat[start:start + chunk].to(device=device, dtype=dtype)
        if what == "value":
            with torch.no_grad():
                y = field(x)
        elif use_jet:
            with torch.no_grad():  # forward-mode: no graph is kept
                _, g, lap = jet(field, x, laplacian=what == "laplacian")  # g (n, m, d), lap (n, m)
                if what == "laplacian":
                    y = lap if each else _scalar(lap)
                else:
                    y = g.flatten(1) if each else g.mean(dim=1)  # (n, m * d) or the channel mean's (n, d)
        else:
            x.requires_grad_(True)
            with torch.enable_grad():
                out = field(x)
                if what == "jacobian":
                    y = diff.jacobian(out, x).flatten(-2)
                elif what == "divergence":
                    y = diff.divergence(out, x)
                else:
                    op = {"gradient": diff.gradient, "laplacian": diff.laplacian, "hessian": diff.hessian}[what]
                    y = _per_channel(op, out, x) if each else op(_scalar(out), x).reshape(x.shape[0], -1)
            y = y.detach()
        pieces.append(y.to(out_device))
    out = torch.cat(pieces, dim=0)  # (N, k)
    return out.reshape(*lead, out.shape[-1])
