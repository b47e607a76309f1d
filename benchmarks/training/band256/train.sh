#!/usr/bin/env bash
# Issue 12: the res256 model grown with band weights (train --init res256 --band-weights),
# on the 256x256 renders of benchmarks/training/res256/data.sh; resumable across sessions.
set -euo pipefail
cd "$(dirname "$0")/../../.."
RESUME=""
[ -f runs/band256/checkpoint.pt ] && RESUME="--resume"
OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise train --spp 64 --data data/train256 \
    --val-data benchmarks/references/validation -o runs/band256 \
    --init benchmarks/training/res256/model.safetensors --demodulate --band-weights \
    --stream 256 --stream-cpus 1 --crop 128 --batch 4 --lr 5e-4 --steps 30000 --minutes "${1:-100}" \
    --val-every 1000 --val-images 18 --ckpt-every 250 --ema 0.999 $RESUME
