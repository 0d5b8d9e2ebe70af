#!/usr/bin/env bash
# The device checks, in one script (run from the repository root on a CUDA machine):
#   bash benchmarks/gpu_check.sh OUTDIR [JOBS] [SIZE] [STEPS]
# JOBS: space-separated names, run one after another (sharing one GPU between fits made each about
# three times slower, so nothing runs in parallel). Default: the Poisson runs still missing from
# docs/benchmarks.md, most wanted first:
#   lap_siren_stencil grad_siren_stencil lap_siren
# (the stencil operator, `inrkit poisson --operator stencil`, at the protocol's size; SIREN from the
# Laplacian with the paper's constant rate). Other names: grad_siren_cosine lap_siren_cosine grad_tanh
# grad_pe lap_pe lap_tanh (the runs of docs/benchmarks.md's Poisson table), grad_siren (constant rate),
# render_memory, functa (meta-training speed, encoding throughput and accuracy of a 45 s model).
# Each Poisson fit is the protocol of Sitzmann et al. 2020, sec. 4.1 (256x256 camera, 10k steps,
# every pixel per step) with a training-time cap of MINUTES (default 3.5), so a fit that runs out
# of time still writes its result with the steps it did. Each job writes OUTDIR/JOB/ and OUTDIR/JOB.log
# as it ends (a call killed part-way still returns what finished); OUTDIR/logs.txt gathers the logs.
# SIZE and STEPS (default 256 and 10000) exist to dry-run the script on a CPU.
set -u
OUT=${1:-gpu-out}
JOBS=${2:-"lap_siren_stencil grad_siren_stencil lap_siren"}
SIZE=${3:-256}
STEPS=${4:-10000}
DEV=${DEV:-cuda}
MINUTES=${MINUTES:-3.5}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$OUT
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
PY=${PY:-python3}
T0=$(date +%s)
log() { echo "[$1: exit $2, $3 s wall, started at +$4 s]" >> "$W/$1.log"; }
poisson() {  # poisson NAME SUPERVISION ARCH SCHEDULE [OPERATOR]
  local s; s=$(date +%s)
  timeout 300 $PY -m inrkit poisson camera --size "$SIZE" --supervision "$2" --archs "$3" --schedule "$4" \
      --operator "${5:-analytic}" --steps "$STEPS" --minutes "$MINUTES" --device "$DEV" --quiet --out "$W/$1" \
      > "$W/$1.log" 2>&1
  log "$1" $? $(( $(date +%s) - s )) $(( s - T0 ))
}
{ nvidia-smi -L 2>/dev/null; $PY -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"; nproc; } > "$W/device.log" 2>&1

for j in $JOBS; do
  case $j in
    lap_siren_cosine) poisson "$j" laplacian siren cosine ;;
    grad_siren_cosine) poisson "$j" gradient siren cosine ;;
    lap_siren_stencil) poisson "$j" laplacian siren cosine stencil ;;
    grad_siren_stencil) poisson "$j" gradient siren cosine stencil ;;
    lap_siren) poisson "$j" laplacian siren constant ;;
    grad_siren) poisson "$j" gradient siren constant ;;
    lap_tanh) poisson "$j" laplacian tanh constant ;;
    lap_pe) poisson "$j" laplacian pe constant ;;
    grad_tanh) poisson "$j" gradient tanh constant ;;
    grad_pe) poisson "$j" gradient pe constant ;;
    render_memory)
      timeout 200 $PY benchmarks/render_memory.py --device "$DEV" --sizes 2048 --chunks 65536,0 \
          --what image,laplacian --archs ffn,siren --methods auto,autograd > "$W/$j.log" 2>&1 ;;
    functa)
      s=$(date +%s)
      { timeout 120 $PY -m inrkit functa train mnist --latent-dims 64 --steps 100000 --minutes 0.75 --device "$DEV" \
            --eval-items 200 --quiet --out "$W/functa" &&
        timeout 60 $PY -m inrkit functa encode "$W/functa/model_z64" mnist --out "$W/fs64" --device "$DEV" --quiet &&
        timeout 300 $PY -m inrkit functa classify "$W/fs64"; } > "$W/$j.log" 2>&1
      log "$j" $? $(( $(date +%s) - s )) $(( s - T0 )) ;;
    *) echo "unknown job $j" >> "$W/device.log" ;;
  esac
done

rm -rf "$W"/fs64/shard_* 2>/dev/null
for f in "$W"/*.log; do echo "===== $(basename "$f")"; cat "$f"; done > "$OUT/logs.txt"
cat "$OUT/logs.txt"
