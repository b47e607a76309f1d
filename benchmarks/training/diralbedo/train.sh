#!/usr/bin/env bash
# Issue 12: the shipped band256 model fine-tuned on renders with the directional albedo
# (renderers/albedo.py), the band256 recipe otherwise (256x256 data, a stream of fresh
# directional-albedo scenes on one core, crop 128, batch 4); resumable.  train.sh [MINUTES]
# Data: data.sh beside it.
set -euo pipefail
cd "$(dirname "$0")/../../.."
MINUTES=${1:-40}
RUN=${2:-runs/diralbedo}
RESUME=""
[ -f "$RUN/checkpoint.pt" ] && RESUME="--resume"
OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise train --spp 64 --data data/train256d \
    --val-data benchmarks/references/validation-directional -o "$RUN" \
    --init benchmarks/training/band256/model.safetensors \
    --stream 256 --stream-cpus 1 --crop 128 --batch 4 --lr 5e-4 --steps 30000 --minutes "$MINUTES" \
    --val-every 1000 --val-images 18 --ckpt-every 250 --ema 0.999 $RESUME
