"""Cameras, rays, samplers and volume rendering as pure functions (NeRF, Mildenhall et al. 2020)."""

from .rays import camera_rays, intersect_aabb, look_at, orbit_poses
from .volume import alphas_from_density, composite, render_weights, transmittance

__all__ = ["camera_rays", "intersect_aabb", "look_at", "orbit_poses", "alphas_from_density", "transmittance",
           "render_weights", "composite"]
