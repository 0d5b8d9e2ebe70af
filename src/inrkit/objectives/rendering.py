"""A = volume rendering along camera rays (Mildenhall et al. 2020, sec. 4): the NeRF objective."""

from __future__ import annotations

import torch
from torch import Tensor

from ..batch import Batch
from ..rendering.nerf import NeRFModel, render_rays


class VolumeRendering:
    """Render the batch's rays through a :class:`~inrkit.rendering.nerf.NeRFModel` and compare colours.

    The batch carries ``"origins" (N, 3)``, ``"directions" (N, 3)`` and ``"background"``
    (``(N, 3)`` or ``(3,)``: the colour behind each ray) as extras and the target colours
    ``targets (N, 3)`` (already composited on that background). The terms are

    - ``"rgb"``: mean squared error of the final pass, (1/3N) sum |C(r) - C*(r)|^2;
    - ``"coarse"``: the same for the coarse pass, when the model has a fine field
      (both passes are supervised, Mildenhall et al. 2020, eq. 6);
    - ``"loss" = rgb (+ coarse)``;
    - ``"samples_per_ray"``: network evaluations per ray (a cost figure, not minimised).

    ``perturb=True`` draws the stratified sample positions (and the importance samples)
    from ``generator``, given at construction: the same generator as the sampler's, so a
    seed fixes the whole run.
    """

    def __init__(self, generator: torch.Generator | None = None, perturb: bool = True):
        self.generator, self.perturb = generator, perturb

    def __call__(self, model: NeRFModel, batch: Batch) -> dict[str, Tensor]:
        out = render_rays(model, batch["origins"], batch["directions"], batch["background"], perturb=self.perturb,
                          generator=self.generator)
        target = batch.targets  # (N, 3)
        rgb = torch.mean((out["rgb"] - target) ** 2)
        terms = {"rgb": rgb}
        loss = rgb
        if "rgb_coarse" in out:
            coarse = torch.mean((out["rgb_coarse"] - target) ** 2)
            terms["coarse"] = coarse
            loss = loss + coarse
        spr = out["samples_evaluated"].double() / len(target)  # float64: as exact as int / int in Python
        return {"loss": loss, **terms, "samples_per_ray": spr}
