"""3-D shapes as signals: oriented points for signed distances, labelled points for occupancy.

A :class:`ShapeSource` is what the user gave, normalised into inrkit's box: a built-in analytic
shape (:mod:`inrkit.shapes.analytic`), a mesh (PLY, OBJ, STL, OFF via trimesh) or an oriented point
cloud (PLY with normals, XYZ with six columns). Meshes and clouds are moved and scaled uniformly so
their bounding box is centred with its longest side spanning [-0.8, 0.8] (the margin keeps the
surface away from the box where the free-space samples stop); metrics are fractions of the
bounding-box diagonal, which this scaling does not change.

Samplers (callables ``generator -> Batch`` for :func:`inrkit.train.fit`):

- :class:`SDFSampler`: each step ``surface`` random points of the cloud with their normals and
  ``space`` fresh uniform points of the box (Sitzmann et al. 2020, sec. 4.2, draws them 1:1);
- :class:`OccupancySampler`: each step fresh points, half uniform in the box and half near the
  surface (a surface sample plus Gaussian noise of std ``sigma``), labelled inside / outside by the
  analytic shape, or drawn from a pool labelled once by the winding number for meshes (labelling
  by winding number costs points x faces, too much to repeat every step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from ..batch import Batch
from ..errors import InrkitError
from ..shapes.analytic import SHAPES, AnalyticShape, analytic_shape
from ..shapes.mesh import MESH_FORMATS, Mesh, load_mesh, load_oriented_points, winding_number

HALF = 0.8
"""Normalised shapes span [-HALF, HALF] along their longest side."""


@dataclass
class ShapeSource:
    """A shape in inrkit's box: ``points, normals (N, 3)`` on its surface; ``mesh`` when known (a mesh
    file, or the reference mesh of an analytic shape); ``sdf`` for analytic shapes; ``watertight``."""

    name: str
    points: Tensor
    normals: Tensor
    mesh: Mesh | None = None
    sdf: Callable[[Tensor], Tensor] | None = None
    info: dict = field(default_factory=dict)

    @property
    def watertight(self) -> bool:
        return self.sdf is not None or (self.mesh is not None and self.mesh.is_watertight())

    def inside(self, x: Tensor) -> Tensor:
        """``(N, 1)`` 1.0 inside, 0.0 outside: the analytic sign, or the winding number above 1/2."""
        if self.sdf is not None:
            return (self.sdf(x) < 0).float()
        if self.mesh is None or not self.mesh.is_watertight():
            raise InrkitError(f"{self.name}: inside and outside need a watertight mesh (every edge shared by "
                              "two faces); repair it (e.g. with pymeshfix or MeshLab) or fit a signed distance "
                              "from its points")
        return (winding_number(self.mesh, x) > 0.5).float()[:, None]

    def meta(self) -> dict:
        return {"kind": "shape", "name": self.name, "points": int(self.points.shape[0]), **self.info}


def load_shape(source: str, points: int = 100_000, seed: int = 0) -> ShapeSource:
    """A built-in shape name, a mesh file or an oriented point cloud, normalised (see the module)."""
    g = torch.Generator().manual_seed(seed)
    path = Path(source)
    if source in SHAPES and not path.exists():
        s: AnalyticShape = analytic_shape(source)
        pts, nrm = s.surface_points(points, g)
        return ShapeSource(source, pts, nrm, s.reference_mesh(), s.sdf, {"source": f"built-in {source}"})
    if not path.exists():
        raise InrkitError(f"no such file or built-in shape: {source!r} (built-in: {', '.join(SHAPES)})")
    suffix = path.suffix.lower()
    if suffix == ".xyz" or (suffix == ".ply" and _ply_has_no_faces(path)):
        pts, nrm = load_oriented_points(path)
        lo, hi = pts.min(0), pts.max(0)
        centre, scale = (lo + hi) / 2, 2 * HALF / max(float((hi - lo).max()), 1e-12)
        return ShapeSource(path.stem, torch.as_tensor((pts - centre) * scale, dtype=torch.float32),
                           torch.as_tensor(nrm, dtype=torch.float32), None, None,
                           {"source": str(path), "scale": scale, "centre": centre.tolist()})
    if suffix not in MESH_FORMATS:
        raise InrkitError(f"{path.name}: give a mesh ({', '.join(MESH_FORMATS)}), an oriented point cloud "
                          "(.ply with normals, .xyz) or a built-in shape")
    mesh, centre, scale = load_mesh(path).normalised(HALF)
    pts, nrm = mesh.sample(points, g)
    return ShapeSource(path.stem, pts, nrm, mesh, None,
                       {"source": str(path), "faces": int(len(mesh.faces)), "scale": scale,
                        "centre": centre.tolist(), "watertight": mesh.is_watertight()})


def _ply_has_no_faces(path: Path) -> bool:
    """True when a PLY header declares no faces (a point cloud); False if it cannot tell."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    end = head.find(b"end_header")
    if not head.startswith(b"ply") or end < 0:
        return False
    for line in head[:end].splitlines():
        parts = line.split()
        if parts[:2] == [b"element", b"face"]:
            return len(parts) > 2 and parts[2] == b"0"
    return True


class SDFSampler:
    """``surface`` random cloud points (with normals, ``on_surface`` 1) and ``space`` uniform points of
    [-1, 1]^3 (``on_surface`` 0, normals 0) per step."""

    def __init__(self, source: ShapeSource, surface: int = 4096, space: int = 4096, device=None):
        self.pts, self.nrm = source.points, source.normals
        self.surface, self.space, self.device = surface, space, device

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        i = torch.randint(0, self.pts.shape[0], (self.surface,), generator=generator)
        free = torch.rand(self.space, 3, generator=generator) * 2 - 1
        coords = torch.cat([self.pts[i], free])
        normals = torch.cat([self.nrm[i], torch.zeros(self.space, 3)])
        on = torch.cat([torch.ones(self.surface, 1), torch.zeros(self.space, 1)])
        d = self.device
        return Batch(coords.to(d), None, {"normals": normals.to(d), "on_surface": on.to(d)})


def _occupancy_points(source: ShapeSource, n: int, sigma: float, generator: torch.Generator | None) -> Tensor:
    half = n // 2
    uniform = torch.rand(n - half, 3, generator=generator) * 2 - 1
    i = torch.randint(0, source.points.shape[0], (half,), generator=generator)
    near = source.points[i] + sigma * torch.randn(half, 3, generator=generator)
    return torch.cat([uniform, near.clamp(-1, 1)])


class OccupancySampler:
    """``batch`` labelled points per step, half uniform and half near the surface (std ``sigma``).
    Analytic shapes label fresh points each step; meshes draw from a pool of ``pool`` points labelled
    once by the winding number."""

    def __init__(self, source: ShapeSource, batch: int = 8192, sigma: float = 0.02, pool: int = 200_000,
                 seed: int = 0, device=None):
        if not source.watertight:
            source.inside(torch.zeros(1, 3))  # raises the watertight message
        self.source, self.batch, self.sigma, self.device = source, batch, sigma, device
        self.pool = None
        if source.sdf is None:
            g = torch.Generator().manual_seed(seed + 7)
            x = _occupancy_points(source, pool, sigma, g)
            self.pool = (x, source.inside(x))

    def __call__(self, generator: torch.Generator | None = None) -> Batch:
        if self.pool is None:
            x = _occupancy_points(self.source, self.batch, self.sigma, generator)
            y = self.source.inside(x)
        else:
            i = torch.randint(0, self.pool[0].shape[0], (self.batch,), generator=generator)
            x, y = self.pool[0][i], self.pool[1][i]
        return Batch(x.to(self.device), y.to(self.device))


def volumetric_iou(predict_inside: Callable[[Tensor], Tensor], source: ShapeSource, n: int = 100_000,
                   seed: int = 1) -> float:
    """IoU of the predicted and true insides on ``n`` uniform points of [-1, 1]^3 (held out: a seed
    the training never uses), as Mescheder et al. 2019 (sec. 4) measure it."""
    g = torch.Generator().manual_seed(10_000 + seed)
    x = torch.rand(n, 3, generator=g) * 2 - 1
    truth = source.inside(x)[:, 0] > 0.5
    with torch.no_grad():
        pred = torch.cat([predict_inside(x[i:i + 65536])[:, 0] for i in range(0, n, 65536)]) > 0.5
    union = (truth | pred).sum().item()
    return float((truth & pred).sum().item() / union) if union else 1.0


__all__ = ["ShapeSource", "load_shape", "SDFSampler", "OccupancySampler", "volumetric_iou", "HALF"]

