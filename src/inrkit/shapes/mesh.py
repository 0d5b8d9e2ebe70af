"""Meshes in and out: marching cubes of any field in bounded chunks, trimesh I/O, surface sampling.

:func:`extract_mesh` is inrkit's one mesh extractor: it evaluates ``fn`` on a ``resolution^3``
grid slab by slab (at most ``chunk`` points per call, so memory is bounded whatever the
resolution) and runs scikit-image's marching cubes (Lorensen and Cline 1987; Lewiner et al. 2003)
on the sampled volume. It serves SDF fields (level 0), occupancy fields (logit 0, probability
1/2) and NeRF densities (a density level, outward normals pointing to lower density).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..errors import InrkitError

MAX_RESOLUTION = 1024
"""Largest marching-cubes grid per axis (1024^3 values: 4 GiB as float32); larger is refused."""
MIN_RESOLUTION = 8
MAX_FACES = 20_000_000
"""Meshes with more faces than this are refused after parsing (trimesh reads the whole file)."""
MAX_FILE_BYTES = 2 << 30
MESH_FORMATS = (".ply", ".obj", ".stl", ".off")
POINT_FORMATS = (".ply", ".xyz")

Bounds3 = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
CUBE: Bounds3 = ((-1.0, 1.0), (-1.0, 1.0), (-1.0, 1.0))


@dataclass
class Mesh:
    """A triangle mesh: ``vertices (V, 3)`` float64, ``faces (F, 3)`` int64 (counter-clockwise seen
    from outside, so face normals point out), optional ``colours (V, 3)`` uint8 RGB per vertex."""

    vertices: np.ndarray
    faces: np.ndarray
    colours: np.ndarray | None = None

    def __post_init__(self):
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, dtype=np.int64).reshape(-1, 3)
        if self.colours is not None:
            self.colours = np.ascontiguousarray(self.colours, dtype=np.uint8).reshape(-1, 3)
            if len(self.colours) != len(self.vertices):
                raise ValueError(f"{len(self.colours)} vertex colours for {len(self.vertices)} vertices")

    def _corners(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        v = self.vertices[self.faces]  # (F, 3 corners, 3)
        return v[:, 0], v[:, 1], v[:, 2]

    def face_areas(self) -> np.ndarray:
        a, b, c = self._corners()
        return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=-1)

    def area(self) -> float:
        return float(self.face_areas().sum())

    def face_normals(self) -> np.ndarray:
        a, b, c = self._corners()
        n = np.cross(b - a, c - a)
        return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-30)

    def vertex_normals(self) -> np.ndarray:
        """Unit outward normals at the vertices: the area-weighted mean of the adjacent faces' normals."""
        return _vertex_normals(self)

    def bounding_box(self) -> tuple[np.ndarray, np.ndarray]:
        return self.vertices.min(0), self.vertices.max(0)

    def diagonal(self) -> float:
        lo, hi = self.bounding_box()
        return float(np.linalg.norm(hi - lo))

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """``n`` points uniformly by area, with their faces' unit normals: ``(n, 3), (n, 3)`` float32.
        Draws from ``generator`` (inverse-CDF face choice, uniform barycentric by the square-root rule,
        Turk 1990)."""
        areas = torch.as_tensor(self.face_areas())
        if not float(areas.sum()) > 0:
            raise InrkitError("the mesh has zero area; nothing to sample")
        face = torch.multinomial(areas / areas.sum(), n, replacement=True, generator=generator).numpy()
        r = torch.rand(n, 2, generator=generator, dtype=torch.float64).numpy()
        s = np.sqrt(r[:, :1])
        w = np.concatenate([1 - s, s * (1 - r[:, 1:]), s * r[:, 1:]], axis=1)  # (n, 3) barycentric
        pts = np.einsum("nk,nkd->nd", w, self.vertices[self.faces[face]])
        return (torch.as_tensor(pts, dtype=torch.float32),
                torch.as_tensor(self.face_normals()[face], dtype=torch.float32))

    def normalised(self, half: float = 0.8) -> tuple["Mesh", np.ndarray, float]:
        """The mesh moved and scaled uniformly so its bounding box is centred and its longest side
        spans ``[-half, half]``; also the centre and scale (``new = (old - centre) * scale``)."""
        lo, hi = self.bounding_box()
        centre = (lo + hi) / 2
        scale = 2 * half / max(float((hi - lo).max()), 1e-12)
        return Mesh((self.vertices - centre) * scale, self.faces), centre, scale

    def is_watertight(self) -> bool:
        """Every edge is shared by exactly two faces, in opposite directions (a closed, oriented surface)."""
        f = self.faces
        edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        key = edges[:, 0] * (len(self.vertices) + 1) + edges[:, 1]
        rev = edges[:, 1] * (len(self.vertices) + 1) + edges[:, 0]
        if len(np.unique(key)) != len(key):
            return False
        return bool(np.isin(rev, key).all())


# ---- marching cubes -------------------------------------------------------------------------

def check_resolution(resolution: int) -> int:
    if not isinstance(resolution, int) or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise InrkitError(f"the marching-cubes resolution must be a whole number from {MIN_RESOLUTION} to "
                          f"{MAX_RESOLUTION} per axis, not {resolution}")
    return resolution


def evaluate_grid(fn: Callable[[Tensor], Tensor], resolution: int, bounds: Bounds3 = CUBE,
                  chunk: int = 65_536, device: torch.device | str = "cpu") -> np.ndarray:
    """``fn`` on the ``resolution^3`` grid of cell corners spanning ``bounds`` (both ends included,
    marching cubes' convention), first channel: ``(R, R, R)`` float32 indexed ``[i_x, i_y, i_z]``.
    Evaluated ``chunk`` points at a time without a graph."""
    check_resolution(resolution)
    axes = [torch.linspace(lo, hi, resolution, dtype=torch.float32) for lo, hi in bounds]
    vol = np.empty((resolution,) * 3, dtype=np.float32)
    yz = torch.stack(torch.meshgrid(axes[1], axes[2], indexing="ij"), -1).reshape(-1, 2)  # (R*R, 2)
    per = max(1, chunk // yz.shape[0])  # x-slabs per call
    with torch.no_grad():
        for i in range(0, resolution, per):
            xs = axes[0][i:i + per]
            pts = torch.cat([xs.repeat_interleave(yz.shape[0])[:, None], yz.repeat(len(xs), 1)], 1)  # (k*R*R, 3)
            out = []
            for j in range(0, pts.shape[0], chunk):
                out.append(fn(pts[j:j + chunk].to(device))[:, :1].float().cpu())
            vol[i:i + len(xs)] = torch.cat(out).reshape(len(xs), resolution, resolution).numpy()
    return vol


def extract_mesh(fn: Callable[[Tensor], Tensor] | None, resolution: int, level: float = 0.0,
                 bounds: Bounds3 = CUBE, chunk: int = 65_536, inside: str = "below",
                 volume: np.ndarray | None = None, device: torch.device | str = "cpu") -> Mesh:
    """Marching cubes of ``fn`` (or of a sampled ``volume`` from :func:`evaluate_grid`) at ``level``.

    ``inside="below"``: values below ``level`` are inside (signed distances, negative inside);
    ``"above"``: values above are inside (occupancy logits, densities). Faces are oriented so their
    normals point outside either way. Raises :class:`InrkitError` when the level set does not cross
    the box (the field is all inside or all outside at this resolution).
    """
    from skimage.measure import marching_cubes

    if inside not in ("below", "above"):
        raise ValueError(f"inside must be below or above, not {inside!r}")
    if volume is None:
        volume = evaluate_grid(fn, resolution, bounds, chunk, device)
    if not np.all(np.isfinite(volume)):
        raise InrkitError("the field has NaN or infinite values on the marching-cubes grid")
    if not (volume.min() < level < volume.max()):
        raise InrkitError(f"the field does not cross the level {level:g} inside the box (values from "
                          f"{float(volume.min()):.3g} to {float(volume.max()):.3g}); no surface to extract")
    r = volume.shape[0]
    spacing = tuple((hi - lo) / (r - 1) for lo, hi in bounds)
    verts, faces, _, _ = marching_cubes(volume, level, spacing=spacing,
                                        gradient_direction="descent" if inside == "below" else "ascent")
    verts = verts + np.array([lo for lo, _ in bounds])
    return Mesh(verts, faces)


def _vertex_normals(mesh: Mesh) -> np.ndarray:
    n = np.zeros_like(mesh.vertices)
    fn = mesh.face_normals() * mesh.face_areas()[:, None]
    for k in range(3):
        np.add.at(n, mesh.faces[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-30)


# ---- files ----------------------------------------------------------------------------------

def _check_file(path: Path, formats: tuple[str, ...], what: str) -> None:
    if not path.exists():
        raise InrkitError(f"no such file: {path}")
    if not path.is_file():
        raise InrkitError(f"{path} is not a regular file")
    if path.suffix.lower() not in formats:
        raise InrkitError(f"{path.name}: a {what} must be one of {', '.join(formats)}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InrkitError(f"{path} is {path.stat().st_size:,} bytes, above the limit of {MAX_FILE_BYTES:,}")
    if path.stat().st_size == 0:
        raise InrkitError(f"{path} is empty")


def _finite(arr: np.ndarray, path: Path, what: str) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise InrkitError(f"{path}: its {what} have NaN or infinite coordinates")
    return arr


def load_mesh(path: str | os.PathLike) -> Mesh:
    """A triangle mesh from PLY, OBJ, STL or OFF (trimesh), checked: it parses, has faces, finite
    vertices and at most :data:`MAX_FACES` faces."""
    import trimesh

    path = Path(path)
    _check_file(path, MESH_FORMATS, "mesh")
    try:
        m = trimesh.load(str(path), force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for damaged files
        raise InrkitError(f"cannot read {path} as a mesh: {type(exc).__name__}: {str(exc)[:120]}") from None
    faces = getattr(m, "faces", None)
    verts = getattr(m, "vertices", None)
    if verts is None or len(verts) == 0:
        try:  # a point cloud loads as one without force="mesh"
            points = len(getattr(trimesh.load(str(path), process=False), "vertices", ()))
        except Exception:
            points = 0
        if points:
            raise InrkitError(f"{path} has {points} points and no faces; a mesh is needed (for a signed "
                              "distance, give the points with normals as .xyz or .ply)")
        raise InrkitError(f"cannot read {path} as a mesh: no vertices or faces found in it")
    if faces is None or len(faces) == 0:
        raise InrkitError(f"{path} has no faces (a point cloud? use it with normals for a signed distance fit)")
    if len(faces) > MAX_FACES:
        raise InrkitError(f"{path} has {len(faces):,} faces, above the limit of {MAX_FACES:,}")
    verts = _finite(np.asarray(verts, dtype=np.float64), path, "vertices")
    faces = np.asarray(faces, dtype=np.int64)
    if faces.min() < 0 or faces.max() >= len(verts):
        raise InrkitError(f"{path}: a face refers to a vertex that does not exist")
    mesh = Mesh(verts, faces)
    if not mesh.area() > 0:
        raise InrkitError(f"{path}: the mesh has zero area")
    return mesh


def load_oriented_points(path: str | os.PathLike, max_points: int = 10_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Points with normals ``(N, 3), (N, 3)`` from ``.xyz`` (six numbers a line: x y z nx ny nz) or a
    PLY whose vertices have ``nx ny nz``. A cloud without normals is refused, saying what is needed."""
    path = Path(path)
    _check_file(path, POINT_FORMATS, "point cloud")
    if path.suffix.lower() == ".xyz":
        try:
            arr = np.loadtxt(path, dtype=np.float64, ndmin=2, max_rows=max_points + 1)
        except ValueError as exc:
            raise InrkitError(f"cannot read {path} as x y z nx ny nz lines: {str(exc)[:120]}") from None
        if arr.shape[0] > max_points:
            raise InrkitError(f"{path} has more than {max_points:,} points")
        if arr.shape[1] == 3:
            raise InrkitError(f"{path} has points without normals; a signed distance fit needs oriented points "
                              "(x y z nx ny nz on each line), or give a mesh")
        if arr.shape[1] != 6:
            raise InrkitError(f"{path}: expected 6 numbers a line (x y z nx ny nz), found {arr.shape[1]}")
        pts, nrm = arr[:, :3], arr[:, 3:]
    else:
        import trimesh

        try:
            pc = trimesh.load(str(path), process=False)
        except Exception as exc:
            raise InrkitError(f"cannot read {path}: {type(exc).__name__}: {str(exc)[:120]}") from None
        raw = (getattr(pc, "metadata", {}) or {}).get("_ply_raw", {}).get("vertex", {}).get("data")
        names = raw.dtype.names if raw is not None else ()
        if not {"nx", "ny", "nz"} <= set(names or ()):
            raise InrkitError(f"{path} has no vertex normals (nx ny nz); a signed distance fit needs oriented "
                              "points, or give a mesh with faces")
        pts = np.stack([raw["x"], raw["y"], raw["z"]], -1).astype(np.float64)
        nrm = np.stack([raw["nx"], raw["ny"], raw["nz"]], -1).astype(np.float64)
        if pts.shape[0] > max_points:
            raise InrkitError(f"{path} has {pts.shape[0]:,} points, above the limit of {max_points:,}")
    if pts.shape[0] < 16:
        raise InrkitError(f"{path} has {pts.shape[0]} points; at least 16 are needed")
    _finite(pts, path, "points")
    _finite(nrm, path, "normals")
    length = np.linalg.norm(nrm, axis=-1, keepdims=True)
    if np.any(length < 1e-12):
        raise InrkitError(f"{path}: some normals are zero vectors")
    return pts, nrm / length


def mesh_bytes(mesh: Mesh, fmt: str) -> bytes:
    """The mesh as PLY (binary) or OBJ bytes (trimesh's writers), with its vertex colours if it has them."""
    import trimesh

    if fmt not in ("ply", "obj"):
        raise InrkitError(f"mesh format must be ply or obj, not {fmt!r}")
    colours = None if mesh.colours is None else np.concatenate([mesh.colours, np.full((len(mesh.colours), 1), 255, np.uint8)], 1)
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, vertex_colors=colours, process=False)
    data = tm.export(file_type=fmt)
    return data.encode() if isinstance(data, str) else bytes(data)


def write_mesh(path: str | os.PathLike, mesh: Mesh) -> None:
    """Write ``mesh`` to ``path`` (``.ply`` or ``.obj``) atomically (a temporary name, then rename)."""
    from ..atomic import write_bytes_atomic

    path = Path(path)
    write_bytes_atomic(path, mesh_bytes(mesh, path.suffix.lower().lstrip(".")))


# ---- inside / outside -----------------------------------------------------------------------

def winding_number(mesh: Mesh, points: Tensor, chunk: int = 4096) -> Tensor:
    """Generalised winding number of a closed triangle mesh at ``points (N, 3)``: ``(N,)``, about 1
    inside and 0 outside (Jacobson, Kavan and Sorkine-Hornung 2013, eq. 6: the sum of the signed solid
    angles of the triangles over 4 pi, each by Van Oosterom and Strackee 1983). ``O(N F)`` work,
    ``chunk`` points at a time."""
    tri = torch.as_tensor(mesh.vertices[mesh.faces], dtype=torch.float64)  # (F, 3, 3)
    out = []
    budget = max(1, (1 << 24) // max(1, tri.shape[0]))  # bounded memory: points x faces per pass
    step = max(1, min(chunk, budget))
    for i in range(0, points.shape[0], step):
        p = points[i:i + step].double()[:, None, None, :]  # (n, 1, 1, 3)
        d = tri[None] - p  # (n, F, 3, 3)
        a, b, c = d[:, :, 0], d[:, :, 1], d[:, :, 2]
        la, lb, lc = a.norm(dim=-1), b.norm(dim=-1), c.norm(dim=-1)
        det = (a * torch.cross(b, c, dim=-1)).sum(-1)
        den = (la * lb * lc + (a * b).sum(-1) * lc + (b * c).sum(-1) * la + (c * a).sum(-1) * lb)
        out.append(torch.atan2(det, den).sum(-1) / (2 * math.pi))
    return torch.cat(out).float()

