"""OpenVINO as the CPU engine: the same network, run by OpenVINO's CPU plugin instead of torch.

    net = OpenVinoNet(model)         # a drop-in for the UNet in a Denoiser (infer/denoise.py)
    y = net(x)                       # (N, C_in, H, W) float32 -> (N, C_out, H, W) float32

On the project's CPUs OpenVINO denoised a 1080p frame in about 0.7 of torch's time (tiles of
1088 pixels against torch's best, 768; benchmarks/results/cpu_speed.md): it fuses the
convolutions with their leaky ReLUs and the kernel filter's elementwise chain, which torch's
eager mode runs one by one; and it kept its speed when other work shared the cores, where
torch slowed down threefold. Outputs agree with torch to float rounding (inference precision
is pinned to f32: on CPUs with AMX or AVX512-BF16 OpenVINO would otherwise pick bf16).

Converting a network takes seconds, so the converted model is cached on disk under
``$MCDENOISE_CACHE`` (default ``$XDG_CACHE_HOME/mcdenoise``, else ``~/.cache/mcdenoise``),
keyed by the weights, the architecture and the OpenVINO version; OpenVINO's own compiled-blob
cache lives beside it. ``openvino`` is one of the project's dependencies; where it cannot be
installed (a platform without its wheels), ``--engine auto`` falls back to torch.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import warnings
from pathlib import Path

import torch

from mcdenoise.errors import UserError


# Tracing warns that the UNet's shape check becomes a constant: it is checked by forward() in
# infer/denoise.py (which pads) before any input reaches the engine; and OpenVINO's converter
# uses torch.jit.trace, which torch marks deprecated. Filters set once here rather than by
# warnings.catch_warnings() around the conversion: that saves and restores the process-wide
# warning state, and the service converts in a worker thread while other threads run.
warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")


class EngineError(UserError, RuntimeError):
    """The engine asked for cannot run here (package missing, not a CPU)."""


def cache_dir() -> Path:
    base = os.environ.get("MCDENOISE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mcdenoise")
    return Path(base) / "openvino"


def require_openvino():
    """The openvino module, imported without its telemetry (below); EngineError naming the
    package to install when it is missing."""
    _block_telemetry()
    try:
        import openvino
    except ImportError:
        raise EngineError("--engine openvino needs the openvino package: pip install "
                          "openvino (or use --engine torch)") from None
    return openvino


def _block_telemetry() -> None:
    """OpenVINO reports its import and each model conversion to Google Analytics, from a
    forked process, unless a consent file in the user's home says no. A render node or a
    studio's server must not call out (nor fork from a server's worker thread), so the
    telemetry package is made unimportable in this process before openvino is first imported:
    OpenVINO then uses its own stub, as when that package is not installed."""
    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # `import openvino_telemetry` raises ImportError
        return
    try:  # imported already (by another library): switch the converter's copies to the stub
        from openvino.tools.ovc import convert_impl, telemetry_stub, telemetry_utils
    except ImportError:
        return
    convert_impl.tm = telemetry_utils.tm = telemetry_stub


def _key(model: torch.nn.Module, version: str) -> str:
    digest = hashlib.sha256(json.dumps({"config": repr(model.config), "openvino": version},
                                       sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


class OpenVinoNet(torch.nn.Module):
    """``model`` compiled by OpenVINO for this machine's CPU, any batch and H, W (multiples of
    32, as the UNet needs). Inference only: it has no parameters to train. Each calling
    thread gets its own infer request, so the service's worker threads can share one."""

    def __init__(self, model: torch.nn.Module, threads: int | None = None):
        super().__init__()
        ov = require_openvino()
        self.config = model.config
        core = ov.Core()
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        core.set_property({"CACHE_DIR": str(folder / "compiled")})
        path = folder / f"{_key(model, ov.__version__)}.xml"
        if path.exists():
            network = core.read_model(path)
        else:
            network = self._convert(ov, model)
            # Written under a temporary name and renamed (the .bin first), so that a process
            # reading the cache never sees half a model.
            partial = path.with_name(f".{path.stem}.{os.getpid()}.xml")
            ov.save_model(network, partial, compress_to_fp16=False)
            os.replace(partial.with_suffix(".bin"), path.with_suffix(".bin"))
            os.replace(partial, path)
        self.compiled = core.compile_model(network, "CPU", {
            "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32",
            "INFERENCE_NUM_THREADS": threads or torch.get_num_threads()})
        self._local = threading.local()

    @staticmethod
    def _convert(ov, model: torch.nn.Module):
        was_training = model.training
        model.eval()
        sample = torch.zeros(1, model.config.in_channels, 64, 64)
        try:
            with torch.no_grad():
                return ov.convert_model(model, example_input=sample, input=[ov.PartialShape(
                    [-1, model.config.in_channels, -1, -1])])
        finally:
            model.train(was_training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, H, W) float32 on the CPU -> (N, C_out, H, W) float32."""
        if x.device.type != "cpu":
            raise EngineError("the OpenVINO engine runs on the CPU only")
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        out = request.infer({0: x.float().contiguous().numpy()})[0]
        return torch.from_numpy(out.copy())  # the request reuses its output buffer
