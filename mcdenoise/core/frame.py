"""The one data type that flows from renderer to service: a frame.

A frame is a linear-HDR colour image plus the optional auxiliary buffers a denoiser uses
(albedo, normal) and those it passes through (alpha, depth), with free-form metadata.
Layers the project does not interpret (a Blender ``DiffCol`` pass, say) ride along in
``extra`` so that a read-modify-write of an EXR keeps them bit for bit.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Channel names we write (core/exr.py maps other layouts it reads onto these roles).
COLOR_CHANNELS = ("R", "G", "B")
ALPHA_CHANNEL = "A"
ALBEDO_CHANNELS = ("albedo.R", "albedo.G", "albedo.B")
NORMAL_CHANNELS = ("N.X", "N.Y", "N.Z")
DEPTH_CHANNEL = "Z"

DEFAULT_CHANNEL_NAMES: dict[str, tuple[str, ...]] = {
    "color": COLOR_CHANNELS,
    "alpha": (ALPHA_CHANNEL,),
    "albedo": ALBEDO_CHANNELS,
    "normal": NORMAL_CHANNELS,
    "depth": (DEPTH_CHANNEL,),
}


@dataclass
class Frame:
    """One rendered (or denoised) image with its buffers.

    color:  (H, W, 3) float32, linear HDR radiance.
    albedo: (H, W, 3) float32 in [0, 1] (emitters and mirrors may exceed 1), or None.
    normal: (H, W, 3) float32 in [-1, 1] (world or camera space, as the renderer gave), or None.
    alpha:  (H, W) float32 in [0, 1], or None.
    depth:  (H, W) float32, distance along the camera ray in scene units, or None.
    metadata: JSON-serialisable facts (scene, spp, seed, renderer, versions, timings).
    extra: channel name -> (H, W) array of any EXR pixel dtype, kept untouched.
    channel_names: role -> EXR channel names this frame was read from (or will be written to);
        roles not listed use DEFAULT_CHANNEL_NAMES.
    channel_types: EXR channel name -> "half" | "float" | "uint", the pixel type it was read
        with (empty for a frame that was never a file). The writer keeps these types for
        every channel but the colour, so a read-modify-write changes nothing it did not touch.
    """

    color: np.ndarray
    albedo: np.ndarray | None = None
    normal: np.ndarray | None = None
    alpha: np.ndarray | None = None
    depth: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    channel_names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    channel_types: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.color = _as_image(self.color, "color", 3)
        h, w = self.color.shape[:2]
        for name, channels in (("albedo", 3), ("normal", 3), ("alpha", None), ("depth", None)):
            value = getattr(self, name)
            if value is None:
                continue
            value = _as_image(value, name, channels)
            if value.shape[:2] != (h, w):
                raise ValueError(
                    f"frame {name} is {value.shape[1]}x{value.shape[0]} but colour is {w}x{h}")
            setattr(self, name, value)
        for name, value in self.extra.items():
            if value.shape != (h, w):
                raise ValueError(f"frame layer {name!r} has shape {value.shape}, expected {(h, w)}")

    @property
    def height(self) -> int:
        return int(self.color.shape[0])

    @property
    def width(self) -> int:
        return int(self.color.shape[1])

    @property
    def has_aux(self) -> bool:
        """True when both albedo and normal are present (the 9-channel denoiser input)."""
        return self.albedo is not None and self.normal is not None

    def names(self, role: str) -> tuple[str, ...]:
        """EXR channel names for ``role`` ('color', 'alpha', 'albedo', 'normal', 'depth')."""
        return self.channel_names.get(role, DEFAULT_CHANNEL_NAMES[role])

    def replace(self, **changes: Any) -> "Frame":
        """A copy with some fields replaced; arrays not replaced are shared, dicts are copied."""
        changes.setdefault("metadata", dict(self.metadata))
        changes.setdefault("extra", dict(self.extra))
        changes.setdefault("channel_names", dict(self.channel_names))
        changes.setdefault("channel_types", dict(self.channel_types))
        return dataclasses.replace(self, **changes)


def _as_image(value: np.ndarray, name: str, channels: int | None) -> np.ndarray:
    """Validate and convert to float32: (H, W, channels), or (H, W) when channels is None."""
    array = np.asarray(value)
    if channels is None:
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[..., 0]
        if array.ndim != 2:
            raise ValueError(f"frame {name} must be (H, W), got shape {array.shape}")
    elif array.ndim != 3 or array.shape[2] != channels:
        raise ValueError(f"frame {name} must be (H, W, {channels}), got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)
