#!/usr/bin/env bash
# Issue 12: the directional-albedo study's renders (renderers/albedo.py). The res256 training
# scenes with the directional albedo (same seeds: the same colour noise, only the albedo
# differs), and the validation, test-split and shared-scene sets with their references reused
# (references carry no albedo; only the noisy inputs are rendered again).
set -euo pipefail
cd "$(dirname "$0")/../../.."
B=.venv/bin
nice -n 10 $B/mcdenoise dataset -o data/train256d --albedo directional --num-cpus 1 \
    --scenes 'interior:0-3,hall:0-3,cornell:0-3,objects:0-3,lights:0-3,detail:0-3' \
    --spp 64 --width 256 --height 256
for set in validation test shared; do
    nice -n 10 $B/python benchmarks/training/diralbedo/reuse_references.py \
        benchmarks/references/$set benchmarks/references/$set-directional
done
