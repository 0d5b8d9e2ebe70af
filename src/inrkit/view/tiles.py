"""Tile maths of ``inrkit view``: which square of the domain a tile covers, its pixel-centre grid,
the quantity a mode shows, one colour scale per mode, and PNG bytes.

A tile pyramid over the domain ``[-1, 1]^2`` (x right, y down, :mod:`inrkit.coords`): level ``L``
cuts it into ``2^L x 2^L`` tiles of ``TILE x TILE`` pixels, so the whole domain at level ``L``
is an image of ``256 * 2^L`` pixels a side. Tile ``(tx, ty)`` of level ``L`` covers::

    x in [-1 + 2 tx / 2^L, -1 + 2 (tx + 1) / 2^L],   y likewise with ty

and its pixels are that square's cell centres (``coords.grid`` with these bounds): a tile is
the field evaluated at its own pixel centres, never upsampled pixels of another level. The four
children of a tile split its square in two along each axis; a parent pixel's centre is the
common corner of the 2 x 2 child pixels that refine it, so on a smooth field a parent pixel
equals the average of those four to second order in the pixel size (the midpoint rule), which
the tests check.

Coordinates are computed in float64 and rounded once to float32, the precision of the fields.
At level ``MAX_LEVEL = 16`` a pixel is ``2 / 2^24 = 2^-23`` wide and its half, ``2^-24``, is the
spacing of float32 numbers in ``[0.5, 1)``: one level deeper, neighbouring pixel centres would
round to the same coordinate, so the viewer stops zooming there (about ``2^16`` times the
domain at 256 pixels, a view equivalent to a 16,777,216-pixel-wide image).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .. import coords as C
from ..ops.chunked import evaluate

TILE = 256
"""Pixels along each side of a tile."""

MAX_LEVEL = 16
"""Deepest level: pixel centres of level 17 would no longer be distinct float32 numbers."""

MODES = ("value", "gradient", "laplacian")
"""What a tile shows: the field's values as pixels, the magnitude of the gradient of the channel mean
(per coordinate unit, forward mode where the field allows), or the Laplacian of the channel mean."""

SCALE_QUANTILE = 99.0
"""Percentile of |quantity| on the coarse render that ends each derivative mode's colour scale
(as the run reports' derivative maps, :func:`inrkit.report.plots.robust_scale`)."""


def in_range(level: int, tx: int, ty: int) -> bool:
    """True when ``(level, tx, ty)`` names a tile of the pyramid."""
    return 0 <= level <= MAX_LEVEL and 0 <= tx < (1 << level) and 0 <= ty < (1 << level)


def tile_bounds(level: int, tx: int, ty: int) -> C.Bounds:
    """The square ``((x0, x1), (y0, y1))`` of the domain the tile covers (float64 numbers)."""
    if not in_range(level, tx, ty):
        raise ValueError(f"tile ({level}, {tx}, {ty}) is outside the pyramid")
    w = 2.0 / (1 << level)
    return ((-1.0 + w * tx, -1.0 + w * (tx + 1)), (-1.0 + w * ty, -1.0 + w * (ty + 1)))


def tile_coords(level: int, tx: int, ty: int, size: int = TILE) -> Tensor:
    """Pixel centres of a tile: ``(size, size, 2)`` float32 in (x, y) order, rows going down.

    Computed in float64 (:func:`inrkit.coords.grid`), rounded once to float32."""
    return C.grid((size, size), tile_bounds(level, tx, ty), dtype=torch.float64).float()


def quantity(field: nn.Module, coords: Tensor, mode: str, method: str = "auto") -> Tensor:
    """What ``mode`` shows at ``coords (*, 2)``: values ``(*, C)``, |gradient| ``(*, 1)`` or Laplacian ``(*, 1)``.

    Values run under ``torch.inference_mode`` (no autograd bookkeeping at all); gradient and Laplacian
    come from :func:`inrkit.ops.evaluate`, which propagates them forward (``ops.jet``) for the MLP fields
    inrkit trains and falls back to autograd for others. A field may define its own
    ``view_quantity(coords, mode)`` (the bicubic comparison does, by finite differences).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    own = getattr(field, "view_quantity", None)
    if own is not None:
        return own(coords, mode)
    if mode == "value":
        with torch.inference_mode():
            lead = coords.shape[:-1]
            param = next(iter(field.parameters()), None)
            x = coords.reshape(-1, coords.shape[-1])
            if param is not None:
                x = x.to(device=param.device, dtype=param.dtype)
            y = field(x).float().cpu()  # (N, C)
            return y.reshape(*lead, y.shape[-1]).clone()  # out of inference mode for the caller
    if mode == "gradient":
        g = evaluate(field, coords, "gradient", method=method)  # (*, 2) of the channel mean
        return g.norm(dim=-1, keepdim=True)
    return evaluate(field, coords, "laplacian", method=method)  # (*, 1)


# ---- colour --------------------------------------------------------------------------------

_MAGMA = ((0.0, "#000004"), (0.25, "#51127c"), (0.5, "#b73779"), (0.75, "#fc8961"), (1.0, "#fcfdbf"))
"""Anchor colours of a perceptually ordered dark-to-light map (read off matplotlib's magma)."""
_DIVERGING = ((0.0, "#2166ac"), (0.25, "#67a9cf"), (0.5, "#f7f7f7"), (0.75, "#ef8a62"), (1.0, "#b2182b"))
"""Blue (negative) - white (zero) - red (positive), as the reports' Laplacian maps (RdBu reversed)."""
COLOUR_MAPS = {"magma": _MAGMA, "diverging": _DIVERGING}


def _lut(stops) -> np.ndarray:
    """256 x 3 uint8 table interpolated linearly between the anchor colours."""
    pos = np.array([p for p, _ in stops])
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for _, c in stops], dtype=np.float64)
    t = np.linspace(0.0, 1.0, 256)
    return np.stack([np.interp(t, pos, rgb[:, k]) for k in range(3)], -1).round().astype(np.uint8)


_LUTS = {name: _lut(stops) for name, stops in COLOUR_MAPS.items()}


@dataclass(frozen=True)
class ColourScale:
    """One mode's mapping of numbers to colours for a whole run: ``[lo, hi]`` onto ``cmap``.

    ``value`` mode has no scale of its own: field values ``v`` in ``[-1, 1]`` are pixels ``(v + 1) / 2``
    (:func:`inrkit.pixels.values_to_pixels`), the channels as they were trained."""

    mode: str
    lo: float
    hi: float
    cmap: str
    label: str

    def to_json(self) -> dict:
        return {"mode": self.mode, "lo": self.lo, "hi": self.hi, "cmap": self.cmap, "label": self.label,
                "stops": [[p, c] for p, c in COLOUR_MAPS[self.cmap]] if self.cmap in COLOUR_MAPS else []}


VALUE_SCALE = ColourScale("value", -1.0, 1.0, "channels", "field value v -> pixel (v + 1) / 2")


def global_scale(field: nn.Module, mode: str, size: int = 256) -> ColourScale:
    """The colour scale of ``mode`` for this field, from one coarse render of the whole domain.

    Computed once per run and mode and used by every tile at every level, so neighbouring tiles
    (and levels) share one mapping: no seams. Gradient: ``[0, q99(|grad|)]`` on a dark-to-light
    map; Laplacian: ``[-s, s]`` with ``s = q99(|lap|)`` on a diverging map (zero is white)."""
    if mode == "value":
        return VALUE_SCALE
    q = tile_quantities(field, [(0, 0, 0)], mode, size)  # the whole domain, one coarse render
    s = float(np.percentile(np.abs(q), SCALE_QUANTILE))
    s = s if math.isfinite(s) and s > 1e-12 else 1.0
    if mode == "gradient":
        return ColourScale(mode, 0.0, s, "magma", "|gradient| of the channel mean, per coordinate unit")
    return ColourScale(mode, -s, s, "diverging", "Laplacian of the channel mean, per coordinate unit squared")


def colourise(q: np.ndarray, scale: ColourScale) -> np.ndarray:
    """``(H, W, C)`` quantity -> ``(H, W, 3)`` (or ``4`` with alpha) uint8 pixels under ``scale``."""
    if scale.mode == "value":
        px = np.round(np.clip((np.nan_to_num(q, nan=-1.0) + 1.0) * 0.5, 0.0, 1.0) * 255.0).astype(np.uint8)
        c = px.shape[-1]
        if c == 1:
            return np.repeat(px, 3, axis=-1)
        if c == 2:  # two channels: show them as red and green
            return np.concatenate([px, np.zeros_like(px[..., :1])], -1)
        return px[..., :4]
    t = (np.nan_to_num(q[..., 0], nan=scale.lo) - scale.lo) / (scale.hi - scale.lo)
    idx = np.clip(np.round(t * 255.0), 0, 255).astype(np.intp)
    return _LUTS[scale.cmap][idx]


def png_bytes(image: np.ndarray, level: int = 1) -> bytes:
    """Encode a uint8 ``(H, W, 3|4)`` image as PNG (zlib level 1: tiles are made to be sent, not stored)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", compress_level=level)
    return buf.getvalue()


LATTICE = True
"""Render tiles of grid-encoded fields through the encoding's lattice form (:func:`lattice_field`). The
benchmark turns it off to time the per-point path it replaced."""


def lattice_field(field: nn.Module) -> tuple[nn.Module, list[Tensor]] | None:
    """``(neural_field, fixed_axes)`` when ``field``'s tiles can be computed on the pixel lattice, else ``None``.

    That is a :class:`inrkit.fields.base.NeuralField` whose encoding has ``encode_lattice`` (the hash
    and dense grids, :func:`inrkit.encodings.grid.grid_encode_lattice`) over the tile's two axes, or
    a field that says how it is one (``lattice_axes()``: a volume's slice gives its 3-D field and
    ``[z]``). A d-linear grid is separable: a 256 x 256 tile needs each level's vertices around
    at most 512 x 512 points, not 4 corners x 65,536 lookups, and its derivatives along x and y are
    the same interpolation with one axis' weights differentiated."""
    from ..fields.base import NeuralField

    extra: list[Tensor] = []
    inner = field
    hook = getattr(field, "lattice_axes", None)
    if hook is not None:
        inner, extra = hook()
    enc = getattr(inner, "encoding", None)
    if (isinstance(inner, NeuralField) and hasattr(enc, "encode_lattice")
            and getattr(enc, "in_dim", None) == 2 + len(extra)):
        return inner, extra
    return None


def _piecewise_linear(net: nn.Module) -> bool:
    """True for inrkit's ReLU ``MLP`` (a ``Sequential`` of linear maps and ReLUs: no second derivatives)."""
    from ..nn.mlp import MLP

    return type(net) is MLP and all(type(m) in (nn.Linear, nn.ReLU) for m in net.layers)


def _lattice_tile(field: nn.Module, extra: list[Tensor], xy: Tensor, mode: str) -> Tensor:
    """``quantity(field, xy, mode)`` for one tile's pixel centres ``xy (H, W, 2)`` through the lattice."""
    enc, net = field.encoding, field.network
    param = enc.table
    xs = xy[0, :, 0].to(device=param.device, dtype=param.dtype)
    ys = xy[:, 0, 1].to(device=param.device, dtype=param.dtype)
    h, w = xy.shape[:2]
    axes = [xs, ys] + [e.to(device=param.device, dtype=param.dtype) for e in extra]
    scale, shift = field.output_scale, field.output_shift
    if mode == "value":
        with torch.inference_mode():
            feats, _ = enc.encode_lattice(axes)
            y = net(feats.reshape(h * w, -1))
            if scale != 1.0:
                y = y * scale
            if shift != 0.0:
                y = y + shift
            return y.float().cpu().reshape(h, w, -1).clone()
    if mode == "laplacian" and _piecewise_linear(net):
        # d-linear cells and a ReLU network: piecewise linear along every axis, so the Laplacian is
        # exactly zero away from the kinks (autograd's double backward gives these same zeros)
        return torch.zeros(h, w, 1)
    with torch.no_grad():
        feats, parts = enc.encode_lattice(axes, partials=True)
    feats = feats.reshape(h * w, -1).requires_grad_(True)
    parts = parts[:2].reshape(2, h * w, -1)  # d/dx, d/dy of the features (a slice: in-plane only)
    with torch.enable_grad():
        out = net(feats).mean(-1)  # the channel mean, as ops.evaluate's derivative maps
        (g,) = torch.autograd.grad(out.sum(), feats, create_graph=mode == "laplacian")
        if mode == "gradient":
            q = torch.einsum("nk,dnk->nd", g.detach(), parts).norm(dim=-1, keepdim=True)
        else:
            # Within a cell a d-linear interpolation is linear along each axis (d2 feats / dx_i^2 = 0), so
            # the Laplacian is sum_i p_i^T H p_i, H the network's Hessian in feature space: Hessian-vector
            # products by a second backward (zero for a ReLU network, which has no second derivative).
            q = torch.zeros(h * w, 1, dtype=feats.dtype, device=feats.device)
            for i in range(2):
                s = (g * parts[i]).sum()
                if s.requires_grad:
                    (hv,) = torch.autograd.grad(s, feats, retain_graph=True, allow_unused=True)
                    if hv is not None:
                        q = q + (hv * parts[i]).sum(-1, keepdim=True)
    q = q.detach() * abs(scale) if mode == "gradient" else q.detach() * scale
    return q.float().cpu().reshape(h, w, 1)


def tile_quantities(field: nn.Module, tiles: list[tuple[int, int, int]], mode: str, size: int = TILE) -> np.ndarray:
    """``quantity`` of several tiles: ``(n, size, size, k)``. Grid-encoded fields go through the encoding's
    lattice form (:func:`lattice_field`), one tile at a time (their cost is per pixel); others stack the
    tiles' pixel centres into one batch, one forward pass for all."""
    lat = lattice_field(field) if LATTICE and getattr(field, "view_quantity", None) is None else None
    if lat is None:
        xs = torch.stack([tile_coords(*t, size=size) for t in tiles])  # (n, size, size, 2)
        return quantity(field, xs, mode).numpy()
    inner, extra = lat
    return torch.stack([_lattice_tile(inner, extra, tile_coords(*t, size=size), mode) for t in tiles]).numpy()


def render_tiles(field: nn.Module, tiles: list[tuple[int, int, int]], mode: str, scale: ColourScale,
                 size: int = TILE) -> list[np.ndarray]:
    """Render several tiles in one call: a list of uint8 ``(size, size, 3|4)`` images (:func:`tile_quantities`)."""
    if not tiles:
        return []
    q = tile_quantities(field, tiles, mode, size)  # (n, size, size, k)
    return [colourise(q[i], scale) for i in range(len(tiles))]
