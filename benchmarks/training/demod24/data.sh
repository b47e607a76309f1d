#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/../.."
B=.venv/bin
nice -n 10 $B/mcdenoise dataset -o data/train128 --scenes 'interior:0-3,hall:0-3,cornell:0-3,objects:0-3,lights:0-3,detail:0-3' \
    --spp 64 --width 128 --height 128
nice -n 10 $B/mcdenoise dataset -o benchmarks/references/validation --scenes 'interior:8002-8004,hall:8002-8004,cornell:8001-8003,objects:8001-8003,lights:8001-8003,detail:8001-8003' \
    --spp 64 --reference-spp 1024 --chunk-spp 1024 --width 128 --height 128
echo data done
