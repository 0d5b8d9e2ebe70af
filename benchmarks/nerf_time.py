"""NeRF: held-out PSNR against training time for the fast and the vanilla recipe.

    python benchmarks/nerf_time.py                               # built-in scene, 10 min each, CPU
    python benchmarks/nerf_time.py --presets fast --minutes 10
    python benchmarks/nerf_time.py --presets vanilla,vanilla-small --batch-rays 1024   # CPU memory
    python benchmarks/nerf_time.py --device cuda --minutes 5

Both recipes train in this one process on the same data, so their curves compare like with
like. The clock counts training steps only; every ``--eval-every`` seconds the first
``--eval-views`` validation views are rendered with the clock stopped. At the end, every
test view is scored (PSNR, SSIM).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from inrkit.apps import nerf as N


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="builtin")
    p.add_argument("--presets", default="fast,vanilla")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--eval-every", type=float, default=60.0)
    p.add_argument("--eval-views", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-rays", type=int, help="rays per step for every preset (default: each preset's own)")
    p.add_argument("--test-views", type=int, help="score only the first test views (default: all)")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, device {a.device}"
          + (f" ({torch.cuda.get_device_name()})" if a.device.startswith("cuda") else ""))
    results = {}
    for preset in a.presets.split(","):
        t0 = time.perf_counter()
        r = N.train_nerf(a.dataset, preset, steps=10**9, minutes=a.minutes, eval_every=a.eval_every,
                         eval_views=a.eval_views, device=a.device, batch_rays=a.batch_rays)
        folder = N.resolve_dataset(a.dataset)
        data = N.load_posed_images(folder, "test", limit=a.test_views)
        ev = N.evaluate_views(r["model"], data, N._background("white"))
        print(f"\n{preset}: {r['steps']} steps, {r['seconds']:.0f} s of training ({time.perf_counter() - t0:.0f} s "
              f"wall with evaluation); test PSNR {ev['psnr']:.2f} dB, SSIM {ev['ssim']:.4f} over {len(data.images)} views")
        print("| train s | step | val PSNR | samples/ray |\n|---|---|---|---|")
        for h in r["history"]:
            print(f"| {h['seconds']:.0f} | {h['step']} | {h['val_psnr']:.2f} | {h['samples_per_ray']:.1f} |")
        results[preset] = {"history": r["history"], "test_psnr": ev["psnr"], "test_ssim": ev["ssim"],
                           "steps": r["steps"], "seconds": r["seconds"]}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
