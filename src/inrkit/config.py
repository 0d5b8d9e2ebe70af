"""Configuration at the edge: frozen dataclasses, presets and ``build_*`` functions.

Library classes take plain arguments; only this module and ``cli.py`` know about
configuration objects. A preset is a ``dataclasses.replace`` of a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .encodings import Encoding, GaussianFourierFeatures, Identity, PositionalEncoding
from .encodings.functional import nyquist_frequencies
from .errors import InrkitError
from .fields import Field, NeuralField
from .nn import MLP, Network, Siren

ARCHS = ("relu", "tanh", "pe", "ffn", "siren")
"""The five classic architectures, in the order figures show them."""

ARCH_LABELS = {
    "relu": "ReLU MLP",
    "tanh": "tanh MLP",
    "pe": "ReLU + PE",
    "ffn": "ReLU + Fourier features",
    "siren": "SIREN",
}

DEFAULT_LR = {"relu": 1e-3, "tanh": 1e-3, "pe": 1e-3, "ffn": 1e-3, "siren": 1e-4}
"""Adam learning rates from the papers' image recipes: SIREN 1e-4 (Sitzmann 2020),
1e-3 for the ReLU networks with and without mappings (Tancik 2020, sec. 6)."""


@dataclass(frozen=True)
class FieldConfig:
    """Which field to build. ``pe_frequencies=None`` picks the Nyquist rule of the signal."""

    arch: str = "siren"
    width: int = 256
    hidden_layers: int = 3
    w0: float = 30.0
    pe_frequencies: int | None = None
    ffn_features: int = 256
    ffn_sigma: float = 5.0


@dataclass(frozen=True)
class TrainConfig:
    """How to fit. ``lr=None`` takes the architecture's paper default; ``batch_size=0`` is the whole signal."""

    steps: int = 500
    lr: float | None = None
    batch_size: int = 0
    log_every: int = 25
    seed: int = 0


def check_arch(arch: str) -> str:
    if arch not in ARCHS:
        raise InrkitError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    return arch


def learning_rate(cfg: FieldConfig, train: TrainConfig) -> float:
    return train.lr if train.lr is not None else DEFAULT_LR[cfg.arch]


def build_field(cfg: FieldConfig, in_dim: int, out_dim: int, samples_per_axis: int = 256,
                generator: torch.Generator | None = None) -> Field:
    """Compose the field named by ``cfg``: Encoding + Network."""
    check_arch(cfg.arch)
    encoding: Encoding
    if cfg.arch == "pe":
        L = cfg.pe_frequencies if cfg.pe_frequencies is not None else nyquist_frequencies(samples_per_axis)
        encoding = PositionalEncoding(in_dim, L)
    elif cfg.arch == "ffn":
        encoding = GaussianFourierFeatures(in_dim, cfg.ffn_features, cfg.ffn_sigma, generator=generator)
    else:
        encoding = Identity(in_dim)
    network: Network
    if cfg.arch == "siren":
        network = Siren(encoding.out_dim, out_dim, cfg.width, cfg.hidden_layers, w0=cfg.w0, generator=generator)
    else:
        act = "tanh" if cfg.arch == "tanh" else "relu"
        network = MLP(encoding.out_dim, out_dim, cfg.width, cfg.hidden_layers, act, generator=generator)
    return NeuralField(encoding, network)


# ---- rebuilding from a checkpoint's JSON spec -------------------------------------------

def _kwargs(spec: dict, *names: str) -> dict:
    return {n: spec[n] for n in names if n in spec}


def build_encoding(spec: dict) -> Encoding:
    kind = spec.get("type")
    if kind == "identity":
        return Identity(spec["in_dim"])
    if kind == "pe":
        return PositionalEncoding(**_kwargs(spec, "in_dim", "num_frequencies", "include_input"))
    if kind == "ffn":
        return GaussianFourierFeatures(**_kwargs(spec, "in_dim", "num_features", "sigma"))
    extra = _EXTRA_ENCODINGS.get(kind)
    if extra is not None:
        return extra(spec)
    raise InrkitError(f"unknown encoding type {kind!r} in checkpoint")


def build_network(spec: dict) -> Network:
    kind = spec.get("type")
    if kind == "mlp":
        return MLP(**_kwargs(spec, "in_dim", "out_dim", "width", "hidden_layers", "activation"))
    if kind == "siren":
        return Siren(**_kwargs(spec, "in_dim", "out_dim", "width", "hidden_layers", "w0", "first_w0"))
    raise InrkitError(f"unknown network type {kind!r} in checkpoint")


def build_from_spec(spec: dict) -> Field:
    """Rebuild an (untrained) field from ``Field.spec()``; a checkpoint then fills its tensors."""
    try:
        if spec.get("type") != "neural_field":
            raise InrkitError(f"unknown field type {spec.get('type')!r} in checkpoint")
        return NeuralField(build_encoding(spec["encoding"]), build_network(spec["network"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InrkitError(f"checkpoint architecture is malformed ({type(exc).__name__}: {exc})") from None


_EXTRA_ENCODINGS: dict = {}
"""Encodings defined outside this module register a ``spec -> Encoding`` builder here."""


def register_encoding(kind: str, builder) -> None:
    _EXTRA_ENCODINGS[kind] = builder


def replace(cfg, **changes):
    """``dataclasses.replace`` that ignores ``None`` values (unset command-line options)."""
    return dataclasses.replace(cfg, **{k: v for k, v in changes.items() if v is not None})
