#!/usr/bin/env bash
# Issue 12: the shipped band256 model fine-tuned on whole 256x256 renders (crop 256, batch 1:
# the same pixels per step as band256's crop 128 x batch 4). Why: on 128-pixel crops the
# pyramid's 1/8 and 1/16 levels are 16 and 8 pixels wide, mostly padding to a 5x5 kernel, and
# the shipped model takes nothing from them (level 2's blend share is about 0 on every test
# scene), so blotches of 8-32 pixels stay on flat walls. Resumable.  train.sh [MINUTES]
# Data: benchmarks/training/res256/data.sh (data/train256).
set -euo pipefail
cd "$(dirname "$0")/../../.."
MINUTES=${1:-90}
RUN=${2:-runs/crop256}
RESUME=""
[ -f "$RUN/checkpoint.pt" ] && RESUME="--resume"
OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise train --spp 64 --data data/train256 \
    --val-data benchmarks/references/validation -o "$RUN" \
    --init benchmarks/training/band256/model.safetensors \
    --stream 256 --stream-cpus 1 --crop 256 --batch 1 --lr 5e-4 --steps 30000 --minutes "$MINUTES" \
    --val-every 1000 --val-images 18 --ckpt-every 250 --ema 0.999 $RESUME
