#!/usr/bin/env bash
# Issue 12: the shipped model with its level-2 blend gate reset (make_init.py beside this),
# fine-tuned with band256's recipe (256x256 data and stream, crop 128, batch 4). Resumable.
#   train.sh [MINUTES]      Data: benchmarks/training/res256/data.sh (data/train256).
set -euo pipefail
cd "$(dirname "$0")/../../.."
MINUTES=${1:-50}
RUN=${2:-runs/revive}
mkdir -p "$RUN"
[ -f "$RUN/init.safetensors" ] || .venv/bin/python benchmarks/training/revive/make_init.py "$RUN/init.safetensors"
RESUME=""
[ -f "$RUN/checkpoint.pt" ] && RESUME="--resume"
OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise train --spp 64 --data data/train256 \
    --val-data benchmarks/references/validation -o "$RUN" --init "$RUN/init.safetensors" \
    --stream 256 --stream-cpus 1 --crop 128 --batch 4 --lr 5e-4 --steps 30000 --minutes "$MINUTES" \
    --val-every 1000 --val-images 18 --ckpt-every 250 --ema 0.999 $RESUME
