"""Pinhole cameras and rays, in the OpenGL / Blender convention NeRF datasets use.

A camera-to-world matrix ``c2w (4, 4)`` has the camera's right, up and backward axes as its
first three columns and its centre as the fourth: the camera looks down its -z axis, y up.
Pixel (i, j) (column, row) of a W x H image with focal lengths (fx, fy) and principal point
(cx, cy) is seen along  d_cam = ((i + 0.5 - cx) / fx, -(j + 0.5 - cy) / fy, -1).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def camera_rays(height: int, width: int, fx: float, fy: float, cx: float, cy: float, c2w: Tensor
                ) -> tuple[Tensor, Tensor]:
    """Rays through every pixel centre: ``origins, directions (H, W, 3)``, directions unit length."""
    dev, dt = c2w.device, c2w.dtype
    j, i = torch.meshgrid(torch.arange(height, device=dev, dtype=dt), torch.arange(width, device=dev, dtype=dt),
                          indexing="ij")  # (H, W): row j, column i
    d_cam = torch.stack([(i + 0.5 - cx) / fx, -(j + 0.5 - cy) / fy, -torch.ones_like(i)], dim=-1)  # (H, W, 3)
    d = d_cam @ c2w[:3, :3].T
    d = d / d.norm(dim=-1, keepdim=True)
    return c2w[:3, 3].expand_as(d), d


def intersect_aabb(origins: Tensor, directions: Tensor, aabb: Tensor, near: float = 0.0
                   ) -> tuple[Tensor, Tensor, Tensor]:
    """Slab test of rays ``(R, 3)`` against the box ``aabb (2, 3)`` (min corner, max corner).

    Returns ``t_near, t_far (R,)`` (t_near >= ``near``) and ``hit (R,)``; where there is no
    hit, t_near = t_far.
    """
    inv = 1.0 / torch.where(directions.abs() < 1e-12, torch.full_like(directions, 1e-12), directions)
    t0 = (aabb[0] - origins) * inv
    t1 = (aabb[1] - origins) * inv
    t_near = torch.minimum(t0, t1).amax(-1).clamp_min(near)
    t_far = torch.maximum(t0, t1).amin(-1)
    hit = t_far > t_near
    t_far = torch.where(hit, t_far, t_near)
    return t_near, t_far, hit


def look_at(eye: Tensor, target: Tensor, up: Tensor) -> Tensor:
    """OpenGL camera-to-world matrix ``(4, 4)`` at ``eye`` looking at ``target``."""
    back = eye - target
    back = back / back.norm()
    right = torch.linalg.cross(up, back)
    if right.norm() < 1e-8:  # looking straight along up: pick any right vector
        right = torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0], dtype=eye.dtype), back)
    right = right / right.norm()
    cam_up = torch.linalg.cross(back, right)
    m = torch.eye(4, dtype=eye.dtype)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, cam_up, back, eye
    return m


def orbit_poses(n: int, radius: float, elevation_deg: float, center=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0),
                start_deg: float = 0.0) -> Tensor:
    """``n`` cameras evenly spaced on a circle around ``center`` (world z up), all looking at it: ``(n, 4, 4)``."""
    c, u = torch.tensor(center, dtype=torch.float64), torch.tensor(up, dtype=torch.float64)
    el = math.radians(elevation_deg)
    poses = []
    for k in range(n):
        az = math.radians(start_deg) + 2 * math.pi * k / n
        eye = c + radius * torch.tensor([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)],
                                        dtype=torch.float64)
        poses.append(look_at(eye, c, u))
    return torch.stack(poses).float()
