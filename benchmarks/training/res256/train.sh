#!/usr/bin/env bash
# Issue 12: the demod24 model trained on (and streaming) 256x256 renders instead of 128x128,
# the demod24 recipe otherwise (crop 128, batch 4); resumable. Data: data.sh beside it.
set -euo pipefail
cd "$(dirname "$0")/../../.."
RESUME=""
[ -f runs/res256/checkpoint.pt ] && RESUME="--resume"
OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise train --spp 64 --data data/train256 \
    --val-data benchmarks/references/validation -o runs/res256 \
    --init benchmarks/training/demod24/model.safetensors --demodulate \
    --stream 256 --stream-cpus 1 --crop 128 --batch 4 --lr 5e-4 --steps 30000 --minutes "${1:-110}" \
    --val-every 1000 --val-images 18 --ckpt-every 250 --ema 0.999 $RESUME
