#!/usr/bin/env bash
# Issue 12: the res256 model grown with band weights (--band-weights), on the same 256x256
# renders and recipe; resumable across sessions.  train.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec benchmarks/training/res256/train.sh "${1:-100}" runs/band256 \
    benchmarks/training/res256/model.safetensors --band-weights
