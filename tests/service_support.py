"""Helpers for the service tests: tiny real models, EXR frames as bytes, real servers.

Servers are real uvicorn processes on 127.0.0.1 (started through ``mcdenoise serve``), or
uvicorn in a thread of the test process where a test must reach inside (a slowed denoiser).
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
KEY = "test-key-6f1d0c2a9b"        # the key the keyed servers accept
WRONG_KEY = "wrong-key-93e7b5a1c4"  # a key they do not


def make_model(path: Path, inputs: str = "full", width: int = 16, seed: int = 0,
               missing_aux: str = "error") -> Path:
    """A real model file with random weights: the U-Net at ``width`` with a valid card;
    ``missing_aux="zeros"`` marks it as one that copes without albedo and normal."""
    from dataclasses import replace

    import torch

    from mcdenoise.nn.model import UNet, UNetConfig
    from mcdenoise.nn.modelfile import save_model
    from mcdenoise.nn.transform import transform_for

    torch.manual_seed(seed)
    transform = replace(transform_for(inputs), missing_aux=missing_aux)
    config = UNetConfig(in_channels=transform.channels, out_channels=3, width=width)
    save_model(path, UNet(config), {"architecture": config.to_dict(),
                                     "transform": transform.to_dict(),
                                     "training": {"note": "random weights, for tests"}})
    return path


def make_frame(height: int = 64, width: int = 64, aux: bool = True, seed: int = 0, **kwargs):
    """A noisy-looking frame: gamma-distributed HDR colour, plausible albedo and normals."""
    from mcdenoise.core.frame import Frame

    rng = np.random.default_rng(seed)
    color = rng.gamma(1.0, 0.5, (height, width, 3)).astype(np.float32)
    if aux:
        kwargs.setdefault("albedo", rng.uniform(0.05, 0.95, (height, width, 3)))
        normal = rng.normal(size=(height, width, 3))
        kwargs.setdefault("normal", normal / np.linalg.norm(normal, axis=-1, keepdims=True))
    return Frame(color=color, **kwargs)


def exr_bytes(frame, folder: Path, name: str = "frame.exr", **write_options) -> bytes:
    """``frame`` written as an EXR file in ``folder``; its bytes."""
    from mcdenoise.core.exr import write_frame

    path = Path(folder) / name
    write_frame(frame, path, **write_options)
    return path.read_bytes()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(base_url: str, timeout: float = 60.0, process: subprocess.Popen | None = None,
               headers: dict | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2, headers=headers).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} not ready after {timeout} s")


@contextlib.contextmanager
def server_process(args: list[str], log_path: Path, timeout: float = 90.0,
                   env: dict[str, str] | None = None):
    """``mcdenoise serve ARGS --port P`` in a subprocess on 127.0.0.1; yields its base URL.

    Its stdout and stderr go to ``log_path``; ``env``: variables added to this process's.
    Stopped (SIGTERM, then SIGKILL) on exit.
    """
    port = free_port()
    # Passive OpenMP waiting: with the default spinning, torch on a machine shared with other
    # jobs runs many times slower (benchmarks/results/service.md).
    env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mcdenoise.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port), *args], stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, timeout, process)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def keyed_server(folder: Path, *args: str):
    """A served tiny model that requires KEY: ``server_process`` with a model file and a key
    file made in ``folder``; yields the base URL."""
    model = make_model(folder / "tiny.safetensors")
    keys = folder / "keys.txt"
    keys.write_text(KEY + "\n")
    with server_process(["--model", str(model), "--api-key-file", str(keys), *args],
                        folder / "server.log") as base_url:
        yield base_url


def make_app(model: Path, **settings):
    """The service's app for ``model`` (ServeConfig ``settings``), to serve in a thread.

    On torch unless ``engine`` says otherwise: with a module's long-lived server holding an
    OpenVINO model, a second in-process server started under pytest's output capture left the
    capture's buffer closed (pytest then failed reading it; each server alone, or either on
    torch, was fine). The OpenVINO engine is served from a subprocess in test_openvino.py."""
    from service.app import create_app
    from service.config import ServeConfig

    return create_app(ServeConfig(model=[str(model)], **{"engine": "torch", **settings}))


@contextlib.contextmanager
def server_thread(app, timeout: float = 60.0, port: int = 0):
    """uvicorn serving ``app`` on 127.0.0.1 in a thread of this process (on ``port``, or any
    free one); yields its base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, timeout)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(15)
