#!/usr/bin/env bash
# Issue 17 on the CPU, resumable (run it again to continue where it stopped): Table 1's
# Gaussian, Poisson and Bernoulli rows (noisy and clean targets, the 4,000-step
# `--small --width 32` protocol of the older 4-crop runs) tested on the whole test sets,
# without the BM3D baselines (minutes per whole image on 2 cores).
#   whole_sets.sh [NOISE ...]   (default: gaussian poisson bernoulli; one torch thread, so two
#                                can run side by side on the two cores)
# Results: runs/photo/*.json/.md/_crops.png/_curves.png, copied by hand into
# benchmarks/results/photo/ once finished.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PHOTO=(nice -n 10 .venv/bin/mcdenoise bench photo --data-root "${DATA_ROOT:-../shared/data/images}" --small --width 32)
export OMP_NUM_THREADS=1
NOISES=("$@")
[ ${#NOISES[@]} -gt 0 ] || NOISES=(gaussian poisson bernoulli)
for noise in "${NOISES[@]}"; do
    "${PHOTO[@]}" --noise "$noise" --targets noisy,clean --steps 4000 --no-baselines \
        --work "runs/photo/${noise}_whole" --json "runs/photo/${noise}_whole.json" --resume
done
