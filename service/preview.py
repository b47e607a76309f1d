"""Previews for the web page: a frame's colour, box-downsampled, as raw linear float32.

The page applies exposure and the tonemap itself, so the exposure slider needs no round trip.
"""
from __future__ import annotations

import numpy as np

DEFAULT_SIDE = 1024


def preview_array(color: np.ndarray, max_side: int = DEFAULT_SIDE) -> np.ndarray:
    """(H, W, 3) linear HDR -> (h, w, 3) float32 with max(h, w) <= max_side, finite.

    Downsampled by the integer factor ceil(max(H, W) / max_side) with a box filter (pixels
    past the last whole box are dropped); NaN -> 0, +-Inf -> +-65504.
    """
    color = np.asarray(color, np.float32)
    h, w = color.shape[:2]
    factor = max(1, -(-max(h, w) // max_side))
    if factor > 1:
        hh, ww = max(1, h // factor) * factor, max(1, w // factor) * factor
        crop = color[:hh, :ww]
        if crop.shape[0] >= factor and crop.shape[1] >= factor:
            color = crop.reshape(hh // factor, factor, ww // factor, factor, 3).mean(axis=(1, 3))
        else:  # a thin strip: subsample rather than average
            color = color[::factor, ::factor]
    return np.ascontiguousarray(np.nan_to_num(color, nan=0.0, posinf=65504.0, neginf=-65504.0),
                                dtype="<f4")
