"""Configuration at the edge: frozen dataclasses, presets and ``build_*`` functions.

Library classes take plain arguments; only this module and the command line (``cli/``)
know about configuration objects. Each encoding has its own small dataclass
(``PEConfig``, ``FourierConfig``, ``HashConfig``) held by ``FieldConfig``; a preset is a
``dataclasses.replace`` of a default.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from .encodings import Encoding, GaussianFourierFeatures, Identity, MultiresGrid, PositionalEncoding
from .encodings.functional import nyquist_frequencies
from .errors import InrkitError
from .fields import Field, NeuralField
from .limits import (LIMITS, MAX_ARRAY_PIXELS, MAX_BATCH, MAX_PARAMETERS, MAX_RAYS,  # noqa: F401 (re-exported)
                     MAX_VIEWS, ResourceLimit)
from .nn import MLP, Network, Siren

ARCHS = ("relu", "tanh", "pe", "ffn", "siren")
"""The five classic architectures, in the order figures show them."""

EXTRA_ARCHS = ("hash",)
"""Architectures beyond the classic five: a multiresolution hash grid + small ReLU MLP."""

ALL_ARCHS = ARCHS + EXTRA_ARCHS

ARCH_LABELS = {
    "hash": "Hash grid + MLP",
    "relu": "ReLU MLP",
    "tanh": "tanh MLP",
    "pe": "ReLU + PE",
    "ffn": "ReLU + Fourier features",
    "siren": "SIREN",
}

DEFAULT_LR = {"relu": 1e-3, "tanh": 1e-3, "pe": 1e-3, "ffn": 1e-3, "siren": 1e-4, "hash": 1e-2}
"""Adam learning rates from the papers' image recipes: SIREN 1e-4 (Sitzmann 2020),
1e-3 for the ReLU networks with and without mappings (Tancik 2020, sec. 6), 1e-2 for
the hash grid (Mueller 2022, sec. 4, with betas (0.9, 0.99) and eps 1e-15)."""


@dataclass(frozen=True)
class PEConfig:
    """NeRF positional encoding (Mildenhall 2020, eq. 4): ``frequencies`` octaves per axis;
    ``None`` takes the Nyquist rule of the signal (``encodings.functional.nyquist_frequencies``)."""

    frequencies: int | None = None


@dataclass(frozen=True)
class FourierConfig:
    """Gaussian Fourier features (Tancik 2020): ``features`` random frequencies of scale
    ``sigma`` in inrkit's [-1, 1] units (5 here is Tancik's 10 on [0, 1])."""

    features: int = 256
    sigma: float = 5.0


MAX_AXIS_RES = 1 << 24
"""Largest finest resolution of one axis of a per-axis hash grid: beyond 2^24 cells, float32 coordinates no
longer tell neighbouring cells apart."""
MAX_TIME_CELLS = 1024.0
"""Largest ``HashConfig.time_cells`` (cells per frame on the time axis)."""


@dataclass(frozen=True)
class HashConfig:
    """Multiresolution hash grid (Mueller 2022, sec. 3): ``levels`` L of ``features`` F each,
    2^``log2_table`` entries T per level, resolutions ``min_res`` N_min .. ``max_res`` N_max
    (``None``: twice the signal's longer side).

    ``max_res`` may also be a tuple, one N_max per axis in coordinate order (x, y, t): each axis
    then runs its own schedule from N_min to its N_max over the same levels
    (:meth:`inrkit.encodings.MultiresGrid.axis_resolutions`). ``time_cells`` sets the time axis
    (the last coordinate, a video's t) apart: its N_max is ``time_cells`` cells per frame (1.0:
    the frame count) and the other axes keep the rule above over themselves (twice a frame's longer
    side), when :func:`build_field` is given the samples per axis; ``None`` (the default) treats
    every axis alike. An explicit tuple wins."""

    levels: int = 16
    features: int = 2
    log2_table: int = 18
    min_res: int = 16
    max_res: int | tuple[int, ...] | None = None
    time_cells: float | None = None

    def __post_init__(self):
        if isinstance(self.max_res, list):  # a run's JSON record holds a tuple as a list
            object.__setattr__(self, "max_res", tuple(self.max_res))
        if isinstance(self.max_res, tuple) and not (
                self.max_res and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_AXIS_RES
                                     for v in self.max_res)):
            raise InrkitError(f"hash max_res per axis must be integers from 1 to {MAX_AXIS_RES}, not "
                              f"{self.max_res!r:.60}")
        if self.time_cells is not None and not (isinstance(self.time_cells, (int, float))
                                                and not isinstance(self.time_cells, bool)
                                                and math.isfinite(self.time_cells)
                                                and 0 < self.time_cells <= MAX_TIME_CELLS):
            raise InrkitError(f"hash time_cells must be a number above 0 and at most {MAX_TIME_CELLS}, not "
                              f"{self.time_cells!r:.40}")

    def finest(self, in_dim: int, samples_per_axis: int | tuple[int, ...]) -> int | tuple[int, ...]:
        """N_max for a signal of ``samples_per_axis`` (one number, or one per axis in coordinate order):
        a tuple ``max_res`` as given; else ``max_res`` (or twice the longest axis) on every axis, except
        with ``time_cells``: then the time axis (the last) has ``round(time_cells x its samples)`` (at
        least 1) and the others ``max_res`` or twice the longest of them (a frame's longer side). One
        number when every axis has the same."""
        if isinstance(self.max_res, tuple):
            if len(self.max_res) != in_dim:
                raise InrkitError(f"hash max_res gives {len(self.max_res)} axes for a field of {in_dim} "
                                  f"coordinates: {self.max_res}")
            return self.max_res
        per = isinstance(samples_per_axis, (tuple, list))
        if self.time_cells is None or not per or len(samples_per_axis) != in_dim or in_dim < 2:
            longest = max(samples_per_axis) if per else samples_per_axis
            return self.max_res if self.max_res is not None else 2 * longest
        space = self.max_res if self.max_res is not None else 2 * max(samples_per_axis[:-1])  # frames set apart
        time = max(1, int(round(self.time_cells * samples_per_axis[-1])))
        return space if time == space else (space,) * (in_dim - 1) + (time,)


_ENCODING_CONFIGS = {"pe": PEConfig, "ffn": FourierConfig, "hash": HashConfig}


@dataclass(frozen=True)
class FieldConfig:
    """Which field to build: ``arch`` and its MLP, and each encoding's own settings
    (``pe``, ``ffn``, ``hash``; only the one ``arch`` uses matters).

    The encoding settings also accept plain dicts (``FieldConfig(**dataclasses.asdict(cfg))``
    or a run's JSON record rebuild the same configuration).
    """

    arch: str = "siren"
    width: int = 256
    hidden_layers: int = 3
    w0: float = 30.0
    pe: PEConfig = dataclasses.field(default_factory=PEConfig)
    ffn: FourierConfig = dataclasses.field(default_factory=FourierConfig)
    hash: HashConfig = dataclasses.field(default_factory=HashConfig)

    def __post_init__(self):
        for name, cls in _ENCODING_CONFIGS.items():
            value = getattr(self, name)
            if isinstance(value, dict):
                object.__setattr__(self, name, cls(**value))
            elif not isinstance(value, cls):
                raise TypeError(f"FieldConfig.{name} must be a {cls.__name__}, not {type(value).__name__}")



@dataclass(frozen=True)
class TrainConfig:
    """How to fit. ``lr=None`` takes the architecture's paper default; ``batch_size=0`` is the whole signal."""

    steps: int = 500
    lr: float | None = None
    batch_size: int = 0
    log_every: int = 25
    seed: int = 0
    schedule: str = "constant"  # or "cosine": decay to 1 % of lr over the run
    compile: bool = False  # torch.compile the field (falls back to eager if it fails)
    amp: bool = False  # bfloat16 autocast on CUDA (ignored on CPU)


PRESETS: dict[str, tuple[FieldConfig, TrainConfig]] = {
    # The published SIREN image recipe (Sitzmann 2020): 3 x 256 sine layers, Adam 1e-4, whole image.
    "reference": (FieldConfig(arch="siren"), TrainConfig()),
    # Hash grid (Mueller 2022) with a 2 x 64 ReLU MLP, Adam 1e-2 with cosine decay, 2^14 random pixels per
    # step. 8 levels of 4 features instead of the paper's 16 of 2: the same table bytes per point, half the
    # gathers, which measured 2.3x faster per step on a 2-core CPU for the same PSNR (docs/benchmarks.md).
    "fast": (FieldConfig(arch="hash", width=64, hidden_layers=1, hash=HashConfig(levels=8, features=4)),
             TrainConfig(steps=300, batch_size=16384, schedule="cosine")),
}
# The reference recipe sized for a CPU: the same SIREN and learning rate, 300 whole-image steps, on an image whose
# longer side is capped at 128 pixels (PRESET_MAX_SIZE) unless --size is given. About 0.25 s per step on a 2-core
# CPU (x86_64, torch 2.13.0+cpu), so a fit takes about a minute and a half instead of the reference's 95 minutes
# at 512 x 512 (11 s per step).
PRESETS["cpu"] = (FieldConfig(arch="siren"), TrainConfig(steps=300))
PRESETS["tiny"] = (dataclasses.replace(PRESETS["fast"][0],
                                       hash=dataclasses.replace(PRESETS["fast"][0].hash, levels=4, log2_table=12)),
                   dataclasses.replace(PRESETS["fast"][1], steps=60, batch_size=2048))
"""``tiny`` is the fast preset's small form, for tests on the CPU."""
PRESETS = {k: PRESETS[k] for k in ("reference", "cpu", "fast", "tiny")}  # the order --help lists them

PRESET_MAX_SIZE: dict[str, int] = {"cpu": 128}
"""Presets that cap the image's longer side (in pixels) when no ``--size`` is given."""

AUTO_PRESET = "auto"
"""Not a recipe: ``reference`` on a CUDA GPU, ``cpu`` otherwise (:func:`resolve_preset`)."""


def resolve_preset(name: str, device: str = "auto") -> tuple[str, str]:
    """``(recipe name, why)``: ``auto`` picks ``reference`` on a CUDA device and ``cpu`` elsewhere; any
    other name is itself. ``why`` is said by ``--dry-run`` and the reports."""
    if name != AUTO_PRESET:
        preset(name)
        return name, "--preset"
    from .device import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda":
        return "reference", f"--preset auto on {dev} (a CUDA GPU): the reference recipe"
    return "cpu", f"--preset auto on {dev.type} (no CUDA GPU): the reference recipe sized for a CPU"




def _mlp_size(in_dim: int, out_dim: int, width: int, hidden_layers: int) -> int:
    """Weights and biases of in -> width, ``hidden_layers`` x (width -> width), width -> out
    (the layout of both :class:`~inrkit.nn.MLP` and :class:`~inrkit.nn.Siren`)."""
    return (in_dim + 1) * width + hidden_layers * (width + 1) * width + (width + 1) * out_dim


def _longest(samples_per_axis: int | tuple[int, ...]) -> int:
    """The longest axis's samples, from one number or one per axis."""
    return max(samples_per_axis) if isinstance(samples_per_axis, (tuple, list)) else samples_per_axis


def field_size(cfg: FieldConfig, in_dim: int, out_dim: int, samples_per_axis: int | tuple[int, ...] = 256,
               stop_above: int | None = None) -> int:
    """How many numbers (parameters and encoding buffers) ``build_field(cfg, in_dim, out_dim,
    samples_per_axis)`` would hold, computed from the configuration alone (nothing is built).

    The hash grid's levels are counted one by one (its table sizes follow eqs. 2-3 of
    Mueller 2022); with ``stop_above`` the count stops as soon as it passes that value, so
    an absurd number of levels is not walked."""
    check_arch(cfg.arch)
    enc_out, enc = in_dim, 0
    if cfg.arch == "hash":  # the MLP first: with absurdly many levels it alone is over the limit
        mlp = _mlp_size(cfg.hash.levels * cfg.hash.features, out_dim, cfg.width, cfg.hidden_layers)
        if stop_above is not None and mlp > stop_above:
            return mlp
    if cfg.arch == "pe":
        L = cfg.pe.frequencies if cfg.pe.frequencies is not None else nyquist_frequencies(_longest(samples_per_axis))
        enc_out = in_dim * (2 * L + 1)
    elif cfg.arch == "ffn":
        enc_out, enc = 2 * cfg.ffn.features, in_dim * cfg.ffn.features  # the fixed matrix B is a buffer
    elif cfg.arch == "hash":
        hg = cfg.hash
        enc_out = hg.levels * hg.features
        finest = hg.finest(in_dim, samples_per_axis)
        axes = finest if isinstance(finest, tuple) else (finest,) * in_dim
        table = 2 ** hg.log2_table
        schedule = []  # (N_min, b) per axis
        for max_res in axes:
            min_res = min(hg.min_res, max_res)
            schedule.append((min_res, 1.0 if hg.levels == 1 else
                             math.exp((math.log(max_res) - math.log(min_res)) / (hg.levels - 1))))
        for level in range(hg.levels):
            enc += min(table, math.prod(int(math.floor(m * b**level + 1e-6)) + 1 for m, b in schedule)) * hg.features
            if stop_above is not None and enc > stop_above:
                break
    return enc + _mlp_size(enc_out, out_dim, cfg.width, cfg.hidden_layers)


def check_field_size(cfg: FieldConfig, in_dim: int, out_dim: int,
                     samples_per_axis: int | tuple[int, ...] = 256) -> int:
    """:func:`field_size`, refused above :data:`MAX_PARAMETERS` (one line naming the limit)."""
    limit = MAX_PARAMETERS.value()
    n = field_size(cfg, in_dim, out_dim, samples_per_axis, stop_above=limit)
    enc = {"pe": lambda: f", {cfg.pe.frequencies or 'Nyquist'} frequencies",
           "ffn": lambda: f", {cfg.ffn.features} Fourier features",
           "hash": lambda: f", {cfg.hash.levels} levels of 2^{cfg.hash.log2_table} x {cfg.hash.features}"}
    what = enc.get(cfg.arch, lambda: "")()
    MAX_PARAMETERS.check(n, f"a {cfg.arch} field of width {cfg.width}, {cfg.hidden_layers} hidden layers{what}")
    return n


def check_arch(arch: str) -> str:
    if arch not in ALL_ARCHS:
        raise InrkitError(f"unknown architecture {arch!r}; choose one of {', '.join(ALL_ARCHS)}")
    return arch


def preset(name: str) -> tuple[FieldConfig, TrainConfig]:
    if name not in PRESETS:
        raise InrkitError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def make_optimizer(field: torch.nn.Module, arch: str, lr: float) -> torch.optim.Optimizer:
    """Adam; the hash grid uses the paper's betas (0.9, 0.99) and eps 1e-15 (Mueller 2022, sec. 4)."""
    if arch == "hash":
        return torch.optim.Adam(field.parameters(), lr=lr, betas=(0.9, 0.99), eps=1e-15)
    return torch.optim.Adam(field.parameters(), lr=lr)


def learning_rate(cfg: FieldConfig, train: TrainConfig) -> float:
    return train.lr if train.lr is not None else DEFAULT_LR[cfg.arch]


def build_field(cfg: FieldConfig, in_dim: int, out_dim: int, samples_per_axis: int | tuple[int, ...] = 256,
                generator: torch.Generator | None = None, first_w0: float | None = None) -> Field:
    """Compose the field named by ``cfg``: Encoding + Network. Its size is checked against
    :data:`MAX_PARAMETERS` from the numbers first (:func:`check_field_size`).

    ``samples_per_axis``: the signal's samples along its longest axis, or one number per axis in
    coordinate order (x, y, t); the defaults that follow the signal (PE octaves, the hash grid's
    N_max) use the longest, except a hash grid's time axis with ``time_cells`` (:class:`HashConfig`).

    ``first_w0`` gives a SIREN's first layer its own omega_0 (3000 on audio's time axis, Sitzmann
    et al. 2020 sec. 4.1); ``None``: ``cfg.w0`` for every layer."""
    check_field_size(cfg, in_dim, out_dim, samples_per_axis)
    encoding: Encoding
    if cfg.arch == "pe":
        pe = cfg.pe
        L = pe.frequencies if pe.frequencies is not None else nyquist_frequencies(_longest(samples_per_axis))
        encoding = PositionalEncoding(in_dim, L)
    elif cfg.arch == "ffn":
        encoding = GaussianFourierFeatures(in_dim, cfg.ffn.features, cfg.ffn.sigma, generator=generator)
    elif cfg.arch == "hash":
        hg = cfg.hash
        max_res = hg.finest(in_dim, samples_per_axis)
        if isinstance(max_res, tuple):  # one schedule per axis, each from min(N_min, its N_max)
            encoding = MultiresGrid.from_paper(in_dim, hg.levels, hg.features, hg.log2_table, hg.min_res, max_res,
                                               generator=generator)
        else:
            encoding = MultiresGrid.from_paper(in_dim, hg.levels, hg.features, hg.log2_table,
                                               min(hg.min_res, max_res), max_res, generator=generator)
    else:
        encoding = Identity(in_dim)
    network: Network
    if cfg.arch == "siren":
        network = Siren(encoding.out_dim, out_dim, cfg.width, cfg.hidden_layers, w0=cfg.w0, first_w0=first_w0,
                        generator=generator)
    else:
        act = "tanh" if cfg.arch == "tanh" else "relu"
        network = MLP(encoding.out_dim, out_dim, cfg.width, cfg.hidden_layers, act, generator=generator)
    return NeuralField(encoding, network)


def replace(cfg, **changes):
    """``dataclasses.replace`` that ignores ``None`` values (unset command-line options)."""
    return dataclasses.replace(cfg, **{k: v for k, v in changes.items() if v is not None})
