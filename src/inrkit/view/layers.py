"""What ``inrkit view`` shows: layers built from run folders (read-only).

A layer is one field the page can draw: an image run's field, the bicubic upsampling of that
run's training pixels (the comparison that shows what "beyond the training resolution" means), a
volume's slices, an audio field's waveform, or a NeRF run's camera view. Each layer carries a
``hash`` that names its weights: the tile URLs hold it, so a retrained run (other bytes, another
hash) never shows tiles cached from the old one.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InrkitError
from . import tiles as T

MAX_TARGET_PIXELS = 1 << 26
"""Largest training image (target.png) read for the bicubic comparison: refused from the header first."""


def file_hash(*paths: Path) -> str:
    """First 16 hex digits of the SHA-256 of the files' bytes, in order."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


class BicubicField(nn.Module):
    """Bicubic interpolation of an ``(H, W, C)`` image of pixels in ``[0, 1]`` as a field on ``[-1, 1]^2``.

    ``grid_sample(mode="bicubic", align_corners=False)`` places pixel ``i`` at ``-1 + (2 i + 1) / N``,
    inrkit's cell-centre convention (:mod:`inrkit.coords`), so the interpolant passes through the
    training pixels exactly where the field was trained on them (Keys 1981 cubic convolution,
    a = -0.75, as PyTorch implements it; borders clamp). Values are returned in the field's units,
    ``2 p - 1``. Derivatives (gradient and Laplacian modes) are central finite differences with a
    step of 1/64 of a training pixel, in float64: the interpolant is a cubic inside each cell.
    """

    def __init__(self, pixels: np.ndarray):
        super().__init__()
        img = torch.as_tensor(np.asarray(pixels, dtype=np.float32))
        if img.ndim == 2:
            img = img[..., None]
        self.register_buffer("image", img.permute(2, 0, 1)[None].contiguous())  # (1, C, H, W)

    @property
    def out_dim(self) -> int:
        return int(self.image.shape[1])

    def forward(self, coords: Tensor) -> Tensor:
        lead = coords.shape[:-1]
        g = coords.reshape(1, 1, -1, 2).to(self.image.dtype)  # (1, 1, N, 2), (x, y) order as grid_sample wants
        v = F.grid_sample(self.image, g, mode="bicubic", padding_mode="border", align_corners=False)  # (1, C, 1, N)
        return (v[0, :, 0].T * 2.0 - 1.0).reshape(*lead, -1)

    def view_quantity(self, coords: Tensor, mode: str) -> Tensor:
        if mode == "value":
            with torch.inference_mode():
                return self(coords).clone()
        h, w = self.image.shape[-2:]
        dx, dy = 2.0 / w / 64.0, 2.0 / h / 64.0
        x = coords.double()

        def f(ox: float, oy: float) -> Tensor:
            shifted = x + torch.tensor([ox, oy], dtype=torch.float64)
            with torch.inference_mode():
                return self(shifted.float()).double().mean(-1, keepdim=True)

        c = f(0, 0)
        fx1, fx0, fy1, fy0 = f(dx, 0), f(-dx, 0), f(0, dy), f(0, -dy)
        if mode == "gradient":
            gx, gy = (fx1 - fx0) / (2 * dx), (fy1 - fy0) / (2 * dy)
            return torch.sqrt(gx ** 2 + gy ** 2).float()
        return ((fx1 - 2 * c + fx0) / dx ** 2 + (fy1 - 2 * c + fy0) / dy ** 2).float()


class SliceField(nn.Module):
    """The plane ``z = const`` of a 3-D field as a 2-D field: ``f(x, y) = field(x, y, z)``.

    Gradient and Laplacian modes of a slice are in-plane (d/dx, d/dy), by autograd."""

    def __init__(self, field: nn.Module, z: float):
        super().__init__()
        self.field, self.z = field, float(z)

    def forward(self, coords: Tensor) -> Tensor:
        zcol = torch.full_like(coords[..., :1], self.z)
        return self.field(torch.cat([coords, zcol], dim=-1))

    def lattice_axes(self) -> tuple[nn.Module, list[Tensor]]:
        """The 3-D field and the fixed trailing axis ``[z]``: tiles of a grid-encoded volume are lattices
        (:func:`inrkit.view.tiles.lattice_field`)."""
        return self.field, [torch.tensor([self.z], dtype=torch.float64).float()]


@dataclass
class Layer:
    """One thing the page can draw. ``kind`` is ``image`` (tiles), ``volume`` (tiles of a slice ``z = const``),
    ``audio`` (waveforms, ``shape = (1, samples)``) or ``nerf`` (camera views). ``plane``: the ``(x, y)``
    bounds of the data (``[-1, 1]^2`` for images); ``depth``: a volume's ``(z0, z1, voxels along z)``."""

    id: str
    name: str
    kind: str
    hash: str
    model: nn.Module
    meta: dict
    shape: tuple[int, int] = (256, 256)  # training (H, W)
    live: bool = False
    step: int | None = None
    psnr: float | None = None
    scales: dict = dc_field(default_factory=dict)  # (hash, mode) -> ColourScale
    plane: tuple = ((-1.0, 1.0), (-1.0, 1.0))
    depth: tuple | None = None

    @property
    def tiled(self) -> bool:
        return self.kind in ("image", "volume")

    def slice_ok(self, z: float | None) -> bool:
        """A slice coordinate is needed for volumes only, and must lie within the volume's z bounds."""
        if self.depth is None:
            return z is None
        return z is not None and self.depth[0] <= z <= self.depth[1]

    def plane_field(self, z: float | None) -> nn.Module:
        """The 2-D field the tiles show: the model, or a volume's slice at ``z`` (the middle one if None)."""
        if self.depth is None:
            return self.model
        return SliceField(self.model, (self.depth[0] + self.depth[1]) / 2 if z is None else z)

    def info(self) -> dict:
        d = {"id": self.id, "name": self.name, "kind": self.kind, "hash": self.hash,
             "shape": list(self.shape), "live": self.live, "step": self.step, "psnr": self.psnr,
             "plane": [list(b) for b in self.plane]}
        if self.tiled:
            d["modes"] = list(T.MODES)
        if self.depth is not None:
            d["slice"] = {"lo": self.depth[0], "hi": self.depth[1], "n": self.depth[2]}
        if self.kind == "audio":
            sig = self.meta.get("signal") or {}
            d["audio"] = {"n": self.shape[1], "rate": int(sig.get("sample_rate") or 0),
                          "channels": int(sig.get("channels") or 1)}
        if self.kind == "nerf":
            d["camera"] = nerf_camera(self.meta)
        return d


def nerf_camera(meta: dict) -> dict:
    """The training camera and default orbit of a NeRF run (its checkpoint's JSON)."""
    orb = meta.get("orbit") or {}
    h, w = meta.get("image_size") or [100, 100]
    return {"size": [int(w), int(h)], "radius": float(orb.get("radius", 4.0)),
            "elevation": float(orb.get("elevation_deg", 30.0)), "center": list(orb.get("center", [0.0, 0.0, 0.0]))}


def _image_shape(meta: dict, path) -> tuple[int, int]:
    sig = meta.get("signal")
    if not isinstance(sig, dict) or sig.get("kind") != "image":
        raise InrkitError(f"{path} is not an image field (its checkpoint names no image signal)")
    shape = sig.get("shape")
    if (not isinstance(shape, list) or len(shape) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1 << 20 for n in shape)):
        raise InrkitError(f"{path}: its image shape {shape!r:.40} is not two positive integers")
    return int(shape[0]), int(shape[1])


def _volume(meta: dict, path) -> tuple[tuple[int, int], tuple, tuple]:
    """(H, W) of a slice, the (x, y) bounds and (z0, z1, Z) of a volume checkpoint's signal."""
    sig = meta.get("signal") or {}
    shape, bounds = sig.get("shape"), sig.get("bounds")
    ok = (isinstance(shape, list) and len(shape) == 3
          and all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1 << 16 for n in shape)
          and isinstance(bounds, list) and len(bounds) == 3
          and all(isinstance(b, list) and len(b) == 2 and all(isinstance(v, (int, float)) for v in b)
                  and -1e6 < b[0] < b[1] < 1e6 for b in bounds))
    if not ok:
        raise InrkitError(f"{path}: its volume shape or bounds are not three sizes and three (low, high) pairs")
    z, y, x = shape
    (x0, x1), (y0, y1), (z0, z1) = ((float(a), float(b)) for a, b in bounds)
    return (y, x), ((x0, x1), (y0, y1)), (z0, z1, z)


def _checkpoint_files(path: Path) -> tuple[Path, Path]:
    from ..train.checkpoint import _paths

    return _paths(path)


def load_run(path: str | Path, layer_id: str, device: str | torch.device = "cpu") -> Layer:
    """Load a run folder (or ``model.safetensors`` / ``model.json``) as a layer, read-only.

    Raises :class:`InrkitError` (one line) for a missing or corrupt run, or one of a kind the viewer
    cannot draw (functa, INSP)."""
    from ..train import checkpoint

    p = Path(path)
    if not p.exists():
        raise InrkitError(f"run not found: {p}")
    meta = checkpoint.read_meta(p)
    kind = checkpoint.kind(meta)
    if kind not in ("field", "nerf"):
        name, command = checkpoint.KINDS[kind]
        raise InrkitError(f"{p} is {name} checkpoint, which inrkit view cannot show; use `{command} ...`")
    model, meta = checkpoint.load(p, device=device, expect=kind)
    st, js = _checkpoint_files(p)
    digest = file_hash(st, js)
    name = (p if p.is_dir() else p.parent).name or str(p)
    if kind == "nerf":
        return Layer(layer_id, name, "nerf", digest, model, meta, shape=tuple(nerf_camera(meta)["size"][::-1]))
    sig = meta.get("signal")
    if isinstance(sig, dict) and sig.get("kind") == "audio":
        n, rate = sig.get("shape"), sig.get("sample_rate")
        if not (isinstance(n, list) and len(n) == 1 and isinstance(n[0], int) and 1 <= n[0] <= 1 << 34
                and isinstance(rate, int) and 1 <= rate <= 1 << 20):
            raise InrkitError(f"{p}: its audio length or sample rate is not a positive integer")
        return Layer(layer_id, name, "audio", digest, model, meta, shape=(1, n[0]))
    if isinstance(sig, dict) and sig.get("kind") == "volume":
        shape, plane, depth = _volume(meta, p)
        return Layer(layer_id, name, "volume", digest, model, meta, shape=shape, plane=plane, depth=depth)
    return Layer(layer_id, name, "image", digest, model, meta, shape=_image_shape(meta, p))


def bicubic_layer(run: Layer, folder: Path, layer_id: str) -> Layer | None:
    """The bicubic upsampling of an image run's training pixels (``target.png`` of its run folder), or
    ``None`` when the folder holds no such image of the checkpoint's size."""
    from PIL import Image

    png = folder / "target.png"
    if run.kind != "image" or not png.is_file():
        return None
    try:
        with Image.open(png) as im:
            w, h = im.size
            if w * h > MAX_TARGET_PIXELS or (h, w) != tuple(run.shape):
                return None
            arr = np.asarray(im.convert("RGBA" if im.mode in ("RGBA", "LA") else "RGB" if im.mode != "L" else "L"))
    except (OSError, ValueError):
        return None
    px = arr.astype(np.float32) / 255.0
    channels = int(run.meta.get("signal", {}).get("channels", px.shape[-1] if px.ndim == 3 else 1))
    if px.ndim == 3 and channels == 1:
        px = px[..., :1]
    return Layer(layer_id, f"bicubic of {run.name}", "image", "b" + file_hash(png), BicubicField(px),
                 {"signal": run.meta.get("signal")}, shape=run.shape)


def check_comparable(layers: list[Layer]) -> None:
    """Runs shown together must be of one kind (image tiles, or NeRF views): else one line."""
    kinds = {layer.kind for layer in layers}
    if len({layer.depth is None for layer in layers}) > 1 or len({layer.plane for layer in layers}) > 1:
        kinds.add("?")
    if len(kinds) > 1:
        raise InrkitError("runs of different kinds (or volumes of different bounds) cannot be compared side by side: "
                          + ", ".join(f"{layer.name} ({layer.kind})" for layer in layers))


class LiveModel:
    """A copy of a training field that the viewer draws while ``fit`` changes the original.

    ``refresh`` copies the weights in under the viewer's model lock, without waiting for it: when
    a tile is being rendered, training goes on and the copy is refreshed at a later step."""

    def __init__(self, layer: Layer, lock: threading.Lock):
        self.layer, self.lock, self.version = layer, lock, 0

    def refresh(self, source: nn.Module, step: int, psnr: float | None, base: str = "live") -> bool:
        if not self.lock.acquire(blocking=False):
            return False
        try:
            with torch.no_grad():
                for dst, src in zip(self.layer.model.state_dict().values(), source.state_dict().values()):
                    dst.copy_(src)
            self.version += 1
            self.layer.hash = f"{base}-{self.version}"
            self.layer.step, self.layer.psnr = step, psnr
            self.layer.scales.clear()
        finally:
            self.lock.release()
        return True
