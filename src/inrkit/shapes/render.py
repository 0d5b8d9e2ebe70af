"""Software renders for reports: shaded orthographic views of a sampled volume, and SDF slices.

The volume is the grid the mesh was extracted from (:func:`inrkit.shapes.mesh.evaluate_grid`), so
a render costs no further evaluation of the field. Along each pixel's ray (a grid line parallel to
a coordinate axis) the first crossing of ``level`` is found and refined linearly between the two
samples; the pixel is shaded by Lambert's law with the normal from the volume's central differences
(headlight plus a fixed key light). Three views: along -z (top), -y (front) and -x (side).
"""

from __future__ import annotations

import numpy as np

VIEWS = {"top (looking down z)": 2, "front (looking along y)": 1, "side (looking along x)": 0}


def shade(volume: np.ndarray, axis: int, level: float = 0.0, inside: str = "below") -> np.ndarray:
    """An ``(R, R)`` uint8 grey render of ``volume`` seen along ``axis`` from its high end."""
    v = np.moveaxis(volume, axis, -1)[..., ::-1]  # rays run along the last axis, from the high end
    inside_mask = v < level if inside == "below" else v > level
    hit = inside_mask.any(-1)
    k = np.argmax(inside_mask, axis=-1)  # first inside sample
    a = np.take_along_axis(v, np.clip(k - 1, 0, None)[..., None], -1)[..., 0]
    b = np.take_along_axis(v, k[..., None], -1)[..., 0]
    frac = np.where(np.abs(b - a) > 1e-12, (level - a) / np.where(np.abs(b - a) > 1e-12, b - a, 1), 0.0)
    depth = np.clip(k - 1 + np.clip(frac, 0, 1), 0, None)
    g = np.stack(np.gradient(volume.astype(np.float64)), -1)  # (R, R, R, 3)
    g = np.moveaxis(g, axis, -2)[..., ::-1, :]  # align with v
    n = np.take_along_axis(g, k[..., None, None], -2)[..., 0, :]  # (R, R, 3)
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    if inside == "above":
        n = -n
    view = np.zeros(3)
    view[axis] = 1.0  # towards the viewer (the high end)
    key = view + np.array([0.4, 0.3, 0.5])
    key /= np.linalg.norm(key)
    light = 0.25 + 0.45 * np.clip(n @ view, 0, 1) + 0.3 * np.clip(n @ key, 0, 1)
    r = volume.shape[axis]
    fog = 1.0 - 0.35 * depth / max(r - 1, 1)
    img = np.where(hit, light * fog, 1.0)
    img = np.clip(img, 0, 1)
    # rows: the remaining axes in order; show the second remaining axis upward
    return (np.flipud(img.T) * 255).round().astype(np.uint8)


def sdf_slice(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """An RGB uint8 picture of a 2-D slice of an SDF: blue inside, red outside, iso-lines every
    tenth of ``scale`` and the zero level set in black."""
    s = scale or max(float(np.abs(values).max()), 1e-12)
    t = np.clip(values / s, -1, 1)
    rgb = np.ones(values.shape + (3,))
    rgb[..., 0] = np.where(t < 0, 1 + t, 1.0)
    rgb[..., 1] = 1 - np.abs(t)
    rgb[..., 2] = np.where(t > 0, 1 - t, 1.0)
    bands = 0.85 + 0.15 * (np.abs(np.sin(np.pi * 10 * t)) > 0.15)
    rgb *= bands[..., None]
    zero = np.zeros(values.shape, dtype=bool)
    sgn = values > 0
    zero[:-1] |= sgn[:-1] != sgn[1:]
    zero[:, :-1] |= sgn[:, :-1] != sgn[:, 1:]
    rgb[zero] = 0.0
    return (np.flipud(rgb) * 255).round().astype(np.uint8)
