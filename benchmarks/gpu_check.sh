#!/usr/bin/env bash
# The device checks, in one script (run from the repository root on a CUDA machine):
#   bash benchmarks/gpu_check.sh OUTDIR [LANE_DEADLINE_S] [SIZE] [STEPS]
# Poisson reconstruction (Sitzmann et al. 2020, sec. 4.1) from the gradient and from the Laplacian for
# tanh, ReLU+PE and SIREN, 10k steps on the 256x256 camera, in three lanes sharing the GPU; the
# memory of derivative maps; then, alone on the GPU, functa meta-training speed and encoding
# throughput. Every job stops at LANE_DEADLINE_S seconds after the start (default 420) so that the
# script ends; what finished is packed into OUTDIR/results.tar.gz, logs into OUTDIR/logs.txt.
# SIZE and STEPS (default 256 and 10000) exist to dry-run the script on a CPU.
set -u
OUT=${1:-gpu-out}
DEADLINE=${2:-420}
SIZE=${3:-256}
STEPS=${4:-10000}
DEV=${DEV:-cuda}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$(mktemp -d)
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PY=${PY:-python3}
T0=$(date +%s)
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
job() {  # job NAME CMD...: run with whatever time is left before the deadline, log to W/NAME.log
  local name=$1; shift
  local t; t=$(left)
  if [ "$t" -le 5 ]; then echo "$name: not started (deadline)" > "$W/$name.log"; return; fi
  local s; s=$(date +%s)
  timeout "$t" "$@" > "$W/$name.log" 2>&1
  echo "[$name: exit $?, $(( $(date +%s) - s )) s wall, started at +$(( s - T0 )) s]" >> "$W/$name.log"
}
poisson() {  # poisson NAME SUPERVISION ARCHS SCHEDULE
  job "$1" $PY -m inrkit poisson camera --size "$SIZE" --supervision "$2" --archs "$3" --schedule "$4" \
      --steps "$STEPS" --device "$DEV" --quiet --out "$W/$1"
}
{ nvidia-smi -L 2>/dev/null; $PY -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"; nproc; } > "$W/device.log" 2>&1

( poisson lap_siren_cosine laplacian siren cosine; poisson lap_pe laplacian pe constant ) &
( poisson grad_siren_cosine gradient siren cosine; poisson grad_tanh gradient tanh constant; poisson grad_pe gradient pe constant ) &
( poisson lap_tanh laplacian tanh constant ) &
( [ "$DEV" = cuda ] && job render_memory $PY benchmarks/render_memory.py --device cuda --sizes 2048 --chunks 65536,0 \
      --what image,laplacian --archs ffn,siren --methods auto,autograd ) &
wait

# Alone on the GPU: functa meta-training speed, then encoding throughput and accuracy of that model.
DEADLINE=$(( DEADLINE + 140 ))
job functa_train $PY -m inrkit functa train mnist --latent-dims 64 --steps 100000 --minutes 0.75 --device "$DEV" \
    --eval-items 200 --quiet --out "$W/functa"
job functa_encode $PY -m inrkit functa encode "$W/functa/model_z64" mnist --out "$W/fs64" --device "$DEV" --quiet
job functa_classify $PY -m inrkit functa classify "$W/fs64"

for f in "$W"/*.log; do echo "===== $(basename "$f")"; cat "$f"; done > "$OUT/logs.txt"
tar -C "$W" -czf "$OUT/results.tar.gz" --exclude='*.log' --exclude='shard_*' . 2>/dev/null
ls -la "$OUT"
