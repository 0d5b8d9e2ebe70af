"""Fields: a pointwise function coordinates -> values, made by composition."""

from __future__ import annotations

from torch import Tensor, nn

from ..encodings import Encoding
from ..nn import Network


class Field(nn.Module):
    """A function ``f: (*, in_dim) -> (*, out_dim)``, pointwise in the leading axes.

    Pointwise means row i of the output depends only on row i of the input: one
    backward pass of ``f(x).sum()`` therefore gives every point's derivative, which
    ``inrkit.ops`` relies on.
    """

    in_dim: int
    out_dim: int

    def spec(self) -> dict:
        raise NotImplementedError


class NeuralField(Field):
    """``f(x) = network(encoding(x))``: composition only, no logic of its own."""

    def __init__(self, encoding: Encoding, network: Network):
        super().__init__()
        if encoding.out_dim != network.in_dim:
            raise ValueError(f"encoding gives {encoding.out_dim} features, network takes {network.in_dim}")
        self.encoding = encoding
        self.network = network
        self.in_dim = encoding.in_dim
        self.out_dim = network.out_dim

    def forward(self, coords: Tensor) -> Tensor:
        return self.network(self.encoding(coords))

    def spec(self) -> dict:
        return {"type": "neural_field", "encoding": self.encoding.spec(), "network": self.network.spec()}


def num_parameters(field: nn.Module) -> int:
    """Trainable parameters (fixed buffers such as Fourier matrices are not counted)."""
    return sum(p.numel() for p in field.parameters() if p.requires_grad)
