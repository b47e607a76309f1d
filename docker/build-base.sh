#!/usr/bin/env bash
# A local Debian 12 base image for hosts that reach no container registry:
#   sudo docker/build-base.sh [IMAGE]      (default localhost/mcdenoise-base:bookworm)
# debootstrap --variant=minbase from a Debian mirror (MIRROR, default deb.debian.org; a
# studio's own mirror works), with Python 3.11, venv, libLLVM 19 and libatomic (Mitsuba's LLVM backend),
# imported with `podman import`. Pass the image to the builds as --build-arg BASE_IMAGE=...
set -euo pipefail
IMAGE=${1:-localhost/mcdenoise-base:bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ENGINE=${ENGINE:-podman}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,libllvm19,libatomic1 \
    bookworm "$root" "$MIRROR"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | "$ENGINE" import --change 'CMD ["/bin/bash"]' - "$IMAGE"
echo "built $IMAGE"
