"""Forward-mode derivatives ("jets"): value, gradient and Laplacian in ONE forward pass.

For a composition of linear maps and pointwise functions, each intermediate feature
vector h(x) can carry its own first derivatives and Laplacian forward with it:

- linear ``h -> W h + b``: value ``W h + b``; each partial ``W dh/dx_i``; Laplacian ``W Delta h``;
- pointwise ``h -> s(h)``: value ``s(h)``; partials ``s'(h) dh/dx_i``;
  Laplacian ``s'(h) Delta h + s''(h) sum_i (dh/dx_i)^2`` (the chain rule for the trace of
  the Hessian; no cross terms are needed).

This is the "Forward Laplacian" of Li et al. 2024 (Nature Machine Intelligence 6, 209). The
whole thing is a plain forward graph: training on it needs a single
ordinary backward pass, where the autograd route (``ops.diff.laplacian``) differentiates a
backward pass twice more. Under ``torch.no_grad()`` it keeps no graph at all, so a Laplacian
map costs the memory of a forward pass (``(2 + d) x`` the activations).

Supported: ``NeuralField`` with an ``Identity``, ``PositionalEncoding`` or
``GaussianFourierFeatures`` encoding and an ``MLP`` (ReLU or tanh) or ``Siren`` network
without modulations, and any ``output_scale`` / ``output_shift`` (value ``* scale + shift``,
partials and Laplacian ``* scale``). ``supports_jet(field)`` says whether a field qualifies; callers
fall back to autograd otherwise (hash grids, radiance fields, modulated fields).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..encodings.modules import GaussianFourierFeatures, Identity, PositionalEncoding
from ..fields.base import NeuralField
from ..nn.mlp import MLP, Siren


def supports_jet(field: nn.Module) -> bool:
    """True when ``jet`` can propagate derivatives through ``field`` exactly."""
    if not isinstance(field, NeuralField):
        return False
    if not isinstance(field.encoding, (Identity, PositionalEncoding, GaussianFourierFeatures)):
        return False
    if isinstance(field.network, Siren):
        return True
    if isinstance(field.network, MLP):
        return all(isinstance(m, (nn.Linear, nn.ReLU, nn.Tanh)) for m in field.network.layers)
    return False


class _Jet:
    """Value ``v (N, k)``, partials ``p (d, N, k)`` and Laplacian ``lap (N, k)`` (or ``None``)."""

    __slots__ = ("v", "p", "lap")

    def __init__(self, v: Tensor, p: Tensor, lap: Tensor | None):
        self.v, self.p, self.lap = v, p, lap


def _linear(J: _Jet, weight: Tensor, bias: Tensor | None, scale: float = 1.0) -> _Jet:
    """Linear layer ``scale (W h + b)``: the bias moves the value only."""
    if scale != 1.0:
        weight = weight * scale
        bias = None if bias is None else bias * scale
    return _Jet(F.linear(J.v, weight, bias), F.linear(J.p, weight),
                None if J.lap is None else F.linear(J.lap, weight))


def _pointwise(J: _Jet, s: Tensor, ds: Tensor, d2s: Tensor | None) -> _Jet:
    """Apply ``h -> s(h)`` given s, s', s'' evaluated at the value (``d2s=None`` for s'' = 0)."""
    p = ds * J.p
    lap = None
    if J.lap is not None:
        lap = ds * J.lap
        if d2s is not None:
            lap = lap + d2s * (J.p * J.p).sum(0)
    return _Jet(s, p, lap)


def _sin(J: _Jet) -> _Jet:
    s, c = torch.sin(J.v), torch.cos(J.v)
    return _pointwise(J, s, c, None if J.lap is None else -s)


def _cos(J: _Jet) -> _Jet:
    s, c = torch.sin(J.v), torch.cos(J.v)
    return _pointwise(J, c, -s, None if J.lap is None else -c)


def _tanh(J: _Jet) -> _Jet:
    t = torch.tanh(J.v)
    dt = 1.0 - t * t
    return _pointwise(J, t, dt, None if J.lap is None else -2.0 * t * dt)


def _relu(J: _Jet) -> _Jet:
    # ReLU is piecewise linear: s'' = 0 away from the kink, where autograd agrees.
    return _pointwise(J, torch.relu(J.v), (J.v > 0).to(J.v.dtype), None)


def _cat(a: _Jet, b: _Jet) -> _Jet:
    return _Jet(torch.cat([a.v, b.v], -1), torch.cat([a.p, b.p], -1),
                None if a.lap is None else torch.cat([a.lap, b.lap], -1))


def _input_jet(x: Tensor, lap: bool) -> _Jet:
    """Jet of the coordinates themselves: value x, partials the unit vectors, Laplacian 0."""
    n, d = x.shape
    eye = torch.eye(d, dtype=x.dtype, device=x.device)[:, None, :].expand(d, n, d)
    return _Jet(x, eye, torch.zeros_like(x) if lap else None)


def _encode(enc: nn.Module, X: _Jet) -> _Jet:
    if isinstance(enc, Identity):
        return X
    if isinstance(enc, GaussianFourierFeatures):
        Z = _linear(X, 2.0 * math.pi * enc.B.to(X.v.dtype), None)  # (N, m): Laplacian row stays 0
        return _cat(_cos(Z), _sin(Z))
    if isinstance(enc, PositionalEncoding):
        L = enc.num_frequencies
        n, d = X.v.shape
        freqs = (2.0 ** torch.arange(L, dtype=X.v.dtype, device=X.v.device)) * math.pi
        # gamma's projection as a (L d, d) matrix, rows ordered (frequency l, coordinate j).
        A = (freqs[:, None, None] * torch.eye(d, dtype=X.v.dtype, device=X.v.device)).reshape(L * d, d)
        Z = _linear(X, A, None)
        S, Co = _sin(Z), _cos(Z)

        def interleave(a: Tensor, b: Tensor) -> Tensor:  # (..., L d) x 2 -> (..., L * 2d), as gamma orders them
            lead = a.shape[:-1]
            return torch.cat([a.reshape(*lead, L, d), b.reshape(*lead, L, d)], -1).reshape(*lead, 2 * L * d)

        feats = _Jet(interleave(S.v, Co.v), interleave(S.p, Co.p),
                     None if S.lap is None else interleave(S.lap, Co.lap))
        return _cat(X, feats) if enc.include_input else feats
    raise TypeError(f"no jet rule for encoding {type(enc).__name__}")


def _network(net: nn.Module, J: _Jet) -> _Jet:
    if isinstance(net, Siren):
        for layer in net.layers:
            J = _sin(_linear(J, layer.linear.weight, layer.linear.bias, layer.w0))
        return _linear(J, net.last.weight, net.last.bias)
    for m in net.layers:
        if isinstance(m, nn.Linear):
            J = _linear(J, m.weight, m.bias)
        elif isinstance(m, nn.Tanh):
            J = _tanh(J)
        elif isinstance(m, nn.ReLU):
            J = _relu(J)
        else:
            raise TypeError(f"no jet rule for layer {type(m).__name__}")
    return J


def jet(field: nn.Module, coords: Tensor, laplacian: bool = True) -> tuple[Tensor, Tensor, Tensor | None]:
    """Value, gradient and (optionally) Laplacian of every output channel in one forward pass.

    ``coords (N, d)`` -> ``value (N, m)``, ``grad (N, m, d)`` (the Jacobian), ``lap (N, m)``
    (``None`` when ``laplacian=False``). Differentiable with respect to the field's
    parameters by one ordinary backward pass. Raises ``TypeError`` for fields that
    ``supports_jet`` rejects.
    """
    if not supports_jet(field):
        raise TypeError(f"no forward-mode derivatives for {type(field).__name__}; use inrkit.ops.diff")
    if coords.dim() != 2:
        raise ValueError(f"coords must be (N, d), got {tuple(coords.shape)}")
    J = _network(field.network, _encode(field.encoding, _input_jet(coords, laplacian)))
    value, partials, lap = J.v, J.p, J.lap
    scale, shift = field.output_scale, field.output_shift
    if scale != 1.0:  # f = scale * g + shift: derivatives scale, only the value shifts
        value, partials = value * scale, partials * scale
        lap = None if lap is None else lap * scale
    if shift != 0.0:
        value = value + shift
    return value, partials.permute(1, 2, 0), lap  # grad (d, N, m) -> (N, m, d)
