#!/usr/bin/env bash
# Fill docker/wheels/ with every Python package the images install (the builds run
# `pip install --no-index --find-links /wheels`, so they need no package index):
#   docker/wheelhouse.sh [PYTHON]   (default .venv/bin/python; Python 3.11 on x86_64, as in the base)
# torch comes as torch==2.13.0 (the CPU wheel where that is what pip finds; TORCH=... to change).
# PROJECT_ONLY=1 rebuilds only the project's own wheel (after a change to the working tree).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-.venv/bin/python}
TORCH=${TORCH:-torch==2.13.0}
mkdir -p docker/wheels
if [ -z "${PROJECT_ONLY:-}" ]; then
    "$PYTHON" -m pip download -q -d docker/wheels "$TORCH" '.[all]'
fi
rm -f docker/wheels/mcdenoise-*   # the project itself as a wheel of the working tree
"$PYTHON" -m pip wheel -q --no-deps -w docker/wheels .
du -sh docker/wheels
