"""Volume rendering as pure functions (Mildenhall et al. 2020, sec. 4, eq. 3; Max 1995).

Shapes: ``R`` rays, ``S`` samples per ray; samples sorted by distance along each ray.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def alphas_from_density(density: Tensor, deltas: Tensor) -> Tensor:
    """Opacity of each segment: alpha_i = 1 - exp(-sigma_i * delta_i).

    ``density (R, S)`` sigma >= 0, ``deltas (R, S)`` segment lengths -> ``(R, S)`` in [0, 1].
    """
    return 1.0 - torch.exp(-density * deltas)


def transmittance(alphas: Tensor) -> Tensor:
    """Light reaching sample i unabsorbed, from opacities: T_i = prod_{j<i} (1 - alpha_j).

    ``alphas (R, S)`` -> ``(R, S)``, with T_0 = 1 (an exclusive cumulative product).

    No epsilon is added to 1 - alpha_j. NeRF's TensorFlow code adds 1e-10
    (``tf.math.cumprod(1. - alpha + 1e-10, exclusive=True)``, bmild/nerf ``run_nerf.py``,
    ``raw2outputs``) without saying why; TensorFlow's cumprod gradient of that era divides
    by the factors (``math_grad.py``, ``_CumprodGrad``: ``out / x``, "fails when x contains
    0"), so an opaque sample (1 - alpha = 0) would make it NaN. ``torch.cumprod``'s
    backward handles zero factors exactly. From densities, use
    :func:`transmittance_from_density`, which :func:`render_weights` uses.
    """
    ones = torch.ones_like(alphas[..., :1])
    return torch.cumprod(torch.cat([ones, 1.0 - alphas[..., :-1]], dim=-1), dim=-1)


def transmittance_from_density(density: Tensor, deltas: Tensor) -> Tensor:
    """T_i = exp(-sum_{j<i} sigma_j delta_j) (Max 1995; Mildenhall et al. 2020, eq. 3).

    ``density, deltas (R, S)`` -> ``(R, S)``, with T_0 = 1. An exclusive sum of optical
    depths, as nerfacc's ``render_transmittance_from_density`` computes it: no epsilon and
    no long product of rounded factors; T_i is 0 only where exp underflows (an optical
    depth above about 104 in float32).
    """
    tau = density * deltas  # (R, S) optical depth of each segment
    return torch.exp(-torch.cumsum(F.pad(tau[..., :-1], (1, 0)), dim=-1))  # exclusive sum: shifted, then summed


def render_weights(density: Tensor, deltas: Tensor) -> Tensor:
    """Contribution of each sample to the pixel: w_i = T_i * alpha_i (eq. 3); sum_i w_i <= 1.

    ``density, deltas (R, S)`` -> ``(R, S)``; T_i from :func:`transmittance_from_density`.
    """
    return transmittance_from_density(density, deltas) * alphas_from_density(density, deltas)


def composite(weights: Tensor, colors: Tensor, t_mid: Tensor, background: Tensor | None = None
              ) -> dict[str, Tensor]:
    """Composite samples into pixels.

    C = sum_i w_i c_i + (1 - sum_i w_i) * background;   depth = sum_i w_i t_i / max(sum_i w_i, eps);
    opacity = sum_i w_i.

    ``weights (R, S)``, ``colors (R, S, 3)``, ``t_mid (R, S)`` sample distances,
    ``background (3,)`` or ``(R, 3)`` (None: black) -> ``rgb (R, 3)``, ``depth (R,)``
    (expected termination distance, where the ray is opaque), ``opacity (R,)``.
    """
    opacity = weights.sum(-1)
    rgb = (weights[..., None] * colors).sum(-2)
    if background is not None:
        rgb = rgb + (1.0 - opacity)[..., None] * background
    depth = (weights * t_mid).sum(-1) / opacity.clamp_min(1e-10)
    return {"rgb": rgb, "depth": depth, "opacity": opacity}
