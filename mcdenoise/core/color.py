"""Colour transforms: the paper's tonemap and 8-bit previews of linear HDR images."""
from __future__ import annotations

import os

import numpy as np

GAMMA = 2.2


def tonemap(v: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """The Noise2Noise tonemap T(v) = (v / (1 + v))^(1/2.2) of linear HDR values.

    Shape is kept; output in [0, 1). Negative and non-finite inputs map to 0 (and +inf to 1),
    so previews and network inputs never carry NaN.
    """
    v = np.nan_to_num(np.asarray(v, dtype=np.float32) * exposure, nan=0.0, posinf=1e30, neginf=0.0)
    v = np.maximum(v, 0.0)
    return (v / (1.0 + v)) ** (1.0 / GAMMA)


def preview_rgb8(color: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """(H, W, 3) linear HDR -> (H, W, 3) uint8 through the tonemap, for PNG previews."""
    return np.clip(tonemap(color, exposure) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def save_png(image, path: str | os.PathLike) -> None:
    """Write an (H, W, 3) uint8 array or a PIL image as PNG, atomically."""
    from PIL import Image

    from mcdenoise.core.files import atomic_path

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    with atomic_path(path) as temp:
        image.save(temp, format="PNG", optimize=True)
