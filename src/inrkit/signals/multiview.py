"""Posed images for NeRF: the Blender synthetic layout and the instant-ngp / nerfstudio ``transforms.json``.

* Blender (Mildenhall et al. 2020): ``transforms_{train,val,test}.json``, each with
  ``camera_angle_x`` (horizontal field of view, radians) and ``frames`` of ``file_path``
  (relative, usually without ".png") and a 4x4 camera-to-world ``transform_matrix``.
* instant-ngp / nerfstudio: one ``transforms.json`` with intrinsics ``fl_x``, ``fl_y``,
  ``cx``, ``cy``, ``w``, ``h`` (or ``camera_angle_x``) at the top or per frame. It has no
  splits: every 8th frame (0, 8, 16, ...) is held out as the test (and val) split, the
  convention of the NeRF LLFF experiments. Lens distortion coefficients are not modelled.

Both use OpenGL camera axes (looking down -z, y up). RGBA frames keep their alpha, so the
background can be chosen when compositing; frames without alpha get alpha 1.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InrkitError
from ..limits import MAX_DATASET_PIXELS
from .io import DEFAULT_MAX_PIXELS, _read_file, image_size
from .paths import confined, exists_in

BLENDER_AABB = ((-1.5, -1.5, -1.5), (1.5, 1.5, 1.5))  # the synthetic scenes fit in this box


@dataclass
class PosedImages:
    """``images (N, H, W, 4)`` float32 RGBA in [0, 1]; ``poses (N, 4, 4)`` camera-to-world;
    ``intrinsics (N, 4)`` = fx, fy, cx, cy in pixels; ``aabb (2, 3)`` scene box."""

    images: np.ndarray
    poses: np.ndarray
    intrinsics: np.ndarray
    aabb: np.ndarray
    files: list[str]
    layout: str

    @property
    def height(self) -> int:
        return self.images.shape[1]

    @property
    def width(self) -> int:
        return self.images.shape[2]

    def rays(self, background: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All pixels as rays: ``origins, directions (N, H, W, 3)`` and targets ``(N, H, W, 4)`` RGBA."""
        from ..rendering.rays import camera_rays

        os_, ds = [], []
        for pose, (fx, fy, cx, cy) in zip(self.poses, self.intrinsics):
            o, d = camera_rays(self.height, self.width, fx, fy, cx, cy, torch.as_tensor(pose, dtype=torch.float32))
            os_.append(o)
            ds.append(d)
        return torch.stack(os_), torch.stack(ds), torch.as_tensor(self.images)


def composite_on(rgba: np.ndarray | torch.Tensor, background) -> np.ndarray | torch.Tensor:
    """Straight-alpha RGBA ``(..., 4)`` over a background colour ``(3,)`` -> RGB ``(..., 3)``."""
    a = rgba[..., 3:]
    return rgba[..., :3] * a + (1 - a) * background


def _matrix(frame: dict, where: str) -> np.ndarray:
    try:
        m = np.asarray(frame["transform_matrix"], dtype=np.float64)
    except KeyError:
        raise InrkitError(f"{where} has no transform_matrix") from None
    except (TypeError, ValueError, OverflowError, RecursionError):  # OverflowError: a 400-digit integer
        raise InrkitError(f"{where}: transform_matrix is not a matrix of numbers") from None
    if m.shape == (3, 4):
        m = np.vstack([m, [0, 0, 0, 1]])
    if m.shape != (4, 4):
        raise InrkitError(f"{where}: transform_matrix has shape {m.shape}, expected 4x4")
    if not np.isfinite(m).all():
        raise InrkitError(f"{where}: transform_matrix contains NaN or infinity")
    if np.abs(m).max() > _FLOAT32_MAX:  # poses and rays are float32: 1e300 would become inf
        raise InrkitError(f"{where}: transform_matrix has values too large for float32 (|x| up to "
                          f"{np.abs(m).max():.3g})")
    if abs(np.linalg.det(m[:3, :3])) < 1e-6:  # all zeros or flattened axes: rays without direction
        raise InrkitError(f"{where}: transform_matrix has a singular rotation (zero or degenerate axes)")
    return m


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _number(d: dict, key: str, where: str) -> float:
    """``d[key]`` as a finite float that float32 can hold; JSON strings, booleans, lists or null are refused."""
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise InrkitError(f"{where}: {key} must be a number, not {type(v).__name__} {v!r}"[:200])
    v = float(v) if isinstance(v, float) or abs(v) < 2**1000 else math.inf  # float(10**400) raises OverflowError
    if not math.isfinite(v) or abs(v) > _FLOAT32_MAX:
        raise InrkitError(f"{where}: {key} must be a finite number, not {v}")
    return v


def _frame_path(folder: Path, file_path: object, where: str = "frame") -> Path:
    """The file a frame names, only if it is a regular file inside ``folder`` (:func:`confined`)."""
    if not isinstance(file_path, str):
        raise InrkitError(f"{where}: file_path is not a string")
    name = file_path
    if (not exists_in(folder, name) and Path(name).suffix.lower() not in (".png", ".jpg", ".jpeg", ".exr")
            and exists_in(folder, name + ".png")):
        name = name + ".png"  # the Blender scenes name frames without their extension
    if not exists_in(folder, name):
        raise InrkitError(f"{where}: frame file missing: {folder / file_path}")
    return confined(folder, name, where)


def _read_frame(folder: Path, file_path: object, max_pixels: int, where: str = "frame") -> np.ndarray:
    """One frame as float32 RGBA, read only if ``file_path`` is a regular file inside ``folder``."""
    a = _read_file(_frame_path(folder, file_path, where), max_pixels)
    scale = 65535.0 if a.dtype == np.uint16 else 255.0 if a.dtype == np.uint8 else 1.0
    a = a.astype(np.float32) / scale
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, -1)
    if a.shape[-1] == 2:  # gray + alpha
        a = np.concatenate([np.repeat(a[..., :1], 3, -1), a[..., 1:]], -1)
    if a.shape[-1] == 3:
        a = np.concatenate([a, np.ones_like(a[..., :1])], -1)
    return a[..., :4]


def _downscale(img: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return img
    h, w = img.shape[0] // factor * factor, img.shape[1] // factor * factor
    a = img[:h, :w]
    # average premultiplied colour, so transparent pixels do not bleed their RGB
    pm = np.concatenate([a[..., :3] * a[..., 3:], a[..., 3:]], -1)
    pm = pm.reshape(h // factor, factor, w // factor, factor, 4).mean((1, 3))
    al = pm[..., 3:]
    return np.concatenate([np.where(al > 0, pm[..., :3] / np.maximum(al, 1e-8), 0), al], -1)


def _intrinsics(d: dict, w: int, h: int, where: str) -> tuple[float, float, float, float]:
    def angle(key: str) -> float:  # a field of view in radians, strictly between 0 and pi
        a = _number(d, key, where)
        if not 0 < a < math.pi:
            raise InrkitError(f"{where}: {key} must be a field of view in radians between 0 and pi, not {a}")
        return a

    if "fl_x" in d:
        fx = _number(d, "fl_x", where)
        fy = _number(d, "fl_y", where) if "fl_y" in d else fx
    elif "camera_angle_x" in d:
        fx = 0.5 * w / math.tan(0.5 * angle("camera_angle_x"))
        fy = 0.5 * h / math.tan(0.5 * angle("camera_angle_y")) if "camera_angle_y" in d else fx
    else:
        raise InrkitError(f"{where} gives neither fl_x nor camera_angle_x: the focal length is unknown")
    cx = _number(d, "cx", where) if "cx" in d else w / 2
    cy = _number(d, "cy", where) if "cy" in d else h / 2
    vals = (fx, fy, cx, cy)
    if not all(math.isfinite(v) and abs(v) <= _FLOAT32_MAX for v in vals):
        raise InrkitError(f"{where}: intrinsics {vals} are not finite in float32")
    if not (fx > 0 and fy > 0):
        raise InrkitError(f"{where}: focal lengths must be positive, not fl_x {fx:g}, fl_y {fy:g}")
    return vals


def detect_layout(folder: str | Path) -> str:
    folder = Path(folder)
    if not folder.is_dir():
        raise InrkitError(f"no such folder: {folder}")
    if (folder / "transforms_train.json").is_file():
        return "blender"
    if (folder / "transforms.json").is_file():
        return "ngp"
    raise InrkitError(f"{folder} has neither transforms_train.json (Blender layout) nor transforms.json "
                      "(instant-ngp / nerfstudio)")


MAX_TRANSFORMS_BYTES = 16 << 20
"""``transforms*.json`` above this size are refused before parsing."""


def _load_json(p: Path) -> dict:
    if not p.is_file():
        raise InrkitError(f"missing {p}")
    p = confined(p.parent, p.name, p.name)  # a link out of the dataset folder is refused too
    if p.stat().st_size > MAX_TRANSFORMS_BYTES:  # parsing 99 MB took 33 s
        raise InrkitError(f"{p} is {p.stat().st_size:,} bytes, above the limit of {MAX_TRANSFORMS_BYTES:,} "
                          f"(10,000 frames take about 5 MB)")
    try:
        d = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # ValueError: also a 5,000-digit number
        raise InrkitError(f"{p} is not valid JSON ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(d, dict) or not isinstance(d.get("frames"), list):
        raise InrkitError(f"{p} has no list of frames")
    return d


def load_posed_images(folder: str | Path, split: str = "train", downscale: int = 1, limit: int | None = None,
                      max_pixels: int = DEFAULT_MAX_PIXELS) -> PosedImages:
    """Read one split (``train``, ``val`` or ``test``) of a NeRF dataset folder.

    ``downscale`` divides the resolution by an integer (area averaging; intrinsics follow);
    ``limit`` keeps the first frames only. Missing files, bad matrices, NaN poses, frames of
    different sizes and empty splits raise :class:`InrkitError` with one line, and so does every
    ``file_path`` that is not a regular file inside ``folder`` after following links (``../``,
    absolute paths, links out, devices, FIFOs: see :func:`inrkit.signals.paths.confined`).
    """
    folder = Path(folder)
    if split not in ("train", "val", "test"):
        raise InrkitError(f"split must be train, val or test, not {split!r}")
    if downscale < 1:
        raise InrkitError("downscale must be at least 1")
    layout = detect_layout(folder)
    if layout == "blender":
        path = folder / f"transforms_{split}.json"
        meta = _load_json(path)
        frames = meta["frames"]
    else:
        path = folder / "transforms.json"
        meta = _load_json(path)
        every = 8
        frames = [f for k, f in enumerate(meta["frames"]) if (k % every == 0) == (split != "train")]
        if any(_number(meta, k, path.name) != 0 for k in ("k1", "k2", "p1", "p2", "k3") if meta.get(k) is not None):
            warnings.warn(f"{path.name} has lens distortion coefficients; inrkit's pinhole model ignores them",
                          stacklevel=2)
    if limit is not None:
        frames = frames[:limit]
    if not frames:
        raise InrkitError(f"split {split!r} of {folder} has no frames")
    images, poses, intr, files = [], [], [], []
    for k, fr in enumerate(frames):
        where = f"{path.name} frame {k}"
        if not isinstance(fr, dict) or "file_path" not in fr:
            raise InrkitError(f"{where} has no file_path")
        poses.append(_matrix(fr, where))
        header = image_size(_frame_path(folder, fr["file_path"], where), max_pixels)  # nothing decoded yet
        if images and header != first_header:
            raise InrkitError(f"{where} ({fr['file_path']}) is {header[0]}x{header[1]}, the first frame "
                              f"{first_header[0]}x{first_header[1]}: frames must share one size")
        w, h = first_header = header
        if not images and len(frames) * w * h > MAX_DATASET_PIXELS.value():
            raise InrkitError(f"{path.name}: {len(frames)} frames of {w}x{h} are {len(frames) * w * h:,} pixels, above "
                              f"the limit of {MAX_DATASET_PIXELS.value():,} (INRKIT_MAX_DATASET_PIXELS; or downscale, "
                              f"fewer views)")
        img = _read_frame(folder, fr["file_path"], max_pixels, where)
        if images and img.shape != images[0].shape:  # a frame whose header and pixels disagree
            raise InrkitError(f"{where} ({fr['file_path']}) decodes to {img.shape[1]}x{img.shape[0]}, the first frame "
                              f"{images[0].shape[1]}x{images[0].shape[0]}: frames must share one size")
        h, w = img.shape[:2]
        fx, fy, cx, cy = _intrinsics({**meta, **fr}, w, h, where)
        images.append(img)
        files.append(str(fr["file_path"]))
        intr.append((fx / downscale, fy / downscale, cx / downscale, cy / downscale))
    images = [_downscale(im, downscale) for im in images]
    poses_a = np.stack(poses).astype(np.float32)
    if layout == "blender":
        aabb = np.array(BLENDER_AABB, np.float32)
    elif "aabb" in meta:
        aabb = _aabb(meta["aabb"], path.name)
    else:
        aabb = _aabb_from_cameras(np.stack(poses))
    return PosedImages(np.stack(images).astype(np.float32), poses_a, np.asarray(intr, np.float32), aabb, files,
                       layout)


def _aabb(value: object, where: str) -> np.ndarray:
    """A scene box ``[[x0, y0, z0], [x1, y1, z1]]`` of finite float32 numbers, low corner below the high one."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError, RecursionError):
        a = None
    if a is None or a.shape != (2, 3) or not np.isfinite(a).all() or np.abs(a).max() > _FLOAT32_MAX or \
            not (a[0] < a[1]).all():
        raise InrkitError(f"{where}: aabb must be [[x0, y0, z0], [x1, y1, z1]] of finite numbers with x0 < x1, ..."
                          f", not {str(value)[:80]}")
    return a.astype(np.float32)


def _aabb_from_cameras(poses: np.ndarray) -> np.ndarray:
    """A cube around the point closest to every camera's optical axis, half as wide as the
    mean camera distance from it (cameras looking inwards at an object)."""
    o, d = poses[:, :3, 3], -poses[:, :3, 2]
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    A = np.zeros((3, 3))
    b = np.zeros(3)
    for oi, di in zip(o, d):
        P = np.eye(3) - np.outer(di, di)
        A += P
        b += P @ oi
    c = np.linalg.lstsq(A, b, rcond=None)[0]
    r = 0.5 * float(np.linalg.norm(o - c, axis=-1).mean())
    return np.stack([c - r, c + r]).astype(np.float32)
