#!/usr/bin/env bash
# Issue 17: impulse noise with the annealed L0 (epsilon 0.01, noisy targets as corrupted as
# their inputs) at a larger scale than the 16,000-step runs, whose clean-target reference
# itself stopped at 23.26 dB (the target is 25): width 48 (the paper's), twice the steps,
# the same crops. About 0.6 s a step on one core, so it runs across sessions: resumable, the
# committed run folder (benchmarks/training/photo/impulse_l0_w48c64_32k) continues.
#   impulse_l0_w48.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
WORK=runs/photo/impulse_l0_w48c64_32k
mkdir -p runs/photo
[ -d "$WORK" ] || [ ! -d benchmarks/training/photo/impulse_l0_w48c64_32k ] \
    || cp -r benchmarks/training/photo/impulse_l0_w48c64_32k runs/photo/
OMP_NUM_THREADS=1 nice -n 10 .venv/bin/mcdenoise bench photo --noise impulse --losses l0 \
    --data-root "${DATA_ROOT:-../shared/data/images}" --small --width 48 --crop 64 --batch 8 \
    --steps 32000 --work "$WORK" --resume --json runs/photo/impulse_l0_w48.json
