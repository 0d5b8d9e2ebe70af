"""Occupancy grid: skip empty space when sampling rays (Mueller et al. 2022, sec. 5.4; nerfacc).

A ``resolution^3`` grid over the scene box holds a running estimate of the density in each
cell, refreshed every few steps by evaluating the field at a random point in every cell:
d <- max(decay * d, sigma(x)). A cell is occupied when its estimate exceeds
min(threshold, mean estimate). Samples in empty cells are dropped before the network runs,
so the cost per ray follows the occupied length, not the box.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn


class OccupancyGrid(nn.Module):
    def __init__(self, aabb: Tensor, resolution: int = 64, decay: float = 0.95, threshold: float = 0.01):
        super().__init__()
        self.resolution, self.decay, self.threshold = int(resolution), float(decay), float(threshold)
        self.register_buffer("aabb", aabb.clone().float())
        self.register_buffer("density", torch.full((resolution,) * 3, float("inf")))  # inf: not yet seen
        self.register_buffer("occupied", torch.ones((resolution,) * 3, dtype=torch.bool))
        self.register_buffer("hull", torch.ones((resolution,) * 3, dtype=torch.bool))  # from carve()

    def cell_centres(self) -> Tensor:
        r = self.resolution
        ijk = torch.stack(torch.meshgrid(*(torch.arange(r, device=self.aabb.device),) * 3, indexing="ij"), -1)
        return self.aabb[0] + (ijk.reshape(-1, 3) + 0.5) / r * (self.aabb[1] - self.aabb[0])  # (r^3, 3)

    @torch.no_grad()
    def carve(self, alphas: Tensor, poses: Tensor, intrinsics: Tensor, threshold: float = 0.01) -> float:
        """Space carving from silhouettes (a visual hull, Laurentini 1994): a cell is empty when,
        in any view, every pixel its bounding sphere may cover is transparent.

        ``alphas (V, H, W)`` in [0, 1], ``poses (V, 4, 4)`` camera-to-world (OpenGL axes),
        ``intrinsics (V, 4)`` fx, fy, cx, cy. Conservative: the cell's projected radius
        (plus one pixel) is covered with a max filter of the alpha map. Returns the fraction
        of cells left. Used only for frames with transparency, where it is exact geometry
        rather than a guess; it removes empty space before the first step.
        """
        import torch.nn.functional as F

        centres = self.cell_centres()
        half_diag = 0.5 * float(((self.aabb[1] - self.aabb[0]) / self.resolution).norm())
        keep = torch.ones(len(centres), dtype=torch.bool, device=centres.device)
        for a, c2w, (fx, fy, cx, cy) in zip(alphas, poses, intrinsics):
            h, w = a.shape
            p = (centres - c2w[:3, 3]) @ c2w[:3, :3]  # camera coordinates, (n, 3)
            z = -p[:, 2]
            front = z > 1e-3
            zc = z.clamp_min(1e-3)
            u, v = fx * p[:, 0] / zc + cx, -fy * p[:, 1] / zc + cy
            rad = (fx * half_diag / zc).ceil().long() + 1  # projected radius in pixels
            # dilate the alpha map by the largest radius seen, bounded for cost
            k = int(min(int(rad[front].max()) if front.any() else 1, 16))
            dil = F.max_pool2d(a[None, None], 2 * k + 1, stride=1, padding=k)[0, 0]
            inside = front & (u >= 0) & (u < w) & (v >= 0) & (v < h)
            ui, vi = u.long().clamp(0, w - 1), v.long().clamp(0, h - 1)
            empty = inside & (dil[vi, ui] < threshold)
            keep &= ~empty
        self.hull.copy_(keep.reshape(self.hull.shape))
        self.occupied &= self.hull
        return float(keep.float().mean())

    def cell_index(self, points: Tensor) -> Tensor:
        """Points ``(N, 3)`` -> flat cell indices ``(N,)`` (clamped into the grid)."""
        u = (points - self.aabb[0]) / (self.aabb[1] - self.aabb[0])
        ijk = (u * self.resolution).long().clamp(0, self.resolution - 1)
        return (ijk[:, 0] * self.resolution + ijk[:, 1]) * self.resolution + ijk[:, 2]

    def query(self, points: Tensor) -> Tensor:
        """Whether each point ``(N, 3)`` lies in an occupied cell (outside the box: False)."""
        inside = ((points >= self.aabb[0]) & (points <= self.aabb[1])).all(-1)
        return self.occupied.flatten()[self.cell_index(points)] & inside

    @torch.no_grad()
    def update(self, density_fn: Callable[[Tensor], Tensor], generator: torch.Generator | None = None,
               chunk: int = 65536) -> float:
        """Refresh every cell from ``density_fn(points (N, 3)) -> (N,)``; returns the occupied fraction."""
        r = self.resolution
        dev = self.aabb.device
        cells = torch.nonzero(self.hull.flatten()).flatten()  # carved-away cells stay empty: skip them
        ijk = torch.stack([cells // (r * r), (cells // r) % r, cells % r], -1)
        u = (ijk + torch.rand(ijk.shape, generator=generator).to(dev)) / r  # one random point per cell
        pts = self.aabb[0] + u * (self.aabb[1] - self.aabb[0])
        vals = torch.cat([density_fn(pts[i:i + chunk]).float() for i in range(0, len(pts), chunk)]) if len(pts) \
            else torch.zeros(0, device=dev)
        new = torch.zeros(r ** 3, device=dev).index_put_((cells,), vals).reshape(r, r, r)
        old = torch.where(torch.isinf(self.density), torch.zeros_like(new), self.density)
        self.density.copy_(torch.maximum(old * self.decay, new))
        self.occupied.copy_((self.density > min(self.threshold, float(self.density.mean()))) & self.hull)
        return float(self.occupied.float().mean())

    def spec(self) -> dict:
        return {"resolution": self.resolution, "decay": self.decay, "threshold": self.threshold}
