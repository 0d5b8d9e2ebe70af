"""A NeRF model (fields + sampling settings) and its ray renderer.

Two recipes share one renderer:

* ``vanilla`` (Mildenhall et al. 2020, sec. 5.2): a coarse and a fine
  :class:`VanillaRadianceField`; ``samples`` stratified samples through the coarse field,
  ``importance`` more drawn from its weights, and the fine field evaluated at all of them.
  Both passes are supervised.
* ``fast`` (Mueller et al. 2022): one :class:`HashRadianceField`, ``samples`` stratified
  samples across the scene box, and an :class:`OccupancyGrid` that drops samples in empty
  cells before the network runs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..fields.radiance import HashRadianceField, RadianceField, VanillaRadianceField
from ..fields.registry import register_field
from . import samplers as SM
from .occupancy import OccupancyGrid
from .rays import intersect_aabb
from .volume import composite, render_weights


@register_field("nerf")
class NeRFModel(nn.Module):
    def __init__(self, recipe: str, aabb: Tensor, samples: int, importance: int = 0, near: float = 0.0,
                 field_args: dict | None = None, occupancy_resolution: int = 64,
                 generator: torch.Generator | None = None):
        super().__init__()
        if recipe not in ("vanilla", "fast"):
            raise ValueError(f"unknown NeRF recipe {recipe!r}")
        self.recipe, self.samples, self.importance, self.near = recipe, int(samples), int(importance), float(near)
        self.field_args = dict(field_args or {})
        self.register_buffer("aabb", aabb.clone().float())
        self.fine: RadianceField | None = None
        self.occupancy: OccupancyGrid | None = None
        if recipe == "vanilla":
            self.coarse: RadianceField = VanillaRadianceField(aabb, generator=generator, **self.field_args)
            if importance > 0:
                self.fine = VanillaRadianceField(aabb, generator=generator, **self.field_args)
        else:
            self.coarse = HashRadianceField(aabb, generator=generator, **self.field_args)
            if occupancy_resolution > 0:
                # a cell is empty when a sample in it would be less than 1% opaque
                step = float((aabb[1] - aabb[0]).norm()) / samples
                self.occupancy = OccupancyGrid(aabb, occupancy_resolution, threshold=0.01 / step)
        self.occupancy_resolution = occupancy_resolution

    def spec(self) -> dict:
        return {"type": "nerf", "recipe": self.recipe, "aabb": self.aabb.tolist(), "samples": self.samples,
                "importance": self.importance, "near": self.near, "field_args": self.field_args,
                "occupancy_resolution": self.occupancy_resolution}

    @classmethod
    def from_spec(cls, spec: dict) -> "NeRFModel":
        """Rebuild from ``spec()`` with fresh parameters (a checkpoint then fills them)."""
        return cls(spec["recipe"], torch.tensor(spec["aabb"], dtype=torch.float32), spec["samples"],
                   spec["importance"], spec["near"], dict(spec["field_args"]), spec["occupancy_resolution"])

    @property
    def step_size(self) -> float:
        """Spacing of the stratified samples along the box diagonal."""
        return float((self.aabb[1] - self.aabb[0]).norm()) / self.samples


def _eval_masked(field: RadianceField, pts: Tensor, dirs: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """Evaluate ``field`` at ``pts (R, S, 3)`` where ``mask (R, S)``; zero density elsewhere."""
    r, s = pts.shape[:2]
    d = dirs[:, None, :].expand(r, s, 3)
    if mask is None:
        sigma, rgb = field(pts.reshape(-1, 3), d.reshape(-1, 3))
        return sigma.reshape(r, s), rgb.reshape(r, s, 3)
    sigma = pts.new_zeros(r, s)
    rgb = pts.new_zeros(r, s, 3)
    if mask.any():
        sg, cl = field(pts[mask], d[mask])
        sigma = sigma.masked_scatter(mask, sg)
        rgb = rgb.masked_scatter(mask[..., None].expand(r, s, 3), cl)
    return sigma, rgb


def render_rays(model: NeRFModel, origins: Tensor, directions: Tensor, background: Tensor | None = None,
                perturb: bool = False, generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """Render rays ``(R, 3)``: ``rgb (R, 3)``, ``depth (R,)``, ``opacity (R,)`` of the final pass,
    plus ``rgb_coarse`` for the vanilla recipe with importance sampling, and ``samples_evaluated``
    (network evaluations, a cost measure)."""
    t_near, t_far, hit = intersect_aabb(origins, directions, model.aabb, model.near)
    edges = SM.stratified(t_near, t_far, model.samples, generator, perturb)  # (R, S + 1)
    mids, deltas = SM.midpoints_and_deltas(edges)
    pts = origins[:, None, :] + directions[:, None, :] * mids[..., None]  # (R, S, 3)
    mask = hit[:, None].expand_as(mids)
    if model.occupancy is not None:
        mask = mask & model.occupancy.query(pts.reshape(-1, 3)).reshape(mids.shape)
    sigma, rgb = _eval_masked(model.coarse, pts, directions, mask)
    w = render_weights(sigma, deltas)
    out = composite(w, rgb, mids, background)
    evaluated = int(mask.sum())
    if model.fine is not None:
        t_fine = SM.sample_pdf(edges, w[:, :], model.importance, generator, perturb)
        edges_f = SM.merge_samples(mids, t_fine, t_near, t_far)
        mids_f, deltas_f = SM.midpoints_and_deltas(edges_f)
        pts_f = origins[:, None, :] + directions[:, None, :] * mids_f[..., None]
        mask_f = hit[:, None].expand_as(mids_f)
        sigma_f, rgb_f = _eval_masked(model.fine, pts_f, directions, mask_f)
        fine = composite(render_weights(sigma_f, deltas_f), rgb_f, mids_f, background)
        out = {**fine, "rgb_coarse": out["rgb"]}
        evaluated += int(mask_f.sum())
    out["samples_evaluated"] = torch.tensor(evaluated)
    return out


@torch.no_grad()
def render_image(model: NeRFModel, origins: Tensor, directions: Tensor, background: Tensor | None = None,
                 chunk: int = 4096) -> dict[str, Tensor]:
    """Render ``origins, directions (H, W, 3)`` in chunks of rays: ``rgb (H, W, 3)``, ``depth, opacity (H, W)``."""
    h, w = origins.shape[:2]
    o, d = origins.reshape(-1, 3), directions.reshape(-1, 3)
    parts: dict[str, list[Tensor]] = {"rgb": [], "depth": [], "opacity": []}
    for i in range(0, len(o), chunk):
        r = render_rays(model, o[i:i + chunk], d[i:i + chunk], background)
        for k in parts:
            parts[k].append(r[k])
    return {k: torch.cat(v).reshape(h, w, -1).squeeze(-1) for k, v in parts.items()}
