"""Denoise frames with a trained model: whole frame at once, padded to a multiple of 32.

    denoiser = load_denoiser("RUN/model.safetensors")
    clean = denoise(denoiser, frame)        # Frame -> Frame, colour replaced, all else kept

The transform (inputs, exposure, tonemap) comes from the model card, so a model file is all
that is needed. Tiling for frames too large for memory belongs here too (not yet).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from mcdenoise.frame import Frame
from mcdenoise.model import UNet
from mcdenoise.transform import (Transform, decode_output, frame_input, output_to_hdr,
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
    from mcdenoise.modelfile import load_model

    device = torch.device(device) if device is not None else default_device()
    model, transform, card = load_model(path, device)
    return Denoiser(model, transform, card, device)


@torch.no_grad()
def denoise(model_or_path: Denoiser | str | os.PathLike, frame: Frame) -> Frame:
    """The frame with its colour denoised ((H, W, 3) linear HDR, same units as the input).

    Albedo, normal, alpha, depth, extra layers and metadata are kept; metadata gains
    ``denoised`` (exposure scale used and the model's card summary).
    """
    denoiser = model_or_path if isinstance(model_or_path, Denoiser) else load_denoiser(model_or_path)
    model = denoiser.model
    was_training = model.training
    model.eval()
    try:
        x, scale = frame_input(denoiser.transform, frame)
        x = torch.from_numpy(x)[None].to(denoiser.device)
        x, (h, w) = pad_to_multiple(x)
        if denoiser.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                y = model(x)
        else:
            y = model(x)
        y = decode_output(denoiser.transform, y)
        color = output_to_hdr(y[0, :, :h, :w], scale)
    finally:
        model.train(was_training)
    metadata = dict(frame.metadata)
    metadata.pop("nonfinite", None)  # the output is finite; the reader recounts anyway
    metadata["denoised"] = {"exposure_scale": scale,
                            "model": {k: denoiser.card[k] for k in ("architecture", "training")
                                      if k in denoiser.card}}
    return frame.replace(color=color, metadata=metadata)
