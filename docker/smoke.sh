#!/usr/bin/env bash
# End to end on containers: build the three images (a local Debian base when no registry is
# reachable, Python packages from the wheelhouse), start docker/compose.yaml, render a tiny
# dataset on the two render workers through the Ray head (`--address auto`), denoise one of
# its frames through the service, and tear the stack down. Run as root with podman configured
# (docker/podman-setup.sh):   docker/smoke.sh [PYTHON]
# PYTHON (default .venv/bin/python) fills the wheelhouse and checks the denoised EXR.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=$(realpath -s "${1:-../.venv/bin/python}")  # -s: the venv's python, not the interpreter it links to
ENGINE=${ENGINE:-podman}
PROJECT=mcdenoise-smoke
export SHARE=${SHARE:-$(mktemp -d /tmp/mcdenoise-smoke.XXXXXX)}
export SERVICE_PORT=${SERVICE_PORT:-18000}
COMPOSE=(podman-compose -f compose.yaml -p "$PROJECT")
clock() { local t0=$SECONDS; "$@"; echo "  ($((SECONDS - t0)) s)"; }
cleanup() { "${COMPOSE[@]}" down >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== base image"
BASE=localhost/mcdenoise-base:bookworm
if ! "$ENGINE" image exists "$BASE"; then
    if timeout 60 "$ENGINE" pull -q docker.io/library/python:3.11-slim >/dev/null 2>&1; then
        BASE=docker.io/library/python:3.11-slim
    else
        echo "no registry reachable: building $BASE with debootstrap"
        clock ./build-base.sh "$BASE" | grep -v "^I: "
    fi
fi
echo "base: $BASE"

echo "== wheelhouse"
if ls wheels/torch-*.whl >/dev/null 2>&1; then   # the dependencies are there: the project's wheel anew
    PROJECT_ONLY=1 ./wheelhouse.sh "$PYTHON" 2>/dev/null
else
    clock ./wheelhouse.sh "$PYTHON" 2>/dev/null
fi
du -sh wheels

echo "== images"
WHEEL=$(sha256sum wheels/mcdenoise-*.whl | cut -c1-16)   # a changed project rebuilds its layers
for target in render-node trainer service; do
    echo "building $target"
    clock "$ENGINE" build -q --format docker --build-arg BASE_IMAGE="$BASE" --build-arg PROJECT_WHEEL="$WHEEL" -f Dockerfile --target "$target" \
        -t "localhost/mcdenoise-$target" . | tail -n 1
done
"$ENGINE" images --format '{{.Repository}} {{.Size}}' | grep mcdenoise-

echo "== stack"
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$SHARE/keys"
KEY=$(cat "$SHARE/keys")
chmod -R a+rwX "$SHARE"   # the containers run as uid 10001
"${COMPOSE[@]}" up -d >/dev/null 2>&1
for _ in $(seq 60); do   # until both workers have joined the head
    nodes=$("$ENGINE" exec "${PROJECT}_ray-head_1" python -c 'import ray
ray.init(address="auto", logging_level="ERROR"); print(sum(n["Alive"] for n in ray.nodes()))' \
        2>/dev/null | tail -n 1 || echo 0)
    [ "$nodes" = 3 ] && break
    sleep 2
done
echo "ray nodes alive: $nodes (head + 2 workers)"
[ "$nodes" = 3 ]

echo "== dataset on the workers"
clock "$ENGINE" exec "${PROJECT}_ray-head_1" mcdenoise dataset -o /data/smoke \
    --scenes cornell:0-1,interior:0-1 --spp 8 --width 64 --height 64 --address auto
"$PYTHON" - "$SHARE/smoke/manifest.jsonl" <<'PY'
import collections, json, sys
hosts = collections.Counter(json.loads(line).get("host") for line in open(sys.argv[1]))
print("items rendered per host:", dict(hosts))
assert set(hosts) <= {"render-1", "render-2"}, hosts  # the head has no CPUs for tasks
PY

echo "== denoise through the service"
for _ in $(seq 60); do
    curl -fsS "http://127.0.0.1:$SERVICE_PORT/readyz" >/dev/null 2>&1 && break
    sleep 2
done
frame="$SHARE/smoke/scenes/cornell-0/noisy_0.exr"
clock curl -fsS -H "X-API-Key: $KEY" -F "file=@$frame" \
    "http://127.0.0.1:$SERVICE_PORT/v1/denoise" -o "$SHARE/denoised.exr"
"$PYTHON" - "$frame" "$SHARE/denoised.exr" <<'PY'
import sys
import numpy as np
from mcdenoise.core.exr import read_frame
noisy, clean = read_frame(sys.argv[1]), read_frame(sys.argv[2])
assert clean.color.shape == noisy.color.shape and np.isfinite(clean.color).all()
print(f"denoised {clean.width}x{clean.height}: mean {noisy.color.mean():.4f} -> "
      f"{clean.color.mean():.4f}, std {noisy.color.std():.4f} -> {clean.color.std():.4f}")
PY
echo "== tear down"
"${COMPOSE[@]}" down >/dev/null 2>&1
echo "smoke passed"
