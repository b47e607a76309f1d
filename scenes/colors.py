"""Colour helpers shared by textures, environment maps, materials and the scene families.

Colours are (3,) float64 *linear* RGB (Rec. 709 primaries); inputs given as sRGB (or HSV of
sRGB) are decoded to linear. Nothing here imports another scenes module, so every module
can use it (materials and textures both draw ``random_color``).
"""
from __future__ import annotations

import numpy as np


def srgb_to_linear(c) -> np.ndarray:
    """sRGB-encoded values in [0, 1] (any shape) decoded to linear, float64, same shape."""
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def hsv_to_linear(h: float, s: float, v: float) -> np.ndarray:
    """An sRGB colour given as hue/saturation/value in [0, 1], returned as linear RGB (3,)."""
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return srgb_to_linear(rgb)


def blackbody_tint(kelvin: float) -> np.ndarray:
    """Approximate linear RGB of a light of colour temperature ``kelvin``, max channel 1."""
    t = kelvin / 100.0
    r = 255.0 if t <= 66 else 329.7 * (t - 60) ** -0.1332
    g = 99.47 * np.log(t) - 161.1 if t <= 66 else 288.1 * (t - 60) ** -0.0755
    b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5 * np.log(t - 10) - 305.0)
    c = srgb_to_linear(np.clip([r, g, b], 1, 255) / 255.0)
    return c / c.max()


def luminance(rgb) -> np.ndarray:
    """Rec. 709 luminance of linear RGB ``rgb`` (..., 3), shape (...) (a scalar for one colour)."""
    rgb = np.asarray(rgb)
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


def random_color(rng: np.random.Generator, saturation=(0.0, 0.85), value=(0.25, 0.92)) -> np.ndarray:
    """A plausible surface colour, linear RGB: hue uniform, sRGB saturation/value in ranges."""
    return hsv_to_linear(rng.random(), rng.uniform(*saturation), rng.uniform(*value))
