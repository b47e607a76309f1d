"""Denoising a batch of frames: one at a time through ``infer.denoise``, or, for several small
frames of one size on a GPU, in one forward pass.

``infer.denoise`` stays the one path for single frames (it tiles large frames); the batched
path is only taken for frames small enough never to be tiled (BATCH_MAX_PIXELS). It repeats
what ``denoise`` does for one frame, step by step; tests/test_service.py checks that the two
agree for every output map, so a change to ``denoise`` that is not mirrored here fails there.
(Better: ``infer`` offering a batched ``denoise`` of its own, which this would then call.)
"""
from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import torch

from mcdenoise.core.frame import Frame
from mcdenoise.infer.denoise import Denoiser, denoise
from mcdenoise.nn.transform import decode_output, frame_input, output_to_hdr, pad_to_multiple
from service.config import BATCH_MAX_PIXELS


def batch_key(model: str, frame: Frame) -> Hashable | None:
    """Frames with equal keys may share a forward pass; None: this frame goes alone."""
    if frame.height * frame.width > BATCH_MAX_PIXELS:
        return None
    return (model, frame.height, frame.width, frame.albedo is not None, frame.normal is not None)


def denoise_frames(denoiser: Denoiser, frames: list[Frame]) -> list[Frame]:
    """Denoise ``frames`` (all of one batch_key when more than one); outputs in order.

    Same result as ``[denoise(denoiser, f) for f in frames]``: each frame keeps its own
    exposure scale, and gets the same ``metadata["denoised"]``.
    """
    if len(frames) == 1:
        return [denoise(denoiser, frames[0])]
    inputs = [frame_input(denoiser.transform, frame) for frame in frames]
    x = torch.from_numpy(np.stack([x for x, _ in inputs])).to(denoiser.device)
    with torch.no_grad():
        x, (h, w) = pad_to_multiple(x)
        model = denoiser.model.eval()
        if denoiser.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                y = model(x)
        else:
            y = model(x)
        y = decode_output(denoiser.transform, y)
    results = []
    for i, (frame, (_, scale)) in enumerate(zip(frames, inputs)):
        metadata = dict(frame.metadata)
        metadata.pop("nonfinite", None)
        metadata["denoised"] = {"exposure_scale": scale,
                                "model": {k: denoiser.card[k] for k in ("architecture", "training")
                                          if k in denoiser.card}}
        results.append(frame.replace(color=output_to_hdr(y[i, :, :h, :w], scale),
                                     metadata=metadata))
    return results
