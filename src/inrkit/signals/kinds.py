"""The registry of signal kinds: which files ``inrkit fit`` reads, how, and how a kind is reported and rendered.

A kind is one module under ``inrkit/signals/`` defining ``KIND = Kind(...)`` plus one line in
:data:`BUILTIN`. Modules are imported when first asked for, so ``inrkit fit photo.png`` never
imports the audio or video readers. Images are a kind too (``image``): the command line hands
them to the image workflow (:mod:`inrkit.apps.image`), unchanged; every other kind goes through
the one generic workflow :mod:`inrkit.apps.grid`.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import InrkitError

if TYPE_CHECKING:  # pragma: no cover
    from .grid import GridSignal

Panel = tuple[str, str]
"""A report section: ``(title, html)``."""


@dataclass(frozen=True)
class RenderRequest:
    """What ``inrkit render`` (or ``inrkit.render``) asked for; each kind reads the fields it serves.

    ``size`` is ``(W, H)`` (the command line's order) of a slice or frame; ``what`` is ``image``
    (the values), ``gradient`` or ``laplacian``; ``rate`` audio samples per second; ``fps``
    video frames per second; ``slice`` a volume plane ``AXIS=VALUE`` in the field's coordinates;
    ``progress`` shows the one progress display (:class:`inrkit.train.progress.Counter`, on stderr)
    while a long render runs (a video's frames), as ``--quiet`` does not.
    """

    size: tuple[int, int] | None = None
    scale: int = 1
    what: str = "image"
    rate: int | None = None
    fps: float | None = None
    slice: str | None = None
    chunk: int | None = None
    max_pixels: int = 200_000_000
    region: tuple[float, float, float, float] | None = None
    progress: bool = False


@dataclass
class Rendering:
    """What a kind's render returns: the numbers, and how to write them to a file.

    ``name`` + ``suffix`` is the default file name under the run folder's ``renders/``;
    ``write(path)`` writes the file (atomically) and ``summary`` is the one line the command prints.
    """

    data: np.ndarray
    name: str
    suffix: str
    write: Callable[[Path], None]
    summary: str = ""


def _no_panels(fit) -> list[Panel]:
    return []


def _no_metrics(pred: np.ndarray, signal: "GridSignal") -> dict:
    return {}


@dataclass(frozen=True)
class Kind:
    """One kind of signal.

    - ``load(path, **options) -> GridSignal``: checks the kind's limits from the header before decoding
      and raises :class:`~inrkit.errors.InrkitError` (one line) on bad input. ``options`` are those of
      ``load_options`` the user gave (``size``, ``frames``, ``stride``, ``start``, ``max_pixels``);
      the command line refuses any other load option for this kind.
    - ``presets``: ``{name: (FieldConfig fields, TrainConfig fields)}`` as plain dicts (or the configs
      themselves), with at least ``reference``, ``cpu``, ``fast`` and ``tiny`` (``--preset auto``
      resolves to ``reference`` or ``cpu`` as for images; :func:`inrkit.apps.grid.kind_configs`).
    - ``panels(fit) -> [(title, html)]``: the report sections made for this kind (``fit`` is an
      :class:`inrkit.apps.grid.GridFit`; ``fit.folder`` is the run folder being written).
    - ``render(field, meta, request) -> Rendering``: evaluate a fitted field for ``inrkit render``.
    - ``extra_metrics(prediction, signal) -> dict``: figures beside PSNR (SNR, per-frame PSNR);
      ``prediction`` is in the signal's units with the shape of ``signal.values``.
    - ``claims(path) -> bool``: optional, for files whose suffix another kind has (a multi-page TIFF
      is a volume, a single page an image).
    """

    name: str
    suffixes: tuple[str, ...]
    load: Callable[[Path], "GridSignal"] | None
    in_dim: int
    presets: dict[str, tuple[dict, dict]] = field(default_factory=dict)
    panels: Callable[..., list[Panel]] = _no_panels
    render: Callable[..., Rendering] | None = None
    extra_metrics: Callable[[np.ndarray, "GridSignal"], dict] = _no_metrics
    describe: str = ""
    claims: Callable[[Path], bool] | None = None  # a file of another kind's suffix that is this kind's
    load_options: tuple[str, ...] = ()  # fit/compare options passed to load(path, **given) when given

    def preset(self, name: str) -> tuple[dict, dict]:
        if name not in self.presets:
            raise InrkitError(f"the {self.name} kind has no preset {name!r}; choose one of {', '.join(self.presets)}")
        return self.presets[name]


BUILTIN: dict[str, str] = {
    "image": "inrkit.signals.image",
    "audio": "inrkit.signals.audio",
    "volume": "inrkit.signals.volume",
    "video": "inrkit.signals.video",
}
"""Kind name -> the module defining its ``KIND``. A new kind is one line here (and its module)."""

RECONSTRUCTIONS = ("ct", "mri")
"""Signal kinds of runs that ``inrkit ct`` / ``inrkit mri`` write (not fitted by ``inrkit fit``); they render as
grey images (:func:`inrkit.apps.inverse.reconstruction_field`)."""

_LOADED: dict[str, Kind] = {}


def get(name: str) -> Kind:
    """The kind called ``name``; unknown names (or a kind whose module is not there) are refused in one line."""
    if name in _LOADED:
        return _LOADED[name]
    if name not in BUILTIN:
        raise InrkitError(f"unknown signal kind {name!r}; choose one of {', '.join(names())}")
    module = BUILTIN[name]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            raise InrkitError(f"the {name} kind is not available in this version of inrkit") from None
        raise
    kind = mod.KIND
    if kind.name != name:
        raise RuntimeError(f"{module}.KIND is named {kind.name!r}, registered as {name!r}")
    _LOADED[name] = kind
    return kind


def names() -> list[str]:
    """The kinds whose modules are present (video appears once its module exists)."""
    out = []
    for name, module in BUILTIN.items():
        if name in _LOADED or importlib.util.find_spec(module) is not None:
            out.append(name)
    return out


def kind_of(path: str | Path, kind: str | None = None) -> Kind:
    """The kind of the file ``path``: ``kind`` when given, else by its suffix; anything unknown is an image
    (built-in image names such as ``camera`` have no suffix)."""
    if kind is not None and kind != "auto":
        return get(kind)
    suffix = "".join(Path(str(path)).suffixes[-2:]).lower()  # ".nii.gz"
    last = Path(str(path)).suffix.lower()
    others = [get(name) for name in names() if name != "image"]
    for k in others:
        if suffix in k.suffixes or last in k.suffixes:
            return k
    for k in others:
        if k.claims is not None and k.claims(Path(str(path))):
            return k
    return get("image")
