"""Volumes as signals: (x, y, z) -> density, e.g. an MRI scan.

Readers: NIfTI-1/2 (``.nii``, ``.nii.gz``) through ``nibabel``, NumPy ``.npy`` and multi-page TIFF
stacks (``--kind volume``, or any ``.tif`` with more than one page) through ``tifffile``. Each reads
the shape from the header and refuses more than :data:`MAX_VOXELS` before reading any voxel.

Arrays are kept in ``(Z, Y, X)`` order, so by :mod:`inrkit.coords`' rule (array axis k is coordinate
d-1-k) the coordinates are ``(x, y, z)`` with x along the NIfTI's first voxel axis i. The voxel size
of the header (``pixdim``) becomes the coordinate bounds (:func:`inrkit.signals.grid.bounds_for`):
the longest physical side spans [-1, 1], the others shrink in proportion. Intensities are fitted
after mapping [min, max] of the volume to [-1, 1]; the report and renders map back.

The paper recipes: SIREN (Sitzmann et al. 2020, sec. 3.2, omega_0 = 30) and ReLU + Fourier features
(Tancik et al. 2020, sec. 6, the MRI task: 3-D coordinates -> density); the fast preset is a 3-D
multiresolution hash grid (Mueller et al. 2022).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import InrkitError
from ..limits import ResourceLimit
from .grid import GridSignal
from .kinds import Kind, Panel, RenderRequest, Rendering

MAX_VOXELS = ResourceLimit("INRKIT_MAX_VOXELS", 2**27, "voxels")
"""2^27 voxels (512 MiB as float32; 512^3): checked from the header before any voxel is read."""

SUFFIXES = (".nii", ".nii.gz", ".npy")
"""TIFF stacks also open as volumes: with ``--kind volume`` or when the TIFF has more than one page."""


def _check(shape: tuple[int, ...], path: Path) -> tuple[int, int, int]:
    shape = tuple(int(n) for n in shape)
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise InrkitError(f"{path.name} holds an array of shape {shape}, not a 3-D volume")
    if min(shape) < 1:
        raise InrkitError(f"{path.name} holds an empty volume of shape {shape}")
    MAX_VOXELS.check(math.prod(shape), path.name)
    return shape  # type: ignore[return-value]


def _finite(data: np.ndarray, path: Path) -> np.ndarray:
    data = np.asarray(data, dtype=np.float32)
    if not np.isfinite(data).all():
        raise InrkitError(f"{path.name} holds NaN or infinite voxels")
    return data


def read_nifti(path: Path) -> tuple[np.ndarray, tuple[float, float, float], dict]:
    """``(data (X, Y, Z) float32, voxel sizes (i, j, k), info)`` of a NIfTI file, header checked first."""
    try:
        import nibabel as nib
    except ImportError:
        raise InrkitError("reading NIfTI needs the nibabel package (pip install inrkit[medical])") from None
    try:
        img = nib.load(str(path))
        shape = _check(img.shape, path)
        zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
        data = img.get_fdata(dtype=np.float32)
    except InrkitError:
        raise
    except Exception as exc:  # nibabel raises many types on damaged files (ImageFileError, EOFError, zlib.error)
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InrkitError(f"{path}: cannot read it as NIfTI ({msg})") from None
    data = data.reshape(shape)
    if not all(np.isfinite(z) and z > 0 for z in zooms):
        zooms = (1.0, 1.0, 1.0)
    return _finite(data, path), zooms, {"affine": np.asarray(img.affine, float).round(6).tolist()}


def read_npy(path: Path) -> np.ndarray:
    """A ``.npy`` volume ``(X, Y, Z)``, its header checked before the data is read (never unpickled)."""
    from numpy.lib import format as npf

    try:
        with open(path, "rb") as f:
            version = npf.read_magic(f)
            read = npf.read_array_header_1_0 if version == (1, 0) else npf.read_array_header_2_0
            shape, fortran, dtype = read(f)
    except Exception as exc:  # ValueError on a bad magic or header
        raise InrkitError(f"{path}: not a NumPy .npy file ({str(exc).splitlines()[0] if str(exc) else 'bad header'})") \
            from None
    _check(shape, path)
    if dtype.hasobject or dtype.kind not in "biuf":
        raise InrkitError(f"{path}: a volume must hold numbers, not {dtype}")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InrkitError(f"{path}: corrupt .npy ({str(exc).splitlines()[0]})") from None
    return _finite(data.reshape(_check(data.shape, path)), path)


def read_tiff_stack(path: Path) -> np.ndarray:
    """A multi-page TIFF as ``(X, Y, Z)`` (page k is the plane z = k), pages counted before decoding."""
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            pages = len(tif.pages)
            if pages == 0:
                raise InrkitError(f"{path.name} holds no pages")
            page_shape = tif.pages[0].shape
            if len(page_shape) != 2:
                raise InrkitError(f"{path.name}: pages of shape {page_shape} are not grey-level planes")
            _check((page_shape[1], page_shape[0], pages), path)
            data = tif.asarray()
    except InrkitError:
        raise
    except Exception as exc:
        raise InrkitError(f"{path}: cannot read it as a TIFF stack ({str(exc).splitlines()[0] if str(exc) else ''})") \
            from None
    data = np.asarray(data).reshape(pages, *page_shape)  # (Z, Y, X)
    return _finite(np.transpose(data, (2, 1, 0)), path)


def tiff_pages(path: Path) -> int:
    """Pages of a TIFF (0 when it is not one): a multi-page TIFF is a volume."""
    try:
        import tifffile

        with tifffile.TiffFile(str(path)) as tif:
            return len(tif.pages)
    except Exception:
        return 0


def load_volume(path: str | Path) -> GridSignal:
    """A volume file as a :class:`GridSignal` of kind ``volume``: values ``(Z, Y, X, 1)``, spacing from the header."""
    path = Path(path)
    if not path.is_file():
        raise InrkitError(f"no volume file {path}")
    if path.stat().st_size == 0:
        raise InrkitError(f"{path} is empty (zero bytes)")
    name = path.name.lower()
    info: dict = {"source": str(path)}
    spacing = (1.0, 1.0, 1.0)
    if name.endswith((".nii", ".nii.gz")):
        data, spacing, extra = read_nifti(path)
        info.update(extra)
    elif name.endswith(".npy"):
        data = read_npy(path)
    elif name.endswith((".tif", ".tiff")):
        data = read_tiff_stack(path)
    else:
        raise InrkitError(f"{path.name}: volumes are read from .nii, .nii.gz, .npy or multi-page .tif files")
    return volume_from_array(data, spacing, name=path.name.split(".")[0], **info)


def volume_from_array(data: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
                      name: str = "volume", **info) -> GridSignal:
    """A :class:`GridSignal` from ``data (X, Y, Z)`` (NIfTI's voxel order) with voxel ``spacing (i, j, k)``."""
    a = np.asarray(data, dtype=np.float32)
    if a.ndim != 3:
        raise InrkitError(f"a volume is a 3-D array, not shape {a.shape}")
    zyx = np.ascontiguousarray(np.transpose(a, (2, 1, 0)))[..., None]  # (Z, Y, X, 1): coordinates (x, y, z)
    lo, hi = float(zyx.min()), float(zyx.max())
    sp = tuple(float(s) for s in spacing)
    return GridSignal(zyx, "volume", (lo, hi), (sp[2], sp[1], sp[0]), name,
                      {"voxel_size_xyz": list(sp), **info})


# ---- report panels ------------------------------------------------------------------------

def _grey(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.clip((x - lo) / max(hi - lo, 1e-12), 0, 1) * 255 + 0.5).astype(np.uint8)


def _aspect(img: np.ndarray, step_rows: float, step_cols: float) -> np.ndarray:
    """Repeat rows or columns so a slice with anisotropic voxels shows at its physical aspect ratio."""
    r = step_rows / step_cols
    if r > 1.05:
        img = np.repeat(img, int(round(r)), axis=0)
    elif r < 1 / 1.05:
        img = np.repeat(img, int(round(1 / r)), axis=1)
    return img


def views(vol: np.ndarray, spacing_zyx: tuple[float, float, float], lo: float, hi: float) -> dict[str, np.ndarray]:
    """The three orthogonal middle slices and the three maximum-intensity projections of ``vol (Z, Y, X)``,
    as uint8 images at their physical aspect ratio."""
    sz, sy, sx = spacing_zyx
    z, y, x = (n // 2 for n in vol.shape)
    out = {
        "axial (z middle)": _aspect(vol[z], sy, sx),
        "coronal (y middle)": _aspect(vol[:, y][::-1], sz, sx),
        "sagittal (x middle)": _aspect(vol[:, :, x][::-1], sz, sy),
        "MIP along z": _aspect(vol.max(0), sy, sx),
        "MIP along y": _aspect(vol.max(1)[::-1], sz, sx),
        "MIP along x": _aspect(vol.max(2)[::-1], sz, sy),
    }
    return {k: _grey(v, lo, hi) for k, v in out.items()}


def panels(fit) -> list[Panel]:
    from ..report import html as H
    from ..signals.io import write_png

    signal, pred = fit.signal, fit.prediction[..., 0]
    target = signal.values[..., 0]
    lo, hi = signal.value_range
    spacing = signal.spacing or (1.0, 1.0, 1.0)
    tv, pv = views(target, spacing, lo, hi), views(pred, spacing, lo, hi)
    err = views(np.abs(pred - target), spacing, 0.0, 0.1 * (hi - lo))
    rows = []
    for name in tv:
        slug = f"mip-{name[-1]}" if name.startswith("MIP") else name.split(" ")[0]
        write_png(fit.folder / f"target-{slug}.png", tv[name])
        write_png(fit.folder / f"fit-{slug}.png", pv[name])
        rows.append(f"<div class='views'>{H.figure(tv[name], f'target: {name}')}"
                    f"{H.figure(pv[name], f'fit: {name}')}{H.figure(err[name], f'|error|: {name} (0 to 10 % of range)')}</div>")
    z, y, x = signal.shape
    info = H.table(["", ""], [["voxels (x, y, z)", f"{x} x {y} x {z}"],
                              ["voxel size (x, y, z)", " x ".join(f"{s:g}" for s in signal.info.get("voxel_size_xyz", []))],
                              ["coordinate bounds (x, y, z)", ", ".join(f"[{a:.3f}, {b:.3f}]" for a, b in signal.bounds)],
                              ["intensity range", f"{lo:g} to {hi:g}"]])
    return [("Slices and projections", "<p class='note'>Middle slices along each axis and maximum-intensity "
             "projections, target then fit then |error|; grey levels span the volume's intensity range, shown "
             "at the voxels' physical aspect ratio.</p>" + "".join(rows)), ("Volume", info)]


# ---- rendering ----------------------------------------------------------------------------

def parse_slice(text: str, bounds) -> tuple[int, float]:
    """``"z=0.1"`` -> (coordinate index 2, 0.1); the value must lie within the field's bounds on that axis."""
    axis, sep, value = (text or "").partition("=")
    axis = axis.strip().lower()
    if not sep or axis not in ("x", "y", "z"):
        raise InrkitError(f"--slice must be AXIS=VALUE with AXIS x, y or z (e.g. z=0.1), not {text!r}")
    try:
        v = float(value)
    except ValueError:
        raise InrkitError(f"--slice {text!r}: {value!r} is not a number") from None
    c = "xyz".index(axis)
    lo, hi = bounds[c]
    if not (math.isfinite(v) and lo <= v <= hi):
        raise InrkitError(f"--slice {text}: {axis} must lie in the field's bounds [{lo:g}, {hi:g}]")
    return c, v


def slice_coords(c: int, v: float, bounds, size: tuple[int, int]):
    """``(H, W, 3)`` cell-centre coordinates of the plane ``coordinate c = v``: the other two axes in
    order (x, y, z) minus c give the columns (first) and the rows (second)."""
    import torch

    from .. import coords as C

    w, h = size
    others = [k for k in range(3) if k != c]
    plane = C.grid((h, w), (tuple(bounds[others[0]]), tuple(bounds[others[1]])))  # (H, W, 2)
    out = torch.empty(h, w, 3)
    out[..., others[0]], out[..., others[1]] = plane[..., 0], plane[..., 1]
    out[..., c] = v
    return out


def render(field, meta: dict, req: RenderRequest) -> Rendering:
    """A slice ``--slice AXIS=VALUE`` at ``--size W H`` (default: the volume's own sampling of that plane,
    times ``--scale``) as a grey PNG of the values, or of |gradient| / the Laplacian (``--what``)."""
    from ..ops import evaluate
    from ..pixels import to_uint8
    from ..report import plots
    from .io import write_png

    sig = meta.get("signal") or {}
    bounds = [tuple(b) for b in sig["bounds"]]
    c, v = parse_slice(req.slice or "z=0", bounds)
    zyx = sig["shape"]
    xyz = zyx[::-1]
    others = [k for k in range(3) if k != c]
    size = req.size or (xyz[others[0]] * req.scale, xyz[others[1]] * req.scale)
    if size[0] * size[1] > req.max_pixels:
        raise InrkitError(f"render size {size[0]}x{size[1]} is above the limit of {req.max_pixels} pixels "
                          "(--max-pixels)")
    pts = slice_coords(c, v, bounds, size)
    dev = next((p.device for p in field.parameters()), None)
    quantity = {"image": "value", "gradient": "gradient", "laplacian": "laplacian"}[req.what]
    vals = evaluate(field, pts.to(dev) if dev is not None else pts, quantity, chunk=req.chunk).numpy()
    if req.what == "image":
        data = vals[..., 0]
        img = to_uint8(np.clip((data + 1.0) / 2.0, 0.0, 1.0))
        lo, hi = sig["value_range"]
        data = (data + 1.0) * ((hi - lo) / 2.0) + lo
    elif req.what == "gradient":
        data = np.linalg.norm(vals, axis=-1)
        img = _grey(data, 0.0, float(np.percentile(data, 99)) or 1.0)
    else:
        data = vals[..., 0]
        img = plots.laplacian_image(data)
    name = f"{req.what}-{'xyz'[c]}{v:g}-{size[0]}x{size[1]}"
    return Rendering(data.astype(np.float32), name, ".png", lambda p: write_png(p, img),
                     f"{size[0]}x{size[1]} slice {'xyz'[c]}={v:g}, {req.what}")


# ---- presets ------------------------------------------------------------------------------

_HASH = {"arch": "hash", "width": 64, "hidden_layers": 1, "hash": {"levels": 8, "features": 2, "log2_table": 17}}
PRESETS = {  # FieldConfig / TrainConfig fields as plain dicts (signals sit below the configuration layer)
    # SIREN (Sitzmann 2020 sec. 3.2): 3 x 256, omega_0 = 30, Adam 1e-4; random batches of 2^16 voxels.
    "reference": ({"arch": "siren"}, {"steps": 2000, "lr": 1e-4, "batch_size": 65536}),
    "cpu": ({"arch": "siren"}, {"steps": 500, "lr": 1e-4, "batch_size": 8192}),
    # 3-D multiresolution hash grid (Mueller 2022): 8 levels of 2 features, 2^17 entries each (a 3-D table
    # gathers 8 corners per level; on a CPU smaller tables stay in cache: docs/benchmarks.md), cosine decay.
    "fast": (_HASH, {"steps": 1000, "lr": 1e-2, "batch_size": 16384, "schedule": "cosine"}),
    "tiny": ({**_HASH, "hash": {**_HASH["hash"], "levels": 4, "log2_table": 12}},
             {"steps": 150, "lr": 1e-2, "batch_size": 4096, "schedule": "cosine"}),
}


def claims(path: Path) -> bool:
    """A multi-page TIFF is a volume (a single page is an image)."""
    return path.suffix.lower() in (".tif", ".tiff") and path.is_file() and tiff_pages(path) > 1


KIND = Kind("volume", SUFFIXES, load_volume, in_dim=3, presets=PRESETS, panels=panels, render=render, claims=claims,
            describe="volume (NIfTI .nii/.nii.gz, .npy, multi-page TIFF): (x, y, z) -> density")
