"""INR MRI reconstruction with and without the final data-consistency step, through the library.

    python benchmarks/mri_data_consistency.py IMAGE MASK ACCELERATION ['{"sigma": 2.0, "tv": 0.01}']

IMAGE as ``inrkit mri`` takes it (shepp-logan at its own 256 px here, brain, a NIfTI or grey image); MASK
radial or random; the JSON sets :class:`inrkit.apps.inverse.InverseConfig` fields (its defaults otherwise).
Prints one JSON line: PSNR of zero-filled, INR and INR + data consistency, and the seconds (one thread)."""

import json
import sys
import time

import numpy as np
import torch

from inrkit import coords as C
from inrkit.apps.inverse import InverseConfig, _fit
from inrkit.metrics import psnr
from inrkit.objectives.inverse import MaskedFourier
from inrkit.ops.fourier import data_consistent
from inrkit.signals.kspace import MRIProblem, load_mri_image, make_mask


def main() -> None:
    src, kind, acc = sys.argv[1], sys.argv[2], float(sys.argv[3])
    kw = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    torch.set_num_threads(1)
    image, name = load_mri_image(src)
    p = MRIProblem.simulate(image, make_mask(kind, image.shape, acc, 0), name, 0.0, 0, {"mask": kind})
    cfg = InverseConfig(**kw)
    t0 = time.time()
    field, _, _ = _fit(p.sampler("cpu"), MaskedFourier(tv=cfg.tv), cfg, torch.device("cpu"), False, "MRI",
                       max(p.shape))
    with torch.no_grad():
        rec = field(C.grid(p.shape).reshape(-1, 2))[:, 0].reshape(p.shape).double()
    dc = data_consistent(rec, p.kspace, p.mask.double()).real.numpy()
    score = lambda x: psnr(np.clip(x, 0, 1), image, 1.0)  # noqa: E731
    print(json.dumps({"image": src, "mask": kind, "acceleration": acc, "config": kw, "zero_filled": score(p.zero_filled()),
                      "inr": score(rec.numpy()), "inr_data_consistency": score(dc), "seconds": time.time() - t0}))


if __name__ == "__main__":
    main()
