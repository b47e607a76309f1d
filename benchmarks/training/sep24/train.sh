#!/usr/bin/env bash
# Issue 12: the demod24 model grown with separate kernels for the demodulated image
# (train --init demod24 --separate-kernels), resumable. Data: benchmarks/training/wide24/data.sh.
set -euo pipefail
cd "$(dirname "$0")/../../.."
RESUME=""
[ -f runs/sep24/checkpoint.pt ] && RESUME="--resume"
OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise train --spp 64 --data data/train128 \
    --val-data benchmarks/references/validation -o runs/sep24 \
    --init benchmarks/training/demod24/model.safetensors --demodulate --separate-kernels \
    --stream 256 --stream-cpus 1 --crop 128 --batch 4 --lr 5e-4 --steps 30000 --minutes "${1:-120}" \
    --val-every 1000 --val-images 18 --ckpt-every 250 --ema 0.999 $RESUME
