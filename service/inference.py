"""Which queued frames may share one forward pass of the denoiser (``infer.denoise`` takes
the batch): frames of one model and size, with the same aux buffers, small enough never to be
tiled (BATCH_MAX_PIXELS)."""
from __future__ import annotations

from collections.abc import Hashable

from mcdenoise.core.frame import Frame
from mcdenoise.infer.denoise import denoise  # noqa: F401  (the service's call; tests slow it down)
from service.config import BATCH_MAX_PIXELS


def batch_key(model: str, frame: Frame) -> Hashable | None:
    """Frames with equal keys may share a forward pass; None: this frame goes alone."""
    if frame.height * frame.width > BATCH_MAX_PIXELS:
        return None
    return (model, frame.height, frame.width, frame.albedo is not None, frame.normal is not None)
