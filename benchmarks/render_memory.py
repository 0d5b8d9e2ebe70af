"""Peak memory of ``inrkit.render`` against output size and chunk size.

    python benchmarks/render_memory.py [--device cpu] [--sizes 512,1024,2048] [--chunks 16384,65536,0]
                                       [--what image,gradient,laplacian] [--archs siren,ffn]
                                       [--methods auto,autograd]

A chunk of 0 evaluates the whole grid in one pass (the naive way) for comparison.

Each configuration runs in a fresh subprocess. On the CPU the figure is the growth of the
process's peak resident memory (ru_maxrss) during the render; on CUDA it is
torch.cuda.max_memory_allocated. The field is the reference SIREN (3 x 256, 198k
parameters, untrained: memory does not depend on the weights) unless --archs says otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, torch
from inrkit.config import FieldConfig, build_field
from inrkit.apps.image import render
size, chunk, what, device, arch, method = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
chunk = chunk or size * size  # 0: the naive one-shot evaluation of the whole grid
field = build_field(FieldConfig(arch=arch), 2, 1, 256, generator=torch.Generator().manual_seed(0)).to(device)
render(field, {}, (64, 64), what=what, chunk=min(chunk, 4096), method=method)  # warm up allocators and kernels
if device == "cuda":
    torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
img = render(field, {}, (size, size), what=what, chunk=chunk, method=method)
if device == "cuda":
    torch.cuda.synchronize()
sec = time.perf_counter() - t
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else (after - before) / 1024
print(json.dumps({"peak_mib": peak, "seconds": sec, "rss_mib": after / 1024}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", default="512,1024,2048")
    ap.add_argument("--chunks", default="16384,65536")
    ap.add_argument("--what", default="image,laplacian")
    ap.add_argument("--archs", default="siren", help="comma-separated; e.g. siren,ffn")
    ap.add_argument("--methods", default="auto", help="comma-separated: auto (forward-mode derivatives for MLP "
                    "fields, inrkit.ops.jet), autograd (double backward)")
    a = ap.parse_args()
    kind = "GPU max_memory_allocated" if a.device == "cuda" else "growth of peak RSS"
    print(f"| field | what | derivatives | output | chunk (points) | peak memory (MiB, {kind}) | seconds |")
    print("|---|---|---|---|---|---|---|")
    configs = [(arch, what, method) for arch in a.archs.split(",") for what in a.what.split(",")
               for method in (a.methods.split(",") if what != "image" else ["auto"])]
    for arch, what, method in configs:
        how = "-" if what == "image" else "forward (jet)" if method == "auto" else "autograd"
        for size in map(int, a.sizes.split(",")):
            for chunk in map(int, a.chunks.split(",")):
                out = subprocess.run([sys.executable, "-c", CHILD, str(size), str(chunk), what, a.device, arch,
                                      method], capture_output=True, text=True)
                label = f"{chunk:,}" if chunk else "one shot (naive)"
                row = f"| {arch} | {what} | {how} | {size}x{size} | {label} |"
                if out.returncode != 0:
                    last = (out.stderr.strip().splitlines() or ["killed"])[-1][:80]
                    print(f"{row} failed: {last} | |", flush=True)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{row} {r['peak_mib']:.0f} | {r['seconds']:.1f} |", flush=True)

if __name__ == "__main__":
    main()
