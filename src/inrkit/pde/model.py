"""The trained object: a field, an optional hard constraint, and the unknown coefficients."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..encodings.modules import GaussianFourierFeatures, Identity
from ..errors import InrkitError
from ..fields.base import NeuralField
from ..nn.mlp import MLP, Siren
from .problem import HardConstraint, Problem

ARCHS = ("tanh", "siren", "ffn", "sin")
"""``tanh``: tanh MLP with Glorot-normal weights (Glorot & Bengio 2010; DeepXDE's examples);
``siren``: SIREN (Sitzmann et al. 2020) with ``w0`` scaled to the domain; ``ffn``: Gaussian Fourier
features (Tancik et al. 2020) into a tanh MLP; ``sin``: sine activations with w0 = 1 and
Glorot-uniform weights (DeepXDE's ``"sin"``)."""


class PINN(nn.Module):
    """``u(x) = g(x) + h(x) field(x)`` (or ``field(x)`` without a hard constraint), plus ``coefficients``.

    ``coefficients`` is a ParameterDict of scalar unknowns (inverse problems), trained with the
    field because they are parameters of this module.
    """

    def __init__(self, field: NeuralField, hard: HardConstraint | None = None,
                 unknowns: dict[str, float] | None = None):
        super().__init__()
        self.field = field
        self.hard = hard
        self.coefficients = nn.ParameterDict({k: nn.Parameter(torch.tensor(float(v))) for k, v in
                                              (unknowns or {}).items()})

    def forward(self, coords: Tensor) -> Tensor:
        if self.hard is None:
            return self.field(coords)
        if self.hard.odd:
            both = self.field(torch.cat([coords, reflect(coords, self.hard.odd)]))
            u = 0.5 * (both[: len(coords)] - both[len(coords):])
        else:
            u = self.field(coords)
        g, h = self.hard.g(coords), self.hard.h(coords)
        return (g if g.dim() == 2 else g[:, None]) + (h if h.dim() == 2 else h[:, None]) * u

    def coefficient_values(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.coefficients.items()}


def reflect(coords: Tensor, dims: tuple[int, ...]) -> Tensor:
    """``coords`` with the signs of coordinates ``dims`` flipped."""
    sign = torch.ones(coords.shape[1], dtype=coords.dtype, device=coords.device)
    sign[list(dims)] = -1.0
    return coords * sign


def build_field(arch: str, in_dim: int, out_dim: int, width: int, layers: int, generator: torch.Generator,
                extent: float = 2.0, w0: float | None = None, sigma: float | None = None) -> NeuralField:
    """A field for PDE solving with ``layers`` hidden layers of ``width`` (DeepXDE counts them so).

    ``extent``: the longest side of the domain. SIREN's first ``w0`` defaults to ``6 / extent``
    (Sitzmann et al. 2020 use 30 for images spanning 2 units, sec. 3.2, to fit hundreds of periods;
    a PDE solution with a few periods per domain needs about a tenth of that, or the residual's
    second derivatives start from noise), and Fourier features' ``sigma`` to ``1 / extent``
    cycles per unit (Tancik et al. 2020, sec. 5: sigma sets the band the field fits easily).
    """
    if arch not in ARCHS:
        raise InrkitError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHS)}")
    if width < 1 or layers < 1:
        raise InrkitError("width and layers must be at least 1")
    hidden = layers - 1  # inrkit's MLP/Siren count the width -> width layers after the first
    if arch == "siren":
        first = w0 if w0 is not None else 6.0 / extent
        net = Siren(in_dim, out_dim, width, hidden, w0=30.0, first_w0=first, generator=generator)
        return NeuralField(Identity(in_dim), net)
    if arch == "ffn":
        enc = GaussianFourierFeatures(in_dim, num_features=width // 2 or 1,
                                      sigma=sigma if sigma is not None else 1.0 / extent, generator=generator)
        net = MLP(enc.out_dim, out_dim, width, hidden, activation="tanh", generator=generator)
        _glorot(net, generator, normal=True)
        return NeuralField(enc, net)
    if arch == "sin":
        net = Siren(in_dim, out_dim, width, hidden, w0=1.0, first_w0=1.0, generator=generator)
        for layer in net.layers:
            _glorot_tensor(layer.linear.weight, generator, normal=False)
            nn.init.zeros_(layer.linear.bias)
        _glorot_tensor(net.last.weight, generator, normal=False)
        nn.init.zeros_(net.last.bias)
        return NeuralField(Identity(in_dim), net)
    net = MLP(in_dim, out_dim, width, hidden, activation="tanh", generator=generator)
    _glorot(net, generator, normal=True)
    return NeuralField(Identity(in_dim), net)


@torch.no_grad()
def _glorot_tensor(w: Tensor, generator: torch.Generator, normal: bool) -> None:
    fan_out, fan_in = w.shape
    if normal:
        w.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)
    else:
        b = math.sqrt(6.0 / (fan_in + fan_out))
        w.uniform_(-b, b, generator=generator)


@torch.no_grad()
def _glorot(net: MLP, generator: torch.Generator, normal: bool) -> None:
    for m in net.layers:
        if isinstance(m, nn.Linear):
            _glorot_tensor(m.weight, generator, normal)
            m.bias.zero_()


def build_model(problem: Problem, arch: str, width: int, layers: int, generator: torch.Generator,
                hard: bool = True, w0: float | None = None, sigma: float | None = None) -> PINN:
    """The PINN for ``problem``: a field over its coordinates, its hard constraint when ``hard``."""
    extent = max(b - a for a, b in zip(problem.domain.lo, problem.domain.hi))
    field = build_field(arch, problem.domain.dim, problem.out_dim, width, layers, generator, extent, w0, sigma)
    return PINN(field, problem.hard if hard else None, problem.unknowns)
