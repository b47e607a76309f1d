# syntax=docker/dockerfile:1
# The denoise service: `mcdenoise serve` on port 8000 of the container, API keys required.
# Build from the repository root (docker/README.md has the details):
#   docker build -f docker/service.Dockerfile -t mcdenoise-service .
FROM python:3.11-slim

# torch comes first and from PyTorch's own index: the CPU wheel by default (about 200 MB, where
# PyPI's Linux wheel pulls several GB of CUDA libraries). For NVIDIA GPUs pass the index of a
# CUDA build, e.g. --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128: its
# wheels bundle the CUDA runtime, so this base image serves GPUs too (run with --gpus all).
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# OMP_WAIT_POLICY=PASSIVE: on shared or CPU-limited nodes OpenMP's spin-waiting made inference
# up to 20x slower (benchmarks/results/service.md); on a dedicated node it costs next to nothing.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_WAIT_POLICY=PASSIVE

RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY mcdenoise ./mcdenoise
COPY renderers ./renderers
COPY scenes ./scenes
COPY service ./service
# Serving needs none of the farm's and trainer's packages (Mitsuba, Ray, TensorBoard): install
# the project without dependencies, then exactly what `mcdenoise serve` imports. Keep this list
# in step with pyproject.toml.
RUN pip install --no-deps . \
 && pip install "numpy>=1.24" "openexr>=3.3" "fastapi>=0.110" "uvicorn>=0.27" \
        "python-multipart>=0.0.9" "safetensors>=0.4" "prometheus-client>=0.17" \
        "pillow>=10" "tqdm>=4.66" \
 && rm -rf /src

RUN useradd --system --create-home --uid 10001 mcdenoise
USER mcdenoise
WORKDIR /home/mcdenoise

EXPOSE 8000
# /readyz answers 200 once the models are loaded.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD \
    python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"

# Listening on all interfaces makes --api-key-file mandatory: the service refuses to start
# without it. Mount the model and the key file at these paths, or override CMD.
ENTRYPOINT ["mcdenoise", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--model", "/models/model.safetensors", "--api-key-file", "/run/secrets/mcdenoise-keys"]
