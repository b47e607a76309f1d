#!/usr/bin/env bash
# Issue 12: the wide24 training scenes rendered at 256x256 instead of 128x128 (same 64 spp),
# so that flat regions are as many pixels wide as in the 256-wide benchmark frames.
set -euo pipefail
cd "$(dirname "$0")/../../.."
nice -n 10 .venv/bin/mcdenoise dataset -o data/train256 --scenes 'interior:0-3,hall:0-3,cornell:0-3,objects:0-3,lights:0-3,detail:0-3' \
    --spp 64 --width 256 --height 256
