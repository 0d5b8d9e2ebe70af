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

from .. import specs as S
from ..encodings import MultiresGrid
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
        """Rebuild from ``spec()`` with fresh parameters (a checkpoint then fills them).

        The scene box is made on the CPU even under a ``torch.device("meta")`` context (the
        loader builds a model there to read the shapes it expects): its diagonal is a number."""
        return cls(spec["recipe"], torch.tensor(spec["aabb"], dtype=torch.float32, device="cpu"), spec["samples"],
                   spec["importance"], spec["near"], dict(spec["field_args"]), spec["occupancy_resolution"])

    INFINITE_OK = ("occupancy.density",)
    """Tensors that may hold +inf in a checkpoint: occupancy cells not yet visited (``OccupancyGrid``)."""
    MAX_SAMPLES = 1 << 16
    """Most samples (stratified or importance) per ray a spec may ask for."""
    _VANILLA = {"width": 256, "depth": 8, "skip": 4, "pos_freqs": 10, "dir_freqs": 4}
    _HASH = {"levels": 16, "features": 2, "log2_table_size": 19, "min_resolution": 16, "max_resolution": 1024,
             "width": 64, "colour_layers": 2, "dir_freqs": 4}

    @classmethod
    def check_spec(cls, spec: dict) -> int:
        """Check ``spec`` from the numbers alone (``inrkit.specs``): the tensor elements it would allocate."""
        what = "nerf"
        S.only_keys(spec, what, ["recipe", "aabb", "samples", "importance", "near", "field_args",
                                 "occupancy_resolution"])
        recipe = S.choice(spec, "recipe", what, ("vanilla", "fast"), missing=KeyError)
        box = spec["aabb"]
        if (not isinstance(box, list) or len(box) != 2
                or not all(isinstance(c, list) and len(c) == 3 for c in box)):
            raise TypeError("nerf.aabb must be two lists of three numbers")
        lo = [S.number({"aabb": v}, "aabb", what) for v in box[0]]
        hi = [S.number({"aabb": v}, "aabb", what) for v in box[1]]
        if not all(a < b for a, b in zip(lo, hi)):
            raise ValueError("nerf.aabb must have its minimum below its maximum on every axis")
        S.integer(spec, "samples", what, hi=cls.MAX_SAMPLES, missing=KeyError)
        importance = S.integer(spec, "importance", what, lo=0, hi=cls.MAX_SAMPLES, missing=KeyError)
        S.number(spec, "near", what, at_least=0.0, missing=KeyError)
        occ = S.integer(spec, "occupancy_resolution", what, lo=0, missing=KeyError)
        args = S.require_object(spec["field_args"], "nerf.field_args")
        fa = "nerf.field_args"
        if recipe == "vanilla":
            S.only_keys(args, fa, cls._VANILLA)
            skip = S.integer(args, "skip", fa, lo=0, hi=S.MAX_LAYERS, default=cls._VANILLA["skip"])
            width = S.integer(args, "width", fa, lo=2, default=cls._VANILLA["width"])
            depth = S.integer(args, "depth", fa, hi=S.MAX_LAYERS, default=cls._VANILLA["depth"])
            pf = S.integer(args, "pos_freqs", fa, lo=0, hi=S.MAX_FREQUENCIES, default=cls._VANILLA["pos_freqs"])
            df = S.integer(args, "dir_freqs", fa, lo=0, hi=S.MAX_FREQUENCIES, default=cls._VANILLA["dir_freqs"])
            p, d = 3 * (2 * pf + 1), 3 * (2 * df + 1)
            trunk = sum(S.linear_size(width + (p if i == skip else 0), width) for i in range(1, depth))
            one = (S.linear_size(p, width) + trunk + S.linear_size(width, 1) + S.linear_size(width, width)
                   + S.linear_size(width + d, width // 2) + S.linear_size(width // 2, 3))
            return 6 + one * (2 if importance > 0 else 1)
        S.only_keys(args, fa, cls._HASH)
        levels = S.integer(args, "levels", fa, hi=S.MAX_LEVELS, default=cls._HASH["levels"])
        features = S.integer(args, "features", fa, default=cls._HASH["features"])
        log2 = S.integer(args, "log2_table_size", fa, hi=MultiresGrid.MAX_LOG2_TABLE_SIZE,
                         default=cls._HASH["log2_table_size"])
        n_min = S.integer(args, "min_resolution", fa, default=cls._HASH["min_resolution"])
        n_max = S.integer(args, "max_resolution", fa, lo=n_min, default=cls._HASH["max_resolution"])
        width = S.integer(args, "width", fa, default=cls._HASH["width"])
        layers = S.integer(args, "colour_layers", fa, lo=0, hi=S.MAX_LAYERS, default=cls._HASH["colour_layers"])
        df = S.integer(args, "dir_freqs", fa, lo=0, hi=S.MAX_FREQUENCIES, default=cls._HASH["dir_freqs"])
        grid = MultiresGrid.table_rows(3, MultiresGrid.paper_resolutions(levels, n_min, n_max), log2) * features
        dense = S.linear_size(levels * features, width) + S.linear_size(width, 16)
        d_in = 16 + 3 * (2 * df + 1)
        colour = sum(S.linear_size(d_in if i == 0 else width, width) for i in range(layers))
        colour += S.linear_size(width if layers else d_in, 3)
        return 6 + grid + dense + colour + 3 * occ**3

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
