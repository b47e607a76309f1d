#!/usr/bin/env bash
# Issue 12: a model trained on (and streaming) 256x256 renders instead of 128x128, the
# demod24 recipe otherwise (crop 128, batch 4); resumable. Data: data.sh beside it.
#   train.sh [MINUTES [RUN [INIT [FLAGS...]]]]   (default: the res256 run from demod24)
set -euo pipefail
cd "$(dirname "$0")/../../.."
MINUTES=${1:-110}
RUN=${2:-runs/res256}
INIT=${3:-benchmarks/training/demod24/model.safetensors}
RESUME=""
[ -f "$RUN/checkpoint.pt" ] && RESUME="--resume"
OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise train --spp 64 --data data/train256 \
    --val-data benchmarks/references/validation -o "$RUN" --init "$INIT" --demodulate "${@:4}" \
    --stream 256 --stream-cpus 1 --crop 128 --batch 4 --lr 5e-4 --steps 30000 --minutes "$MINUTES" \
    --val-every 1000 --val-images 18 --ckpt-every 250 --ema 0.999 $RESUME
