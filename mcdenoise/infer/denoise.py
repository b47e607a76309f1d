"""Denoise frames with a trained model: whole frame at once, padded to a multiple of 32.

    denoiser = load_denoiser("RUN/model.safetensors")
    clean = denoise(denoiser, frame)        # Frame -> Frame, colour replaced, all else kept

The transform (inputs, exposure, tonemap) comes from the model card, so a model file is all
that is needed. Frames too large for memory are denoised in overlapping tiles (tiling.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from mcdenoise.core.frame import Frame
from mcdenoise.nn.model import UNet
from mcdenoise.infer.tiling import run_tiled
from mcdenoise.nn.transform import (Transform, decode_output, frame_input, output_to_hdr,
                                 pad_to_multiple)


@dataclass
class Denoiser:
    """A network with the transform it was trained with (and its card, when from a file)."""
    model: UNet
    transform: Transform
    card: dict[str, Any] = field(default_factory=dict)
    device: torch.device = torch.device("cpu")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_denoiser(path: str | os.PathLike, device: str | torch.device | None = None) -> Denoiser:
    """A Denoiser from a model file (ModelFileError, a ValueError, when it is not one)."""
    from mcdenoise.nn.modelfile import load_model

    device = torch.device(device) if device is not None else default_device()
    model, transform, card = load_model(path, device)
    return Denoiser(model, transform, card, device)


# Tiles of at most 512 pixels bound memory (the 48-wide U-Net needs about 1.1 GB of
# activations per 512^2 tile in fp32; benchmarks/results/denoise_memory.md has the shipped
# model's peak on a 4K frame). Tiles are balanced (tiling.tile_size): a 1080p frame is 15 tiles
# of 480 x 448, and on this project's CPU that is faster than 4 tiles of 1024 x 608 (2.3 vs
# 2.5 s) as well as smaller. 96 pixels of overlap hide the missing context at tile edges.
TILE = 512
OVERLAP = 96


def _forward(denoiser: Denoiser, x: torch.Tensor) -> torch.Tensor:
    """Network output for (1, C, h, w) input of any size: (1, 3, h, w), exposure-scaled
    linear HDR (still to be divided by the frame's exposure scale)."""
    x, (h, w) = pad_to_multiple(x)
    # channels_last: faster convolutions on CPU (oneDNN) and CUDA (tensor cores) alike.
    x = x.contiguous(memory_format=torch.channels_last)
    # bf16 on CUDA (the network's last conv and the kernels stay in fp32). On CPUs with
    # AVX512-BF16 it was about 20 % faster with the same PSNR on the bench frames, but it makes
    # results depend on the exact input bits more than fp32 does; CPU stays fp32 for now.
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=denoiser.device.type == "cuda"):
        y = denoiser.model(x)
    return decode_output(denoiser.transform, y)[:, :, :h, :w].float()


@torch.no_grad()
def denoise(model_or_path: Denoiser | str | os.PathLike, frame: Frame, tile: int = TILE,
            overlap: int = OVERLAP, use_aux: bool = True) -> Frame:
    """The frame with its colour denoised ((H, W, 3) linear HDR, same units as the input).

    Frames larger than ``tile`` pixels on a side are denoised in overlapping tiles, with one
    exposure scale computed on the whole frame, so tiled and whole results agree. Albedo,
    normal, alpha, depth, extra layers and metadata are kept; metadata gains ``denoised``
    (exposure scale used and the model's card summary). ``use_aux=False`` denoises from the
    colour alone even when the frame has albedo and normal (``--no-aux``).
    """
    denoiser = model_or_path if isinstance(model_or_path, Denoiser) else load_denoiser(model_or_path)
    model = denoiser.model
    was_training = model.training
    model.eval()
    try:
        x, scale = frame_input(denoiser.transform, frame, use_aux)
        x = torch.from_numpy(x)[None].to(denoiser.device)
        y = run_tiled(lambda part: _forward(denoiser, part), x, 3, tile, overlap)
        color = output_to_hdr(y[0], scale)
    finally:
        model.train(was_training)
    metadata = dict(frame.metadata)
    metadata.pop("nonfinite", None)  # the output is finite; the reader recounts anyway
    metadata["denoised"] = {"exposure_scale": scale,
                            "model": {k: denoiser.card[k] for k in ("architecture", "training")
                                      if k in denoiser.card}}
    return frame.replace(color=color, metadata=metadata)
