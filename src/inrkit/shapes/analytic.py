"""Built-in analytic shapes as signed distances (negative inside), in inrkit's box [-1, 1]^3.

- ``sphere``: radius 0.6, exact;
- ``torus``: major radius 0.5, minor 0.2, around the z axis, exact (Hart 1996, "Sphere tracing");
- ``csg``: the classic CSG example, (box of half-side 0.5 intersected with a sphere of radius 0.65)
  minus three orthogonal cylinders of radius 0.25. Intersection, union and difference by max / min
  (Ricci 1973): the sign is exact, the magnitude a lower bound of the distance near the cuts.

Each shape also gives its reference mesh (marching cubes of the analytic function, 128^3 by
default) and points with normals on its surface (area-weighted on that mesh, normals from the
analytic gradient), so tests and benchmarks need no file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from ..errors import InrkitError


def sphere(x: Tensor, radius: float = 0.6) -> Tensor:
    return x.norm(dim=-1, keepdim=True) - radius


def torus(x: Tensor, major: float = 0.5, minor: float = 0.2) -> Tensor:
    q = torch.stack([x[..., :2].norm(dim=-1) - major, x[..., 2]], -1)
    return q.norm(dim=-1, keepdim=True) - minor


def box(x: Tensor, half: float) -> Tensor:
    q = x.abs() - half
    outside = q.clamp_min(0).norm(dim=-1, keepdim=True)
    inside = q.max(dim=-1, keepdim=True).values.clamp_max(0)
    return outside + inside


def cylinder(x: Tensor, axis: int, radius: float) -> Tensor:
    """Infinite cylinder along coordinate ``axis``."""
    keep = [i for i in range(3) if i != axis]
    return x[..., keep].norm(dim=-1, keepdim=True) - radius


def csg(x: Tensor) -> Tensor:
    solid = torch.maximum(box(x, 0.5), sphere(x, 0.65))
    holes = torch.minimum(torch.minimum(cylinder(x, 0, 0.25), cylinder(x, 1, 0.25)), cylinder(x, 2, 0.25))
    return torch.maximum(solid, -holes)


@dataclass(frozen=True)
class AnalyticShape:
    name: str
    sdf: Callable[[Tensor], Tensor]  # (N, 3) -> (N, 1), negative inside
    exact: bool  # the magnitude is the true distance everywhere

    def reference_mesh(self, resolution: int = 128):
        """Marching cubes of the analytic function (computed once per resolution, then shared)."""
        return _reference_mesh(self.name, resolution)

    def surface_points(self, n: int, generator: torch.Generator | None = None, resolution: int = 128,
                       ) -> tuple[Tensor, Tensor]:
        """``n`` points on the surface, area-weighted on the reference mesh and projected onto the
        zero set by one Newton step, with unit normals from the analytic gradient: ``(n, 3), (n, 3)``."""
        pts, _ = self.reference_mesh(resolution).sample(n, generator)
        x = pts.detach().requires_grad_(True)
        f = self.sdf(x)
        g = torch.autograd.grad(f.sum(), x)[0]
        with torch.no_grad():
            x = x - f * g / (g.norm(dim=-1, keepdim=True) ** 2).clamp_min(1e-12)
        x = x.detach().requires_grad_(True)
        g = torch.autograd.grad(self.sdf(x).sum(), x)[0]
        return x.detach(), torch.nn.functional.normalize(g, dim=-1)


SHAPES = {"sphere": AnalyticShape("sphere", sphere, True), "torus": AnalyticShape("torus", torus, True),
          "csg": AnalyticShape("csg", csg, False)}


@functools.lru_cache(maxsize=8)
def _reference_mesh(name: str, resolution: int):
    from .mesh import extract_mesh

    return extract_mesh(SHAPES[name].sdf, resolution, level=0.0)


def analytic_shape(name: str) -> AnalyticShape:
    if name not in SHAPES:
        raise InrkitError(f"unknown built-in shape {name!r}; choose one of {', '.join(SHAPES)} or give a mesh file")
    return SHAPES[name]
