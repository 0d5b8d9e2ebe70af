"""Radiance fields: position and view direction -> density and colour (NeRF, Mildenhall et al. 2020).

Both fields take world-space ``points (N, 3)`` and unit ``directions (N, 3)``; positions are
mapped from the scene box ``aabb (2, 3)`` to [-1, 1]^3 before encoding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..encodings import MultiresGrid, PositionalEncoding
from ..nn import init as I


def _linear(a: int, b: int, generator: torch.Generator | None) -> nn.Linear:
    m = nn.Linear(a, b)
    I.torch_default_linear_(m.weight, m.bias, generator)
    return m


def trunc_exp(x: Tensor) -> Tensor:
    """exp with its argument clamped to [-15, 15]: instant-ngp's density activation, kept finite."""
    return torch.exp(x.clamp(-15.0, 15.0))


class RadianceField(nn.Module):
    def __init__(self, aabb: Tensor):
        super().__init__()
        self.register_buffer("aabb", aabb.clone().float())

    def normalise(self, points: Tensor) -> Tensor:
        """World points -> [-1, 1]^3 over the scene box."""
        return 2.0 * (points - self.aabb[0]) / (self.aabb[1] - self.aabb[0]) - 1.0

    def forward(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        """-> density ``(N,)`` (>= 0), colour ``(N, 3)`` in [0, 1]."""
        raise NotImplementedError

    def density(self, points: Tensor) -> Tensor:
        raise NotImplementedError


class VanillaRadianceField(RadianceField):
    """The original NeRF MLP (Mildenhall et al. 2020, sec. 6 and Fig. 7).

    gamma(x): 10 frequencies, gamma(d): 4 (eq. 4, input included). ``depth`` (8) ReLU layers
    of ``width`` (256), gamma(x) concatenated again into the fifth; a ReLU density head; a
    ``width`` feature vector concatenated with gamma(d) through one ReLU layer of width / 2 to a
    sigmoid RGB. Density depends on position only, colour on both.
    """

    def __init__(self, aabb: Tensor, width: int = 256, depth: int = 8, skip: int = 4, pos_freqs: int = 10,
                 dir_freqs: int = 4, generator: torch.Generator | None = None):
        super().__init__(aabb)
        self.width, self.depth, self.skip, self.pos_freqs, self.dir_freqs = width, depth, skip, pos_freqs, dir_freqs
        self.pos_enc = PositionalEncoding(3, pos_freqs)
        self.dir_enc = PositionalEncoding(3, dir_freqs)
        p = self.pos_enc.out_dim
        dims_in = [p] + [width + (p if i == skip else 0) for i in range(1, depth)]
        self.trunk = nn.ModuleList(_linear(d, width, generator) for d in dims_in)
        self.sigma_head = _linear(width, 1, generator)
        self.feature = _linear(width, width, generator)
        self.rgb_hidden = _linear(width + self.dir_enc.out_dim, width // 2, generator)
        self.rgb_out = _linear(width // 2, 3, generator)

    def _trunk(self, points: Tensor) -> Tensor:
        x = self.pos_enc(self.normalise(points))
        h = x
        for i, layer in enumerate(self.trunk):
            if i == self.skip:
                h = torch.cat([h, x], -1)  # skip connection into the fifth layer
            h = torch.relu(layer(h))
        return h

    def density(self, points: Tensor) -> Tensor:
        return torch.relu(self.sigma_head(self._trunk(points))).squeeze(-1)

    def forward(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        h = self._trunk(points)
        sigma = torch.relu(self.sigma_head(h)).squeeze(-1)
        c = torch.relu(self.rgb_hidden(torch.cat([self.feature(h), self.dir_enc(directions)], -1)))
        return sigma, torch.sigmoid(self.rgb_out(c))

    def spec(self) -> dict:
        return {"type": "vanilla", "width": self.width, "depth": self.depth, "skip": self.skip,
                "pos_freqs": self.pos_freqs, "dir_freqs": self.dir_freqs}


class HashRadianceField(RadianceField):
    """Hash-grid radiance field (Mueller et al. 2022, sec. 5.4, "NeRF").

    Multiresolution hash encoding of position -> one hidden layer of ``width`` -> 16 values,
    the first a log-density (density = exp, truncated); those 16 values with the encoded view
    direction -> ``colour_layers`` hidden layers of ``width`` -> sigmoid RGB. The paper's
    direction encoding is spherical harmonics; inrkit uses NeRF's 4-frequency positional
    encoding of the direction, which spans the same low-order functions of the sphere.
    """

    def __init__(self, aabb: Tensor, levels: int = 16, features: int = 2, log2_table_size: int = 19,
                 min_resolution: int = 16, max_resolution: int = 1024, width: int = 64, colour_layers: int = 2,
                 dir_freqs: int = 4, generator: torch.Generator | None = None):
        super().__init__(aabb)
        self.cfg = {"levels": levels, "features": features, "log2_table_size": log2_table_size,
                    "min_resolution": min_resolution, "max_resolution": max_resolution, "width": width,
                    "colour_layers": colour_layers, "dir_freqs": dir_freqs}
        self.grid = MultiresGrid.from_paper(3, levels, features, log2_table_size, min_resolution, max_resolution,
                                            generator)
        self.density_net = nn.Sequential(_linear(self.grid.out_dim, width, generator), nn.ReLU(),
                                         _linear(width, 16, generator))
        self.dir_enc = PositionalEncoding(3, dir_freqs)
        layers: list[nn.Module] = []
        d = 16 + self.dir_enc.out_dim
        for _ in range(colour_layers):
            layers += [_linear(d, width, generator), nn.ReLU()]
            d = width
        layers.append(_linear(d, 3, generator))
        self.colour_net = nn.Sequential(*layers)

    def density(self, points: Tensor) -> Tensor:
        return trunc_exp(self.density_net(self.grid(self.normalise(points)))[..., 0])

    def forward(self, points: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
        h = self.density_net(self.grid(self.normalise(points)))  # (N, 16)
        rgb = torch.sigmoid(self.colour_net(torch.cat([h, self.dir_enc(directions)], -1)))
        return trunc_exp(h[..., 0]), rgb

    def spec(self) -> dict:
        return {"type": "hash", **self.cfg}
