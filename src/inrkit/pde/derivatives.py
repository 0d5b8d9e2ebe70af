"""Derivatives a residual needs, by forward mode where the field allows and autograd otherwise.

:class:`Derivatives` gives a residual ``u``, first partials ``d(i)``, pure second partials
``dd(i)``, the spatial gradient and Laplacian, ``u_t`` and mixed partials, computed once per batch.

Forward mode ("diagonal jet"): the value, every first partial ``dh/dx_i`` and the chosen pure
second partials ``d2h/dx_i^2`` travel forward through the network together. Linear maps act on
each; a pointwise ``s`` maps ``h_i -> s'(h) h_i`` and ``h_ii -> s'(h) h_ii + s''(h) h_i^2``. This is
the Forward Laplacian of Li et al. 2024 (Nature Machine Intelligence 6, 209; ``inrkit.ops.jet``)
with the trace left unsummed, so a residual can take ``u_xx`` without ``u_tt`` (heat, Burgers) at
the cost of one forward pass of ``1 + d + |second|`` streams and one ordinary backward pass, where
autograd differentiates a backward pass twice. Mixed partials (``u_xy``) always use autograd.

Hard constraints ``u = g(x) + h(x) N(x)`` (Lagaris et al. 1998, IEEE TNN 9, 987) combine by the
product rule: ``u_i = g_i + h_i N + h N_i``, ``u_ii = g_ii + h_ii N + 2 h_i N_i + h N_ii``;
``g`` and ``h`` hold no parameters, so their derivatives come from autograd on the coordinates.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..encodings.modules import GaussianFourierFeatures, Identity
from ..errors import InrkitError
from ..fields.base import NeuralField
from ..nn.mlp import MLP, Siren

METHODS = ("auto", "forward", "autograd")


def supports_forward(field: nn.Module) -> bool:
    """True when the diagonal jet is exact for ``field``: identity or Gaussian Fourier features, SIREN or tanh/ReLU MLP."""
    if not isinstance(field, NeuralField):
        return False
    if not isinstance(field.encoding, (Identity, GaussianFourierFeatures)):
        return False
    if isinstance(field.network, Siren):
        return True
    return isinstance(field.network, MLP) and all(isinstance(m, (nn.Linear, nn.Tanh, nn.ReLU))
                                                   for m in field.network.layers)


# A jet is (value (N, k), partials (d, N, k), pure second partials (s, N, k) or None for |second| = 0).

def _lin(J, weight: Tensor, bias: Tensor | None, scale: float = 1.0):
    v, p, s = J
    if scale != 1.0:
        weight = weight * scale
        bias = None if bias is None else bias * scale
    return F.linear(v, weight, bias), F.linear(p, weight), None if s is None else F.linear(s, weight)


def _point(J, f: Tensor, df: Tensor, d2f: Tensor | None, sel: list[int], trace: bool = False):
    v, p, s = J
    q = df * p
    if s is not None:
        if d2f is None:
            s = df * s
        else:  # s' s + s'' p^2 in one fused op; no gather when every partial is selected
            ps = p if sel == list(range(p.shape[0])) else p[sel]
            sq = ps * ps
            s = torch.addcmul(df * s, d2f, sq.sum(0, keepdim=True) if trace else sq)
    return f, q, s


def _act(J, kind: str, sel: list[int], trace: bool = False):
    v = J[0]
    if kind == "sin":
        sn, cs = torch.sin(v), torch.cos(v)
        return _point(J, sn, cs, -sn, sel, trace)
    if kind == "cos":
        sn, cs = torch.sin(v), torch.cos(v)
        return _point(J, cs, -sn, -cs, sel, trace)
    if kind == "tanh":
        t = torch.tanh(v)
        dt = 1.0 - t * t
        return _point(J, t, dt, -2.0 * t * dt, sel, trace)
    if kind == "relu":
        return _point(J, torch.relu(v), (v > 0).to(v.dtype), None, sel, trace)
    raise TypeError(kind)


def diagonal_jet(field: NeuralField, coords: Tensor, second: tuple[int, ...],
                 trace: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """``coords (N, d)`` -> value ``(N, m)``, partials ``(d, N, m)``, pure second partials ``(len(second), N, m)``.

    ``trace=True``: the last output is instead their sum ``(1, N, m)`` (the Laplacian over
    ``second``), carried forward as one stream: Li et al. 2024's Forward Laplacian proper, one
    stream where the diagonal jet carries ``len(second)``.
    """
    n, d = coords.shape
    sel = list(second)
    eye = torch.eye(d, dtype=coords.dtype, device=coords.device)[:, None, :].expand(d, n, d)
    J = (coords, eye, coords.new_zeros(1 if trace else len(sel), n, d) if sel else None)
    enc = field.encoding
    if isinstance(enc, GaussianFourierFeatures):
        Z = _lin(J, 2.0 * math.pi * enc.B.to(coords.dtype), None)
        C, S = _act(Z, "cos", sel, trace), _act(Z, "sin", sel, trace)
        J = tuple(None if a is None else torch.cat([a, b], -1) for a, b in zip(C, S))
    net = field.network
    if isinstance(net, Siren):
        for layer in net.layers:
            J = _act(_lin(J, layer.linear.weight, layer.linear.bias, layer.w0), "sin", sel, trace)
        J = _lin(J, net.last.weight, net.last.bias)
    else:
        for m in net.layers:
            if isinstance(m, nn.Linear):
                J = _lin(J, m.weight, m.bias)
            else:
                J = _act(J, "tanh" if isinstance(m, nn.Tanh) else "relu", sel, trace)
    v, p, s = J
    if s is None:
        s = v.new_zeros(0, n, v.shape[1])
    if field.output_scale != 1.0:
        v, p, s = v * field.output_scale, p * field.output_scale, s * field.output_scale
    if field.output_shift != 0.0:
        v = v + field.output_shift
    return v, p, s


class Derivatives:
    """Lazy derivatives of ``u = model(coords)`` at one batch of points (every tensor ``(N, m)``).

    ``model`` is a :class:`inrkit.pde.model.PINN` (a field plus an optional hard constraint).
    ``second``: the coordinates whose pure second partials forward mode precomputes (the
    problem's declaration, by default its space coordinates); ``dd`` of another one, and every
    mixed partial, comes from autograd. ``spatial``: the coordinates ``grad``/``lap`` run over;
    ``time``: the index ``u_t`` differentiates.
    """

    def __init__(self, model: nn.Module, coords: Tensor, spatial: tuple[int, ...], time: int | None = None,
                 second: tuple[int, ...] | None = None, method: str = "auto", laplacian: bool = False):
        if method not in METHODS:
            raise InrkitError(f"unknown derivative method {method!r}; choose from {', '.join(METHODS)}")
        self.model, self.spatial, self.time = model, tuple(spatial), time
        self.second = tuple(spatial if second is None else second)
        # laplacian=True: forward mode carries only sum_i d2u/dx_i^2 over the space coordinates
        # (one stream); ``lap`` reads it, ``dd(i)`` then comes from autograd.
        self.trace = bool(laplacian)
        if self.trace:
            self.second = self.spatial
        self._lap: Tensor | None = None
        self.forward = method != "autograd" and supports_forward(model.field)
        if method == "forward" and not self.forward:
            raise InrkitError(f"no forward-mode derivatives for a {type(model.field).__name__} of this kind; "
                              "use --derivatives autograd")
        # Forward mode needs no gradient with respect to the points (backward then skips them);
        # autograd (and anything forward mode did not precompute) differentiates a leaf copy.
        self.x = coords.detach() if self.forward else coords.detach().requires_grad_(True)
        self._x_ag: Tensor | None = None if self.forward else self.x
        self._dd: dict[int, Tensor] = {}
        self._d: dict[int, Tensor] = {}
        self._d_ag: dict[int, Tensor] = {}
        self._u_ag: Tensor | None = None
        self._mixed: dict[tuple[int, int], Tensor] = {}
        if self.forward:
            self._jet()
        else:
            self.u = model(self.x)

    # ---- forward mode ------------------------------------------------------------------
    def _jet(self) -> None:
        x = self.x
        hard = self.model.hard
        if hard is not None and hard.odd:  # the network's odd part: (N(x) - N(R x)) / 2, by the chain rule
            from .model import reflect

            n = len(x)
            v2, p2, s2 = diagonal_jet(self.model.field, torch.cat([x, reflect(x, hard.odd)]), self.second, self.trace)
            sign = torch.ones(x.shape[1], 1, 1, dtype=x.dtype, device=x.device)
            sign[list(hard.odd)] = -1.0  # d/dx_i of N(R x) is -(dN/dx_i)(R x); second partials keep their sign
            v = 0.5 * (v2[:n] - v2[n:])
            p = 0.5 * (p2[:, :n] - sign * p2[:, n:])
            s = None if s2 is None else 0.5 * (s2[:, :n] - s2[:, n:])
        else:
            v, p, s = diagonal_jet(self.model.field, x, self.second, self.trace)
        if hard is not None:
            g, gp, gs = _closed_form_jet(hard.g, x, self.second)
            h, hp, hs = _closed_form_jet(hard.h, x, self.second)
            sel = list(self.second)
            if self.trace and self.second:
                cross = (hp[sel] * p[sel]).sum(0, keepdim=True)
                s = gs.sum(0, keepdim=True) + hs.sum(0, keepdim=True) * v + 2.0 * cross + h * s
            elif self.second:
                s = gs + hs * v + 2.0 * hp[sel] * p[sel] + h * s
            p = gp + hp * v + h * p
            v = g + h * v
        self.u = v
        self._d = {i: p[i] for i in range(x.shape[1])}
        if self.trace:
            self._lap = s[0] if self.second else torch.zeros_like(v)
        else:
            for k, i in enumerate(self.second):
                self._dd[i] = s[k]

    # ---- access ------------------------------------------------------------------------
    def _autograd_u(self) -> Tensor:
        """``u`` as a plain forward pass of the points, for what forward mode did not precompute."""
        if self._u_ag is None:
            if self.forward:
                self._x_ag = self.x.clone().requires_grad_(True)
                self._u_ag = self.model(self._x_ag)
            else:
                self._u_ag = self.u
        return self._u_ag

    def d(self, i: int) -> Tensor:
        """``du/dx_i``, ``(N, m)``."""
        if i not in self._d:
            u = self._autograd_u()
            self._d[i] = torch.stack([_grad(u[:, c], self._x_ag)[:, i] for c in range(u.shape[1])], -1)
        return self._d[i]

    def _d_autograd(self, i: int) -> Tensor:
        if not self.forward:
            return self.d(i)
        if i not in self._d_ag:
            u = self._autograd_u()
            self._d_ag[i] = torch.stack([_grad(u[:, c], self._x_ag)[:, i] for c in range(u.shape[1])], -1)
        return self._d_ag[i]

    def dd(self, i: int) -> Tensor:
        """``d2u/dx_i^2``, ``(N, m)`` (autograd when forward mode did not precompute it)."""
        if i not in self._dd:
            di = self._d_autograd(i)
            self._dd[i] = torch.stack([_grad(di[:, c], self._x_ag)[:, i] for c in range(di.shape[1])], -1)
        return self._dd[i]

    def mixed(self, i: int, j: int) -> Tensor:
        """``d2u/dx_i dx_j`` (autograd)."""
        if i == j:
            return self.dd(i)
        key = (min(i, j), max(i, j))
        if key not in self._mixed:
            di = self._d_autograd(key[0])
            self._mixed[key] = torch.stack([_grad(di[:, c], self._x_ag)[:, key[1]] for c in range(di.shape[1])], -1)
        return self._mixed[key]

    @property
    def grad(self) -> Tensor:
        """Spatial gradient ``(N, m, len(spatial))``."""
        return torch.stack([self.d(i) for i in self.spatial], -1)

    @property
    def lap(self) -> Tensor:
        """Spatial Laplacian ``sum_i d2u/dx_i^2`` over the space coordinates, ``(N, m)``."""
        if self._lap is not None:
            return self._lap
        return sum(self.dd(i) for i in self.spatial)

    @property
    def u_t(self) -> Tensor:
        if self.time is None:
            raise InrkitError("this problem has no time coordinate")
        return self.d(self.time)


def _grad(y: Tensor, x: Tensor) -> Tensor:
    if not y.requires_grad:  # a constant (a zero boundary value): zero derivative
        return torch.zeros_like(x)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if g is None else g


def _closed_form_jet(fn, x: Tensor, second: tuple[int, ...]) -> tuple[Tensor, Tensor, Tensor]:
    """Value ``(N, 1)``, partials ``(d, N, 1)`` and chosen second partials ``(s, N, 1)`` of a parameter-free ``fn``.

    Constants with respect to the parameters (detached); what forward mode does not give is
    recomputed by autograd through the whole model, so nothing differentiates these again.
    """
    z = x.detach().requires_grad_(True)
    with torch.enable_grad():
        v = fn(z)
        if v.dim() == 1:
            v = v[:, None]
        g = _grad(v, z)  # (N, d)
        ss = [_grad(g[:, i], z)[:, i] for i in second]
    p = g.detach().T[:, :, None]
    s = torch.stack(ss, 0)[:, :, None].detach() if ss else v.new_zeros(0, x.shape[0], 1)
    return v.detach(), p, s
