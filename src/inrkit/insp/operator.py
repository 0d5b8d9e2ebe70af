"""INSP operators: a pointwise function of a frozen field's jet (Xu et al. 2022, sec. 3, eqs. 3-5).

An operator on an implicit representation ``Phi`` is ``Psi(x) = Pi(Phi(x), grad Phi(x), ...,
grad^K Phi(x))``: ``Phi`` stays frozen and only ``Pi`` is learned (or set by hand). ``Psi`` is
itself a field, so the processed signal can be evaluated at any coordinates and rendered at any
resolution without ever decoding ``Phi`` to pixels.

Units. The jet is taken in grid units: an order-k partial ``d^j Phi`` is multiplied by
``h^j = prod_i h_i^(j_i)``, where ``h`` is the pixel step of the grid the operator was trained on
(:func:`scaled_jet`), so the features of a field fitted at 128 x 128 are of order one and mean
"change per pixel". A learned ``Pi`` then standardises each feature with the mean and standard
deviation measured on its training jets, stored with it.

- :class:`JetReadout` (``"insp_readout"``): ``Pi`` as a module of the scaled jet, learned (an
  MLP over standardised features; the paper uses 4 x 256 ReLU, Xu et al. 2022, sec. 5) or hand-set
  (gradient magnitude; the heat series of a Gaussian blur);
- :class:`INSPOperator` (``"insp_operator"``): base field + readout, a :class:`~inrkit.fields.Field`.

Both have ``spec`` / ``from_spec`` / ``check_spec`` and save as safetensors + JSON with
:mod:`inrkit.train.checkpoint`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import specs as S
from ..errors import InrkitError
from ..fields.base import Field
from ..fields.registry import build_field_from_spec, check_field_spec, register_field
from ..nn.mlp import MLP
from ..ops.taylor import MAX_ORDER, TAYLOR_CHUNK, jet, jet_map, multi_indices, num_partials, refusal

KINDS = ("mlp", "gradient_magnitude", "heat")
"""How ``Pi`` is made: a learned MLP, or one of the hand-set closed forms."""


def unit_scales(dim: int, order: int, step: tuple[float, ...], dtype=torch.float32) -> Tensor:
    """``h^j = prod_i step_i^(j_i)`` for every multi-index of :func:`~inrkit.ops.taylor.multi_indices`: ``(P,)``."""
    idx = torch.tensor(multi_indices(dim, order), dtype=torch.float64)  # (P, d)
    h = torch.tensor(step, dtype=torch.float64)
    return torch.prod(h[None, :] ** idx, dim=-1).to(dtype)


def scaled_jet(field: nn.Module, coords: Tensor, order: int, step: tuple[float, ...]) -> Tensor:
    """The jet in grid units, flattened per point: ``coords (N, d)`` -> ``(N, m * P)`` (channel-major)."""
    J = jet(field, coords, order)  # (N, m, P)
    return (J * unit_scales(coords.shape[-1], order, step, J.dtype).to(J.device)).flatten(1)


def scaled_jet_map(field: nn.Module, coords: Tensor, order: int, step: tuple[float, ...],
                   chunk: int | None = None) -> Tensor:
    """:func:`scaled_jet` over ``coords (*, d)`` in chunks, with no graph: ``(*, m * P)``."""
    J = jet_map(field, coords, order, chunk)  # (*, m, P)
    J = J * unit_scales(coords.shape[-1], order, step, J.dtype)
    return J.flatten(-2)


def order_norms(J: Tensor, dim: int, order: int, weighted: bool = True) -> Tensor:
    """Per order k, the norm of the k-th derivative tensor: ``(..., P)`` -> ``(..., order + 1)``.

    With ``weighted=True`` each distinct partial counts with its multiplicity in the full tensor
    (the multinomial ``k! / j!``: ``Phi_xx^2 + 2 Phi_xy^2 + Phi_yy^2`` at order 2), which is the
    Frobenius norm of the symmetric tensor and is invariant under rotations of the coordinates
    (Xu et al. 2022, Theorem 1). ``weighted=False`` sums the distinct partials once each, which is
    not (tests/insp/test_operator.py shows both).
    """
    idx = multi_indices(dim, order)
    out = []
    for k in range(order + 1):
        cols = [i for i, j in enumerate(idx) if sum(j) == k]
        w = torch.tensor([math.factorial(k) / math.prod(math.factorial(a) for a in idx[i]) if weighted else 1.0
                          for i in cols], dtype=J.dtype, device=J.device)
        out.append((J[..., cols].square() * w).sum(-1).sqrt())
    return torch.stack(out, -1)


@register_field("insp_readout")
class JetReadout(Field):
    """``Pi``: the scaled jet of a ``channels``-channel field in ``dim`` dimensions -> ``out_dim`` values.

    ``kind="mlp"``: ``MLP((features - mean) / std)`` with ReLU, ``hidden_layers + 1`` blocks of
    ``width`` (the paper's 4 x 256 is ``width=256, hidden_layers=3``); ``mean`` and ``std`` are
    buffers set from the training jets (:meth:`set_statistics`).

    ``kind="gradient_magnitude"`` (``order >= 1``): ``sqrt(2) |grad Phi| h - 1``, the Sobel response
    of scikit-image's ``filters.sobel`` to a linear ramp, in image values (pixels = (v + 1) / 2 and
    Phi in [-1, 1]).

    ``kind="heat"`` (``order`` 0, 2 or 4): the truncated heat series of a Gaussian blur of width
    ``sigma`` pixels, ``exp(sigma^2 Lap / 2) Phi = Phi + (sigma^2 / 2) Lap Phi + (sigma^4 / 8) Lap^2 Phi
    + ...`` (the Taylor series of the heat semigroup, Xu et al. 2022, sec. 3.2), exact on
    band-limited fields and an amplifier of high frequencies on real fits.
    """

    def __init__(self, dim: int = 2, channels: int = 1, order: int = 2, step: tuple[float, ...] = (2 / 128, 2 / 128),
                 out_dim: int = 1, kind: str = "mlp", width: int = 256, hidden_layers: int = 3,
                 sigma: float = 1.0, generator: torch.Generator | None = None):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown readout kind {kind!r}; choose from {', '.join(KINDS)}")
        if not 0 <= order <= MAX_ORDER:
            raise ValueError(f"order must be 0 to {MAX_ORDER}, not {order}")
        if len(step) != dim or not all(math.isfinite(h) and h > 0 for h in step):
            raise ValueError(f"step must be {dim} positive numbers, got {step}")
        if kind == "gradient_magnitude" and order < 1:
            raise ValueError("the gradient magnitude needs a jet of order at least 1")
        if kind == "heat" and (dim != 2 or order not in (0, 2, 4)):
            raise ValueError("the heat series is written for 2-D fields and orders 0, 2 or 4")
        self.dim, self.channels, self.order, self.kind = dim, channels, order, kind
        self.step = tuple(float(h) for h in step)
        self.out_dim, self.width, self.hidden_layers, self.sigma = out_dim, width, hidden_layers, float(sigma)
        self.partials = num_partials(dim, order)
        self.in_dim = channels * self.partials
        self.register_buffer("mean", torch.zeros(self.in_dim))
        self.register_buffer("std", torch.ones(self.in_dim))
        self.mlp = MLP(self.in_dim, out_dim, width, hidden_layers, "relu", generator) if kind == "mlp" else None

    def set_statistics(self, features: Tensor) -> None:
        """Store the mean and standard deviation of ``features (N, in_dim)`` (a floor of 1e-6 on std)."""
        f = features.reshape(-1, self.in_dim).double()
        with torch.no_grad():
            self.mean.copy_(f.mean(0).to(self.mean.dtype))
            self.std.copy_(f.std(0).clamp_min(1e-6).to(self.std.dtype))

    def _col(self, j: tuple[int, ...]) -> int:
        return multi_indices(self.dim, self.order).index(j)

    def forward(self, features: Tensor) -> Tensor:
        if self.kind == "mlp":
            return self.mlp((features - self.mean) / self.std)
        J = features.reshape(*features.shape[:-1], self.channels, self.partials)  # (N, m, P)
        if self.kind == "gradient_magnitude":
            g = torch.stack([J[..., self._col(tuple(int(i == a) for i in range(self.dim)))] for a in range(self.dim)], -1)
            return math.sqrt(2.0) * g.norm(dim=-1) - 1.0
        s2 = self.sigma**2
        out = J[..., 0]
        if self.order >= 2:
            out = out + (s2 / 2) * (J[..., self._col((2, 0))] + J[..., self._col((0, 2))])
        if self.order >= 4:
            bilap = J[..., self._col((4, 0))] + 2 * J[..., self._col((2, 2))] + J[..., self._col((0, 4))]
            out = out + (s2 * s2 / 8) * bilap
        return out

    def spec(self) -> dict:
        return {"type": "insp_readout", "dim": self.dim, "channels": self.channels, "order": self.order,
                "step": list(self.step), "out_dim": self.out_dim, "kind": self.kind, "width": self.width,
                "hidden_layers": self.hidden_layers, "sigma": self.sigma}

    @classmethod
    def from_spec(cls, spec: dict) -> "JetReadout":
        return cls(dim=spec["dim"], channels=spec["channels"], order=spec["order"], step=tuple(spec["step"]),
                   out_dim=spec["out_dim"], kind=spec["kind"], width=spec["width"],
                   hidden_layers=spec["hidden_layers"], sigma=spec["sigma"])

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        what = "insp_readout"
        S.only_keys(spec, what, ["dim", "channels", "order", "step", "out_dim", "kind", "width", "hidden_layers",
                                 "sigma"])
        dim = S.integer(spec, "dim", what, hi=8, missing=KeyError)
        channels = S.integer(spec, "channels", what, hi=64, missing=KeyError)
        order = S.integer(spec, "order", what, lo=0, hi=MAX_ORDER, missing=KeyError)
        out_dim = S.integer(spec, "out_dim", what, hi=64, missing=KeyError)
        kind = S.choice(spec, "kind", what, KINDS, missing=KeyError)
        width = S.integer(spec, "width", what, missing=KeyError)
        layers = S.integer(spec, "hidden_layers", what, lo=0, hi=S.MAX_LAYERS, missing=KeyError)
        S.number(spec, "sigma", what, positive=True, missing=KeyError)
        step = spec["step"]
        if not isinstance(step, list) or len(step) != dim or not all(
                isinstance(h, (int, float)) and not isinstance(h, bool) and math.isfinite(h) and h > 0 for h in step):
            raise ValueError(f"{what}.step must be {dim} positive numbers")
        if kind == "heat" and (dim != 2 or order not in (0, 2, 4)):
            raise ValueError(f"{what}: the heat series needs dim 2 and order 0, 2 or 4")
        if kind == "gradient_magnitude" and order < 1:
            raise ValueError(f"{what}: the gradient magnitude needs order >= 1")
        n_in = channels * num_partials(dim, order)
        n = 2 * n_in
        if kind == "mlp":
            n += (S.linear_size(n_in, width) + (layers + 1) * S.linear_size(width, width)
                  + S.linear_size(width, out_dim))
        return n


@register_field("insp_operator")
class INSPOperator(Field):
    """``Psi(x) = Pi(scaled jet_K Phi(x))``: a frozen base field and a :class:`JetReadout`, itself a field.

    ``base`` must allow a jet of the readout's order (:func:`inrkit.ops.taylor.refusal`), take
    ``readout.dim`` coordinates and give ``readout.channels`` values. The base's parameters are
    frozen (``requires_grad=False``); gradients reach the readout only.
    """

    def __init__(self, base: nn.Module, readout: JetReadout):
        super().__init__()
        reason = refusal(base, readout.order)
        if reason:
            raise InrkitError(reason)
        if getattr(base, "in_dim", None) != readout.dim or getattr(base, "out_dim", None) != readout.channels:
            raise InrkitError(f"the operator reads {readout.dim}-D fields of {readout.channels} channel(s); this field "
                              f"maps {getattr(base, 'in_dim', '?')}-D coordinates to {getattr(base, 'out_dim', '?')} "
                              "values")
        self.base, self.readout = base, readout
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.in_dim, self.out_dim = readout.dim, readout.out_dim

    def features(self, coords: Tensor) -> Tensor:
        """The scaled jet ``(N, m * P)`` of the base field at ``coords (N, d)``."""
        return scaled_jet(self.base, coords, self.readout.order, self.readout.step)

    def forward(self, coords: Tensor) -> Tensor:
        """``coords (*, d)`` -> ``(*, out_dim)``. Without autograd (rendering), in chunks of
        :data:`~inrkit.ops.taylor.TAYLOR_CHUNK` points, so memory stays bounded whatever the grid."""
        lead = coords.shape[:-1]
        flat = coords.reshape(-1, coords.shape[-1])
        if torch.is_grad_enabled() or flat.shape[0] <= TAYLOR_CHUNK:
            out = self.readout(self.features(flat))
        else:
            out = torch.cat([self.readout(self.features(flat[i:i + TAYLOR_CHUNK]))
                             for i in range(0, flat.shape[0], TAYLOR_CHUNK)])
        return out.reshape(*lead, self.out_dim)

    def spec(self) -> dict:
        return {"type": "insp_operator", "base": self.base.spec(), "readout": self.readout.spec()}

    @classmethod
    def from_spec(cls, spec: dict) -> "INSPOperator":
        return cls(build_field_from_spec(spec["base"], max_parameters=None),
                   build_field_from_spec(spec["readout"], max_parameters=None))

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "insp_operator", ["base", "readout"])
        for key in ("base", "readout"):
            S.require_object(spec[key], f"insp_operator.{key}")
        if spec["readout"].get("type") != "insp_readout":
            raise ValueError("insp_operator.readout must be an insp_readout")
        if spec["base"].get("type") in ("insp_operator", "insp_readout"):
            raise ValueError("insp_operator.base must be a plain field")
        return check_field_spec(spec["base"], None) + check_field_spec(spec["readout"], None)
