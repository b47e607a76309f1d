#!/usr/bin/env bash
# bench mc of a model on the test split and the shared scenes (8,192-spp references).
#   bench.sh [MODEL [OUTDIR [SUFFIX]]]   SUFFIX: "-directional" for a directional-albedo model
#   (its inputs live in benchmarks/references/{test,shared}-directional: diralbedo/data.sh)
set -euo pipefail
cd "$(dirname "$0")/../../.."
B=.venv/bin
M=${1:-runs/wide24/model.safetensors}
OUT=${2:-runs/wide24}
S=${3:-}
$B/mcdenoise bench mc --scenes interior:9000,hall:9000,cornell:9000,objects:9000,lights:9000,detail:9000 \
    --spp 64 --reference-spp 8192 --chunk-spp 1024 --width 256 --data benchmarks/references/test$S \
    --model "$M" --json "$OUT/mc_test_8192.json" --speed-size 0
$B/mcdenoise bench mc --scenes ../shared/data/scenes/staircase/scene.xml,../shared/data/scenes/mi_bsdf_spheres_envmap/tests/scenes/bsdf_spheres/test_envmap_path.xml,../shared/data/scenes/mi_glass_medium_envmap/tests/scenes/participating_media/test_homo_dielectric_envmap_volpath.xml,../shared/data/scenes/mi_various_emitters/tests/scenes/various_emitters/test_various_emitters_ptracer.xml \
    --spp 64 --reference-spp 8192 --chunk-spp 1024 --width 256 --data benchmarks/references/shared$S \
    --model "$M" --json "$OUT/mc_shared_8192.json" --speed-size 0
