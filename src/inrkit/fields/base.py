"""Fields: a pointwise function coordinates -> values, made by composition."""

from __future__ import annotations

import math

from torch import Tensor, nn

from ..encodings import Encoding
from ..nn import Network
from .. import specs as S
from .registry import build_encoding, build_network, check_encoding, check_network, register_field


class Field(nn.Module):
    """A function ``f: (*, in_dim) -> (*, out_dim)``, pointwise in the leading axes.

    Pointwise means row i of the output depends only on row i of the input: one
    backward pass of ``f(x).sum()`` therefore gives every point's derivative, which
    ``inrkit.ops`` relies on.
    """

    in_dim: int
    out_dim: int

    def spec(self) -> dict:
        """A JSON-able description whose ``"type"`` names the class (``inrkit.fields.registry``)."""
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec: dict) -> "Field":
        """Rebuild from ``spec()`` with fresh parameters (a checkpoint then fills them)."""
        raise NotImplementedError

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        """Check ``spec`` from the numbers alone (``inrkit.specs``) and return the number of tensor
        elements ``from_spec`` would allocate; raises before allocating anything."""
        raise NotImplementedError


@register_field("neural_field")
class NeuralField(Field):
    """``f(x) = output_scale * network(encoding(x)) + output_shift``: composition only.

    ``output_scale`` and ``output_shift`` (plain numbers, not parameters) let a network
    that works on values of order one represent a signal in its own units: a fit divides
    its targets by the scale and the field multiplies back, so values, gradients and
    Laplacians all come out in the signal's units (gradients and Laplacians are multiplied
    by the scale; the shift moves values only). At the defaults (1, 0) no arithmetic is
    added, so results are bit-identical to a field without them, and ``spec()`` leaves
    them out (specs written before they existed load unchanged).
    """

    def __init__(self, encoding: Encoding, network: Network, output_scale: float = 1.0,
                 output_shift: float = 0.0):
        super().__init__()
        if encoding.out_dim != network.in_dim:
            raise ValueError(f"encoding gives {encoding.out_dim} features, network takes {network.in_dim}")
        self.encoding = encoding
        self.network = network
        self.output_scale = output_scale
        self.output_shift = output_shift
        self.in_dim = encoding.in_dim
        self.out_dim = network.out_dim

    @property
    def output_scale(self) -> float:
        return self._output_scale

    @output_scale.setter
    def output_scale(self, value: float) -> None:  # checked however it is set (constructor or a fit)
        value = float(value)
        if not math.isfinite(value) or value == 0.0:
            raise ValueError(f"output_scale must be finite and non-zero, got {value}")
        self._output_scale = value

    @property
    def output_shift(self) -> float:
        return self._output_shift

    @output_shift.setter
    def output_shift(self, value: float) -> None:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"output_shift must be finite, got {value}")
        self._output_shift = value

    def forward(self, coords: Tensor) -> Tensor:
        return self._to_units(self.network(self.encoding(coords)))

    def _to_units(self, values: Tensor) -> Tensor:
        """The network's outputs times ``output_scale`` plus ``output_shift``."""
        if self.output_scale != 1.0:  # skipped at the default: no rounding is added
            values = values * self.output_scale
        if self.output_shift != 0.0:
            values = values + self.output_shift
        return values

    @property
    def separable(self) -> bool:
        """True when the encoding can be evaluated on a tensor-product lattice of per-axis coordinates
        (the hash and dense grids: :meth:`forward_lattice`)."""
        return hasattr(self.encoding, "encode_lattice")

    def forward_lattice(self, axes: list[Tensor] | tuple[Tensor, ...]) -> Tensor:
        """The field on the lattice of per-axis coordinates ``axes`` (coordinate order x, y, ...; axis 0
        fastest, as :func:`inrkit.coords.grid`): ``(n_{d-1}, ..., n_0, out_dim)``, the same values as
        ``forward`` at every lattice point up to rounding. A d-linear grid is separable, so each level's
        vertices are looked up once for the whole lattice (:func:`inrkit.encodings.grid.grid_encode_lattice`)
        instead of 2^d corners per point. Only for :attr:`separable` encodings."""
        if not self.separable:
            raise ValueError(f"{type(self.encoding).__name__} has no lattice form")
        feats, _ = self.encoding.encode_lattice(axes)
        values = self._to_units(self.network(feats.reshape(-1, feats.shape[-1])))
        return values.reshape(*feats.shape[:-1], values.shape[-1])

    def spec(self) -> dict:
        spec = {"type": "neural_field", "encoding": self.encoding.spec(), "network": self.network.spec()}
        if self.output_scale != 1.0:
            spec["output_scale"] = self.output_scale
        if self.output_shift != 0.0:
            spec["output_shift"] = self.output_shift
        return spec

    @classmethod
    def from_spec(cls, spec: dict) -> "NeuralField":
        return cls(build_encoding(spec["encoding"]), build_network(spec["network"]),
                   output_scale=spec.get("output_scale", 1.0), output_shift=spec.get("output_shift", 0.0))

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "neural_field", ["encoding", "network", "output_scale", "output_shift"])
        n = check_encoding(spec["encoding"]) + check_network(spec["network"])
        S.number(spec, "output_scale", "neural_field", nonzero=True, default=1.0)
        S.number(spec, "output_shift", "neural_field", default=0.0)
        return n


def num_parameters(field: nn.Module) -> int:
    """Trainable parameters (fixed buffers such as Fourier matrices are not counted)."""
    return sum(p.numel() for p in field.parameters() if p.requires_grad)
