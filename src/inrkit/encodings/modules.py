"""Encoding modules: thin shells around ``encodings.functional``.

Every encoding has ``in_dim``, ``out_dim``, ``spec()`` (a JSON-able dict whose ``"type"``
names it) and the classmethod ``from_spec(spec)`` that rebuilds it with fresh parameters
(``inrkit.fields.registry`` maps each ``"type"`` to its class).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import specs as S
from . import functional as F


def spec_kwargs(spec: dict, *names: str) -> dict:
    """The constructor arguments among ``names`` that ``spec`` holds; absent ones keep their defaults."""
    return {n: spec[n] for n in names if n in spec}


class Encoding(nn.Module):
    """A pointwise map ``(*, in_dim) -> (*, out_dim)``."""

    in_dim: int
    out_dim: int

    def spec(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec: dict) -> "Encoding":
        """Rebuild from ``spec()`` with fresh parameters (a checkpoint then fills them)."""
        raise NotImplementedError

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        """Check ``spec`` from the numbers alone (types, ranges; ``inrkit.specs``) and return the
        number of tensor elements ``from_spec`` would allocate; raises before allocating anything."""
        raise NotImplementedError


class Identity(Encoding):
    """No encoding: the network sees raw coordinates."""

    def __init__(self, in_dim: int):
        super().__init__()
        self.in_dim = self.out_dim = in_dim

    def forward(self, coords: Tensor) -> Tensor:
        return coords

    def spec(self) -> dict:
        return {"type": "identity", "in_dim": self.in_dim}

    @classmethod
    def from_spec(cls, spec: dict) -> "Identity":
        return cls(spec["in_dim"])

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "identity", ["in_dim"])
        S.integer(spec, "in_dim", "identity", missing=KeyError)
        return 0


class PositionalEncoding(Encoding):
    """NeRF positional encoding with ``num_frequencies`` octaves (Mildenhall 2020, eq. 4)."""

    def __init__(self, in_dim: int, num_frequencies: int = 10, include_input: bool = True):
        super().__init__()
        self.in_dim = in_dim
        self.num_frequencies = num_frequencies
        self.include_input = include_input
        self.out_dim = in_dim * (2 * num_frequencies + int(include_input))

    def forward(self, coords: Tensor) -> Tensor:
        return F.positional_encoding(coords, self.num_frequencies, self.include_input)

    def spec(self) -> dict:
        return {"type": "pe", "in_dim": self.in_dim, "num_frequencies": self.num_frequencies,
                "include_input": self.include_input}

    @classmethod
    def from_spec(cls, spec: dict) -> "PositionalEncoding":
        return cls(**spec_kwargs(spec, "in_dim", "num_frequencies", "include_input"))

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "pe", ["in_dim", "num_frequencies", "include_input"])
        S.integer(spec, "in_dim", "pe")
        S.integer(spec, "num_frequencies", "pe", lo=0, hi=S.MAX_FREQUENCIES, default=10)
        S.boolean(spec, "include_input", "pe", default=True)
        return 0


class GaussianFourierFeatures(Encoding):
    """Gaussian random Fourier features, B ~ N(0, sigma^2) (Tancik et al. 2020, sec. 5).

    ``sigma`` is in cycles per unit of inrkit's coordinates, which span 2 units per image
    side; Tancik et al. use [0, 1], so their sigma = 10 for natural images is
    ``sigma = 5`` here. ``B`` is a fixed buffer (saved in checkpoints, not trained).
    """

    def __init__(self, in_dim: int, num_features: int = 256, sigma: float = 5.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.in_dim = in_dim
        self.num_features = num_features
        self.sigma = float(sigma)
        self.out_dim = 2 * num_features
        B = torch.empty(num_features, in_dim)
        if B.device.type != "meta":  # a shape-only build (the checkpoint loader's) draws nothing: on the
            B = torch.randn(num_features, in_dim, generator=generator) * self.sigma  # meta device randn costs seconds
        self.register_buffer("B", B)

    def forward(self, coords: Tensor) -> Tensor:
        return F.fourier_features(coords, self.B.to(coords.dtype))

    def spec(self) -> dict:
        return {"type": "ffn", "in_dim": self.in_dim, "num_features": self.num_features, "sigma": self.sigma}

    @classmethod
    def from_spec(cls, spec: dict) -> "GaussianFourierFeatures":
        """``B`` is drawn afresh (from the global generator, as before); the checkpoint overwrites it."""
        return cls(**spec_kwargs(spec, "in_dim", "num_features", "sigma"))

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        S.only_keys(spec, "ffn", ["in_dim", "num_features", "sigma"])
        in_dim = S.integer(spec, "in_dim", "ffn")
        n = S.integer(spec, "num_features", "ffn", default=256)
        S.number(spec, "sigma", "ffn", default=5.0)
        return n * in_dim  # the buffer B
