"""Denoise frames with a trained model: the one forward pass of the project.

    denoiser = load_denoiser("RUN/model.safetensors")   # OpenVINO on the CPU, else torch
    clean = denoise(denoiser, frame)          # Frame -> Frame, colour replaced, all else kept
    cleans = denoise(denoiser, [f1, f2, f3])  # a batch: one forward pass where they allow it

The transform (inputs, exposure, tonemap) comes from the model card, so a model file is all
that is needed. Frames too large for memory are denoised in overlapping tiles (tiling.py).
``forward`` is the network call itself (pad, channels_last, bf16 on CUDA, crop back), shared
by frame denoising, training-time validation and the photographic benchmark.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import torch

from mcdenoise.core.files import choose_device
from mcdenoise.core.frame import Frame
from mcdenoise.infer import ENGINES, OVERLAP, TILE, TILE_OPENVINO
from mcdenoise.infer.ensemble import check_size, ensemble
from mcdenoise.infer.tiling import run_tiled
from mcdenoise.nn.model import UNet
from mcdenoise.nn.transform import (Transform, decode_output, frame_input, output_to_hdr,
                                    pad_to_multiple)


@dataclass
class Denoiser:
    """A network with the transform it was trained with (and its card, when from a file)."""
    model: UNet
    transform: Transform
    card: dict[str, Any] = field(default_factory=dict)
    device: torch.device = torch.device("cpu")
    tile: int = TILE  # the largest tile side this engine runs fastest (infer/__init__.py)
    engine: str = "torch"
    ensemble: int = 1  # symmetric copies averaged per frame (infer/ensemble.py): 1, 2, 4 or 8


def load_denoiser(path: str | os.PathLike, device: str | torch.device | None = None,
                  engine: str = "auto", ensemble: int = 1) -> Denoiser:
    """A Denoiser from a model file (ModelFileError when it is not one); device None: CUDA
    when available. ``engine="openvino"`` runs the network with OpenVINO on the CPU
    (infer/openvino.py; EngineError when the package is missing or the device is not the
    CPU); ``"auto"``: OpenVINO when the device is the CPU and the package imports, else torch.
    ``ensemble``: average the network over 1, 2, 4 or 8 flipped/transposed copies of each
    input (infer/ensemble.py; ValueError otherwise), N times the network's time."""
    from mcdenoise.nn.modelfile import load_model

    from mcdenoise.nn.model import widen_heads

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    check_size(ensemble)
    device = torch.device(device) if device is not None else choose_device(
        "cpu" if engine == "openvino" else "auto")
    if engine == "auto":
        engine = "openvino" if device.type == "cpu" and _openvino_available() else "torch"
    model, transform, card = load_model(path, device)
    if engine == "openvino":
        from mcdenoise.infer.openvino import EngineError, OpenVinoNet

        if device.type != "cpu":
            raise EngineError(f"--engine openvino runs on the CPU, not on {device}")
        return Denoiser(OpenVinoNet(model.eval()), transform, card, device, TILE_OPENVINO,
                        "openvino", ensemble)
    # The same function with channel counts that oneDNN and tensor cores run faster.
    model = widen_heads(model).to(memory_format=torch.channels_last).eval()
    return Denoiser(model, transform, card, device, ensemble=ensemble)


def _openvino_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def forward(model: torch.nn.Module, x: torch.Tensor, bf16: bool = True) -> torch.Tensor:
    """The raw network output z for (N, C, h, w) input of any size: (N, C_out, h, w) float32.

    The input is reflect-padded to the network's multiple of 32 and the output cropped back.
    channels_last: faster convolutions on CPU (oneDNN) and CUDA (tensor cores) alike. bf16
    autocast on CUDA only (``bf16=False`` keeps fp32 there too): on CPUs with AVX512-BF16 it
    was about 20 % faster with the same PSNR on the bench frames, but it makes results depend
    on the exact input bits more than fp32 does, so the CPU stays fp32.
    """
    x, (h, w) = pad_to_multiple(x)
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16,
                                         enabled=bf16 and x.device.type == "cuda"):
        y = model(x)
    return y[:, :, :h, :w].float()


@overload
def denoise(model_or_path: Denoiser | str | os.PathLike, frames: Frame, tile: int | None = ...,
            overlap: int = ..., use_aux: bool = ..., scale: float | None = ...) -> Frame: ...
@overload
def denoise(model_or_path: Denoiser | str | os.PathLike, frames: list[Frame],
            tile: int | None = ..., overlap: int = ..., use_aux: bool = ...,
            scale: float | None = ...) -> list[Frame]: ...


def denoise(model_or_path, frames, tile: int | None = None, overlap: int = OVERLAP,
            use_aux: bool = True, scale: float | None = None):
    """The frame (or each frame of a list) with its colour denoised: (H, W, 3) linear HDR,
    same units as the input.

    Frames larger than ``tile`` pixels (default: the engine's, Denoiser.tile) on a side are
    denoised in overlapping tiles, with one exposure scale computed on the whole frame, so
    tiled and whole results agree. A list of frames of one size, all with or all without
    each aux buffer, and small enough not to be tiled goes through the network in one batch
    (each frame keeps its own exposure scale); others go one by one. Albedo, normal, alpha,
    depth, extra layers and metadata are kept; metadata gains ``denoised`` (exposure scale used and the model's card summary).
    ``use_aux=False`` denoises from the colour alone even when the frame has albedo and normal
    (``--no-aux``). ``scale``: one exposure scale for every frame instead of each frame's own
    (``--input-scale``: a sequence whose frames must not flicker with their exposure).
    """
    denoiser = model_or_path if isinstance(model_or_path, Denoiser) else load_denoiser(model_or_path)
    tile = tile or denoiser.tile
    single = isinstance(frames, Frame)
    batch = [frames] if single else list(frames)
    model = denoiser.model
    was_training = model.training
    model.eval()
    try:
        if len(batch) > 1 and _batchable(batch, tile):
            results = _denoise_batch(denoiser, batch, use_aux, scale)
        else:
            results = [_denoise_one(denoiser, frame, tile, overlap, use_aux, scale)
                       for frame in batch]
    finally:
        model.train(was_training)
    return results[0] if single else results


def _batchable(frames: list[Frame], tile: int) -> bool:
    first = frames[0]
    return max(first.height, first.width) <= tile and all(
        (f.height, f.width, f.albedo is None, f.normal is None)
        == (first.height, first.width, first.albedo is None, first.normal is None) for f in frames)


def _denoise_one(denoiser: Denoiser, frame: Frame, tile: int, overlap: int, use_aux: bool,
                 scale: float | None) -> Frame:
    x, scale = frame_input(denoiser.transform, frame, use_aux, scale=scale)
    x = torch.from_numpy(x)[None].to(denoiser.device)
    y = run_tiled(lambda part: decode_output(denoiser.transform, _network(denoiser, part)),
                  x, 3, tile, overlap)
    return _result(denoiser, frame, y[0], scale)


def _denoise_batch(denoiser: Denoiser, frames: list[Frame], use_aux: bool,
                   scale: float | None) -> list[Frame]:
    inputs = [frame_input(denoiser.transform, frame, use_aux, scale=scale) for frame in frames]
    x = torch.from_numpy(np.stack([x for x, _ in inputs])).to(denoiser.device)
    y = decode_output(denoiser.transform, _network(denoiser, x))
    return [_result(denoiser, frame, y[i], scale) for i, (frame, (_, scale)) in enumerate(zip(frames, inputs))]


def _network(denoiser: Denoiser, x: torch.Tensor) -> torch.Tensor:
    """The raw output z of ``denoiser``'s network for (N, C, h, w) input, averaged over its
    ensemble's symmetric copies."""
    if denoiser.ensemble == 1:
        return forward(denoiser.model, x)
    return ensemble(lambda copy: forward(denoiser.model, copy), x, denoiser.ensemble)


def _result(denoiser: Denoiser, frame: Frame, output: torch.Tensor, scale: float) -> Frame:
    """``frame`` with its colour replaced by the (3, H, W) exposure-scaled linear HDR output."""
    metadata = dict(frame.metadata)
    metadata.pop("nonfinite", None)  # the output is finite; the reader recounts anyway
    metadata["denoised"] = {"exposure_scale": scale, "ensemble": denoiser.ensemble,
                            "model": {k: denoiser.card[k] for k in ("architecture", "training")
                                      if k in denoiser.card}}
    return frame.replace(color=output_to_hdr(output, scale), metadata=metadata)
