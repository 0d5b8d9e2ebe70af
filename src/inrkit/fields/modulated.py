"""Latent-modulated SIREN (Dupont, Kim et al. 2022, "From data to functa", sec. 3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import specs as S
from ..nn import Siren
from ..nn import init as I
from .base import Field
from .registry import register_field, spec_kwargs


@register_field("latent_modulated")
class LatentModulatedField(Field):
    """A shared SIREN whose sine layers take per-signal shift modulations.

    f(x; z) = Siren(x, shifts = (W z + b) reshaped to (layers, width)): a latent
    ``z (B, latent_dim)`` is mapped linearly to one shift vector per sine layer (functa
    sec. 3: shift modulations only, and a linear latent-to-modulation map, since deeper
    maps gave lower PSNR). Shared weights are module parameters; latents and modulations
    are inputs, never split by parameter names.

    ``meta_lrs (latent_dim,)`` are the Meta-SGD inner-loop learning rates (Li et al. 2017),
    one per latent dimension, initialised U(0.005, 0.1) as in functa and learned in the
    outer loop.
    """

    def __init__(self, in_dim: int, out_dim: int, latent_dim: int = 64, width: int = 128, hidden_layers: int = 3,
                 w0: float = 30.0, generator: torch.Generator | None = None):
        super().__init__()
        self.in_dim, self.out_dim, self.latent_dim = in_dim, out_dim, latent_dim
        self.width, self.hidden_layers, self.w0 = width, hidden_layers, float(w0)
        self.siren = Siren(in_dim, out_dim, width, hidden_layers, w0=w0, generator=generator)
        self.to_shifts = nn.Linear(latent_dim, self.siren.num_modulated * width)
        I.torch_default_linear_(self.to_shifts.weight, self.to_shifts.bias, generator)
        with torch.no_grad():
            self.to_shifts.bias.zero_()  # z = 0 gives the unmodulated SIREN
        self.meta_lrs = nn.Parameter(torch.empty(latent_dim).uniform_(0.005, 0.1, generator=generator))

    @property
    def modulation_dim(self) -> int:
        return self.siren.num_modulated * self.width

    def modulations(self, latents: Tensor) -> Tensor:
        """``latents (B, latent_dim)`` -> shifts ``(B, layers * width)``."""
        return self.to_shifts(latents)

    def forward(self, coords: Tensor, latents: Tensor) -> Tensor:
        """``coords (B, N, in_dim)`` or ``(N, in_dim)``, ``latents (B, latent_dim)`` -> ``(B, N, out_dim)``."""
        b = latents.shape[0]
        if coords.dim() == 2:
            coords = coords.expand(b, *coords.shape)
        shifts = self.modulations(latents).view(b, 1, self.siren.num_modulated, self.width)  # broadcast over N
        return self.siren(coords, shifts)

    def spec(self) -> dict:
        return {"type": "latent_modulated", "in_dim": self.in_dim, "out_dim": self.out_dim,
                "latent_dim": self.latent_dim, "width": self.width, "hidden_layers": self.hidden_layers, "w0": self.w0}

    @classmethod
    def from_spec(cls, spec: dict) -> "LatentModulatedField":
        return cls(**spec_kwargs(spec, "in_dim", "out_dim", "latent_dim", "width", "hidden_layers", "w0"))

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        what = "latent_modulated"
        S.only_keys(spec, what, ["in_dim", "out_dim", "latent_dim", "width", "hidden_layers", "w0"])
        in_dim, out_dim = S.integer(spec, "in_dim", what), S.integer(spec, "out_dim", what)
        latent = S.integer(spec, "latent_dim", what, default=64)
        width = S.integer(spec, "width", what, default=128)
        layers = S.integer(spec, "hidden_layers", what, lo=0, hi=S.MAX_LAYERS, default=3)
        S.number(spec, "w0", what, positive=True, default=30.0)
        siren = S.linear_size(in_dim, width) + layers * S.linear_size(width, width) + S.linear_size(width, out_dim)
        return siren + S.linear_size(latent, (layers + 1) * width) + latent  # to_shifts, meta_lrs
