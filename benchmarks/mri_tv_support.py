"""TV on the estimated support, by weight and Chambolle-Pock iterations, on the brain slice (docs/benchmarks.md, MRI).

    OMP_NUM_THREADS=1 python benchmarks/mri_tv_support.py

Radial and random 4x masks (seed 0), the support from ``MRIProblem.with_support("auto")``; one JSON line per
(mask, weight, iterations) with the PSNR against the slice (an oracle view of the weight)."""
import json

import numpy as np
import torch

from inrkit.metrics import psnr
from inrkit.ops.fourier import tv_reconstruction
from inrkit.signals.kspace import MRIProblem, load_mri_image, make_mask


def main() -> None:
    torch.set_num_threads(1)
    img, _ = load_mri_image("brain")
    for kind in ("radial", "random"):
        p = MRIProblem.simulate(img, make_mask(kind, img.shape, 4, 0), "brain").with_support("auto")
        for weight in (0.0001, 0.0003, 0.001, 0.003):
            for iterations in (300, 1000, 3000):
                rec = tv_reconstruction(p.kspace, p.mask.double(), weight, iterations, support=p.support.double())
                score = psnr(np.clip(rec.real.numpy(), 0, 1), img, 1.0)
                print(json.dumps({"mask": kind, "weight": weight, "iterations": iterations, "psnr": round(score, 2)}),
                      flush=True)


if __name__ == "__main__":
    main()
