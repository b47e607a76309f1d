#!/usr/bin/env bash
# Issue 12: the shipped 24-wide model grown with the demodulated head (train --init default --demodulate), resumable.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=.venv/bin
MINUTES=${1:-150}
nice -n 10 $B/mcdenoise dataset -o benchmarks/references/validation --scenes 'interior:8002-8004,hall:8002-8004,cornell:8001-8003,objects:8001-8003,lights:8001-8003,detail:8001-8003' \
    --spp 64 --reference-spp 1024 --chunk-spp 1024 --width 128 --height 128
RESUME=""
[ -f runs/demod24/checkpoint.pt ] && RESUME="--resume"
OMP_NUM_THREADS=1 nice -n 10 $B/mcdenoise train --spp 64 --data data/train128 \
    --val-data benchmarks/references/validation -o runs/demod24 --init default --demodulate \
    --stream 256 --stream-cpus 1 --crop 128 --batch 4 --lr 5e-4 --steps 30000 --minutes "$MINUTES" \
    --val-every 1000 --val-images 18 --ckpt-every 250 --ema 0.999 $RESUME
