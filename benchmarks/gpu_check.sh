#!/usr/bin/env bash
# The device checks, in one script (run from the repository root on a CUDA machine):
#   bash benchmarks/gpu_check.sh OUTDIR
# Writes each benchmark's output under OUTDIR (8 files at most). Uses src/ directly (no install needed).
set -u
OUT=${1:-gpu-out}
mkdir -p "$OUT"
export PYTHONPATH=src PYTHONUNBUFFERED=1
PY=${PY:-python3}
nvidia-smi -L | tee "$OUT/device.txt"
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee -a "$OUT/device.txt"
timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_grid.py tests/test_ops.py 2>&1 | tail -5 | tee -a "$OUT/device.txt"
timeout 200 $PY benchmarks/fit_speed.py --device cuda --sizes 512 --cap 20 --heldout-budget 5 2>&1 | tee "$OUT/fit_speed_gpu.txt"
timeout 90 $PY benchmarks/render_memory.py --device cuda --sizes 2048,4096 --chunks 65536,262144,0 --what image,laplacian --archs siren,ffn 2>&1 | tee "$OUT/render_memory_gpu.txt"
timeout 150 $PY -m inrkit poisson camera --size 256 --supervision gradient --steps 10000 --quiet --out /tmp/poisson_grad 2>&1 | tee "$OUT/poisson_gradient.txt"
timeout 150 $PY -m inrkit poisson camera --size 256 --supervision laplacian --steps 10000 --quiet --out /tmp/poisson_lap 2>&1 | tee "$OUT/poisson_laplacian.txt"
cp /tmp/poisson_grad/metrics.json "$OUT/poisson_gradient_metrics.json" 2>/dev/null
cp /tmp/poisson_lap/metrics.json "$OUT/poisson_laplacian_metrics.json" 2>/dev/null
ls "$OUT"
