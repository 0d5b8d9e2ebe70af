"""The built-in NeRF scene: analytic solids ray-traced by inrkit, written in the Blender layout.

Four coloured solids (a sphere, a rotated box, a torus and a capsule) within the unit cube,
world z up, lit by a directional light with Lambertian shading, a small Blinn-Phong
highlight (so colour depends on the view) and hard shadows, rendered by sphere tracing
their signed distance functions with 2x2 supersampling, on a transparent background.
Deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..report.rundir import RunDir

CAMERA_ANGLE_X = 0.6911112070083618  # the Blender synthetic scenes' horizontal field of view (radians)
LIGHT = np.array([0.5, -0.4, 0.75]) / np.linalg.norm([0.5, -0.4, 0.75])
ALBEDO = np.array([[0.85, 0.22, 0.15], [0.2, 0.7, 0.3], [0.2, 0.35, 0.9], [0.95, 0.78, 0.2]], np.float32)
_C, _S = math.cos(math.radians(30)), math.sin(math.radians(30))


def _sdf(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance ``(N,)`` to the union and the index of the nearest solid ``(N,)``, for ``p (N, 3)``."""
    d_sphere = np.linalg.norm(p - [0.45, -0.35, 0.0], axis=-1) - 0.42
    q = p - [-0.45, -0.3, -0.2]
    q = np.stack([_C * q[:, 0] + _S * q[:, 1], -_S * q[:, 0] + _C * q[:, 1], q[:, 2]], -1)  # rotate 30 deg about z
    e = np.abs(q) - 0.28
    d_box = np.linalg.norm(np.maximum(e, 0), axis=-1) + np.minimum(e.max(-1), 0)
    t = p - [0.05, 0.5, -0.35]
    d_torus = np.sqrt((np.linalg.norm(t[:, :2], axis=-1) - 0.36) ** 2 + t[:, 2] ** 2) - 0.12
    c = p - [-0.55, 0.45, 0.0]
    c[:, 2] -= np.clip(c[:, 2], -0.45, 0.45)
    d_capsule = np.linalg.norm(c, axis=-1) - 0.13
    d = np.stack([d_sphere, d_box, d_torus, d_capsule], -1)
    return d.min(-1), d.argmin(-1)


def _march(o: np.ndarray, d: np.ndarray, t0: np.ndarray, t1: np.ndarray, iters: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Sphere-trace rays ``(N, 3)`` over [t0, t1]: hit flags and distances ``(N,)``."""
    t = t0.copy()
    active = t < t1
    hit = np.zeros(len(o), bool)
    for _ in range(iters):
        idx = np.nonzero(active)[0]
        if len(idx) == 0:
            break
        dist, _ = _sdf(o[idx] + d[idx] * t[idx, None])
        t[idx] += dist
        done = dist < 1e-4
        hit[idx[done]] = True
        active[idx[done | (t[idx] > t1[idx])]] = False
    return hit, t


def _bounds(o: np.ndarray, d: np.ndarray, radius: float = 1.6) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit distances of rays through the sphere of ``radius`` bounding the solids."""
    b = (o * d).sum(-1)
    c = (o * o).sum(-1) - radius**2
    disc = np.maximum(b * b - c, 0)
    return np.maximum(-b - np.sqrt(disc), 0), np.where(b * b - c > 0, -b + np.sqrt(disc), 0)


def _shade(o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """RGBA ``(N, 4)`` seen along rays ``(N, 3)``."""
    t0, t1 = _bounds(o, d)
    hit, t = _march(o, d, t0, t1)
    rgba = np.zeros((len(o), 4), np.float32)
    if not hit.any():
        return rgba
    p = o[hit] + d[hit] * t[hit, None]
    eps = 1e-3
    n = np.stack([_sdf(p + eps * e)[0] - _sdf(p - eps * e)[0] for e in np.eye(3)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-12
    _, which = _sdf(p)
    lam = np.clip(n @ LIGHT, 0, None)
    so = p + n * 2e-3
    sh_hit, _ = _march(so, np.broadcast_to(LIGHT, so.shape).copy(), np.zeros(len(so)), np.full(len(so), 4.0), 64)
    lam = np.where(sh_hit, 0.0, lam)
    h = LIGHT[None] - d[hit]
    h /= np.linalg.norm(h, axis=-1, keepdims=True)
    spec = np.where(sh_hit, 0.0, np.clip((n * h).sum(-1), 0, None) ** 40) * 0.35
    col = ALBEDO[which] * (0.25 + 0.75 * lam)[:, None] + spec[:, None]
    rgba[hit, :3] = np.clip(col, 0, 1)
    rgba[hit, 3] = 1.0
    return rgba


def look_at_np(eye: np.ndarray, target=np.zeros(3), up=np.array([0.0, 0.0, 1.0])) -> np.ndarray:
    back = eye - target
    back = back / np.linalg.norm(back)
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, np.cross(back, right), back, eye
    return m


def render_view(c2w: np.ndarray, size: int, supersample: int = 2) -> np.ndarray:
    """RGBA uint8 ``(size, size, 4)`` of the scene from camera-to-world ``c2w (4, 4)`` (OpenGL axes)."""
    f = 0.5 * size / math.tan(0.5 * CAMERA_ANGLE_X)
    s = supersample
    j, i = np.meshgrid(np.arange(size * s), np.arange(size * s), indexing="ij")
    u, v = (i + 0.5) / s - size / 2, (j + 0.5) / s - size / 2
    d = np.stack([u / f, -v / f, -np.ones_like(u, dtype=float)], -1).reshape(-1, 3) @ c2w[:3, :3].T
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    o = np.broadcast_to(c2w[:3, 3], d.shape).copy()
    rgba = _shade(o, d).reshape(size, s, size, s, 4).mean((1, 3))
    # premultiplied coverage -> straight alpha, as PNGs store it
    a = rgba[..., 3:]
    rgb = np.where(a > 0, rgba[..., :3] / np.maximum(a, 1e-6), 0)
    return (np.concatenate([rgb, a], -1) * 255).round().clip(0, 255).astype(np.uint8)


def camera_poses(n: int, seed: int, radius: float = 4.0, min_elev: float = 5.0, max_elev: float = 80.0) -> np.ndarray:
    """``n`` cameras at random on the upper part of a sphere, looking at the origin: ``(n, 4, 4)``."""
    rng = np.random.default_rng(seed)
    az = rng.uniform(0, 2 * math.pi, n)
    el = np.radians(rng.uniform(min_elev, max_elev, n))
    eyes = radius * np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], -1)
    return np.stack([look_at_np(e) for e in eyes])


def write_scene(out: str | Path, size: int = 100, train: int = 100, val: int = 10, test: int = 20,
                overwrite: bool = False) -> Path:
    """Render the scene and write it in the Blender synthetic layout (``transforms_*.json``, RGBA PNGs)."""
    from PIL import Image

    out = Path(out)
    with RunDir(out, overwrite) as tmp:
        for split, n, seed in (("train", train, 0), ("val", val, 1), ("test", test, 2)):
            (tmp / split).mkdir()
            frames = []
            for k, c2w in enumerate(camera_poses(n, seed)):
                Image.fromarray(render_view(c2w, size), "RGBA").save(tmp / split / f"r_{k}.png")
                frames.append({"file_path": f"./{split}/r_{k}", "transform_matrix": c2w.tolist()})
            (tmp / f"transforms_{split}.json").write_text(json.dumps(
                {"camera_angle_x": CAMERA_ANGLE_X, "frames": frames}, indent=1))
        (tmp / "README.txt").write_text(
            f"inrkit built-in NeRF scene: {train}/{val}/{test} views of {size}x{size}, Blender layout, "
            "RGBA on a transparent background. Made by inrkit.signals.scene.write_scene.\n")
    return out
