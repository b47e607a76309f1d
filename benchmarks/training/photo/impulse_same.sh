#!/usr/bin/env bash
# Issue 17: random-valued impulse noise, noisy targets as corrupted as their inputs
# (--target-level same, impulse's default), L0 / L1 / L2, 16,000 steps each, one process per
# loss in parallel (one torch thread each); resumable, the committed run folders continue.
# Then one report of the three finished runs.   impulse_same.sh [LOSS ...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
WORK=runs/photo/impulse_same_w32c64_16k
mkdir -p runs/photo
[ -d "$WORK" ] || cp -r benchmarks/training/photo/impulse_same_w32c64_16k runs/photo/
FLAGS=(--noise impulse --data-root ../shared/data/images --small --width 32 --crop 64 --batch 8
       --steps 16000 --work "$WORK" --resume)
for loss in ${@:-l0 l1 l2}; do
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise bench photo "${FLAGS[@]}" --losses "$loss" \
        --json "runs/photo/impulse16k_same_$loss.json" >> "runs/photo/impulse16k_same_$loss.log" 2>&1 &
done
wait
OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise bench photo "${FLAGS[@]}" --losses l0,l1,l2 \
    --json runs/photo/impulse16k_same.json
