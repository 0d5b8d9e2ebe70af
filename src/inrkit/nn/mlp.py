"""Networks: the MLPs that read encoded coordinates."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import specs as S
from . import init
from .layers import SineLayer

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def _spec_kwargs(spec: dict, *names: str) -> dict:
    """The constructor arguments among ``names`` that ``spec`` holds; absent ones keep their defaults."""
    return {n: spec[n] for n in names if n in spec}


class Network(nn.Module):
    """An MLP over features: ``(*, in_dim) -> (*, out_dim)``, pointwise.

    ``spec()`` is a JSON-able dict whose ``"type"`` names the class; the classmethod
    ``from_spec(spec)`` rebuilds it with fresh parameters (``inrkit.fields.registry``).
    """

    in_dim: int
    out_dim: int

    def spec(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec: dict) -> "Network":
        raise NotImplementedError

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        """Check ``spec`` from the numbers alone (``inrkit.specs``) and return the number of tensor
        elements ``from_spec`` would allocate; raises before allocating anything."""
        raise NotImplementedError


class MLP(Network):
    """Plain MLP: ``hidden_layers + 1`` hidden blocks of ``width`` with ReLU or tanh, linear output.

    Layer count follows SIREN's convention: one input layer, ``hidden_layers`` layers of
    ``width -> width``, one linear output layer. PyTorch's default initialisation,
    drawn from ``generator``.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 256, hidden_layers: int = 3,
                 activation: str = "relu", generator: torch.Generator | None = None):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(_ACTIVATIONS)}")
        self.in_dim, self.out_dim = in_dim, out_dim
        self.width, self.hidden_layers, self.activation = width, hidden_layers, activation
        dims = [in_dim] + [width] * (hidden_layers + 1)
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), _ACTIVATIONS[activation]()]
        layers.append(nn.Linear(width, out_dim))
        self.layers = nn.Sequential(*layers)
        for m in self.layers:
            if isinstance(m, nn.Linear):
                init.torch_default_linear_(m.weight, m.bias, generator)

    def forward(self, features: Tensor) -> Tensor:
        return self.layers(features)

    def spec(self) -> dict:
        return {"type": "mlp", "in_dim": self.in_dim, "out_dim": self.out_dim, "width": self.width,
                "hidden_layers": self.hidden_layers, "activation": self.activation}

    @classmethod
    def from_spec(cls, spec: dict) -> "MLP":
        return cls(**_spec_kwargs(spec, "in_dim", "out_dim", "width", "hidden_layers", "activation"))

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "mlp", ["in_dim", "out_dim", "width", "hidden_layers", "activation"])
        in_dim, out_dim = S.integer(spec, "in_dim", "mlp"), S.integer(spec, "out_dim", "mlp")
        width = S.integer(spec, "width", "mlp", default=256)
        layers = S.integer(spec, "hidden_layers", "mlp", lo=0, hi=S.MAX_LAYERS, default=3)
        S.choice(spec, "activation", "mlp", _ACTIVATIONS, default="relu")
        return (S.linear_size(in_dim, width) + (layers + 1) * S.linear_size(width, width)
                + S.linear_size(width, out_dim))


class Siren(Network):
    """SIREN (Sitzmann et al. 2020, sec. 3.2): sine layers, then a linear output layer.

    ``w0`` multiplies every sine layer's pre-activation (30 in the paper; ``first_w0``
    may differ, e.g. 3000 for audio, sec. 4.2). The final linear layer uses the hidden
    initialisation U(-sqrt(6/n)/w0, sqrt(6/n)/w0), as in the authors' code.

    ``forward(features, shifts)`` optionally takes per-layer shift modulations
    ``shifts (*, hidden_layers + 1, width)`` (Dupont et al. 2022, sec. 3), one row per
    sine layer; they are an input, never a parameter.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int = 256, hidden_layers: int = 3,
                 w0: float = 30.0, first_w0: float | None = None, generator: torch.Generator | None = None):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.width, self.hidden_layers = width, hidden_layers
        self.w0 = float(w0)
        self.first_w0 = float(first_w0 if first_w0 is not None else w0)
        layers = [SineLayer(in_dim, width, self.first_w0, is_first=True, generator=generator)]
        layers += [SineLayer(width, width, self.w0, generator=generator) for _ in range(hidden_layers)]
        self.layers = nn.ModuleList(layers)
        self.last = nn.Linear(width, out_dim)
        init.torch_default_linear_(self.last.weight, self.last.bias, generator)
        init.siren_hidden_(self.last.weight, self.w0, generator)

    @property
    def num_modulated(self) -> int:
        """Number of sine layers, i.e. rows of ``shifts``."""
        return len(self.layers)

    def forward(self, features: Tensor, shifts: Tensor | None = None) -> Tensor:
        h = features
        for k, layer in enumerate(self.layers):
            h = layer(h, None if shifts is None else shifts[..., k, :])
        return self.last(h)

    def spec(self) -> dict:
        return {"type": "siren", "in_dim": self.in_dim, "out_dim": self.out_dim, "width": self.width,
                "hidden_layers": self.hidden_layers, "w0": self.w0, "first_w0": self.first_w0}

    @classmethod
    def from_spec(cls, spec: dict) -> "Siren":
        return cls(**_spec_kwargs(spec, "in_dim", "out_dim", "width", "hidden_layers", "w0", "first_w0"))

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "siren", ["in_dim", "out_dim", "width", "hidden_layers", "w0", "first_w0"])
        in_dim, out_dim = S.integer(spec, "in_dim", "siren"), S.integer(spec, "out_dim", "siren")
        width = S.integer(spec, "width", "siren", default=256)
        layers = S.integer(spec, "hidden_layers", "siren", lo=0, hi=S.MAX_LAYERS, default=3)
        S.number(spec, "w0", "siren", positive=True, default=30.0)
        if spec.get("first_w0") is not None:
            S.number(spec, "first_w0", "siren", positive=True)
        return S.linear_size(in_dim, width) + layers * S.linear_size(width, width) + S.linear_size(width, out_dim)
