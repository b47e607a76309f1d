"""A job's layers as pixels for the web page: every layer of the input, and the output's, at
full resolution, kept on disk beside the job and streamed from memory maps.

When a job's input is decoded, each layer is saved as an .npy file of (H, W, C) float32 in the
job's folder: the roles first (``beauty``, ``albedo``, ``normal``, ``alpha``, ``depth``, those
the frame has), then every other layer of the file, grouped by channel-name prefix
(``ViewLayer.DiffCol`` for ``ViewLayer.DiffCol.R/G/B``; a channel without a prefix is a layer
of its own). The beauty's kind is ``color``, each other role's its name; of the other layers,
one of exactly R, G, B is of kind ``color`` and any other of kind ``data``. The output
is the denoised beauty, as stored in the result EXR (rounded to half when the result is half);
every other layer of the output is the input's, as the result EXR keeps it.

Serving reads the files through memory maps in row bands, replacing NaN and +-Inf by 0 for
display, so a request holds a band's worth of memory whatever the frame's size.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mcdenoise.core.frame import Frame

# (layer name, Frame role, kind) in the order the page lists them.
ROLE_LAYERS = (("beauty", "color", "color"), ("albedo", "albedo", "albedo"),
               ("normal", "normal", "normal"), ("alpha", "alpha", "alpha"),
               ("depth", "depth", "depth"))
# Channel suffixes in display order; others follow in file order.
_ORDER = {s: i for i, s in enumerate(("R", "G", "B", "A", "X", "Y", "Z", "W", "U", "V"))}
BAND_BYTES = 4 * 1024 * 1024
HALF_MAX = 65504.0


@dataclass(frozen=True)
class Layer:
    """One layer of a job's input: ``channels`` are the short names (R, G, B; X, Y, Z; A...),
    ``exr`` the full EXR channel names, ``file`` the .npy in the job's folder."""
    name: str
    kind: str
    channels: tuple[str, ...]
    exr: tuple[str, ...]
    file: str

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "channels": list(self.channels),
                "exr_channels": list(self.exr)}


def _short(name: str) -> str:
    return name.rpartition(".")[2]


def layer_arrays(frame: Frame) -> Iterator[tuple[str, str, tuple[str, ...], np.ndarray]]:
    """(name, kind, full channel names, (H, W, C) float32) of each layer of ``frame``, in the
    module docstring's order (one layer's array at a time, so memory holds one copy)."""
    for name, role, kind in ROLE_LAYERS:
        array = getattr(frame, role)
        if array is None:
            continue
        array = array if array.ndim == 3 else array[..., None]
        yield name, kind, tuple(frame.names(role)), array
    groups: dict[str, list[str]] = {}
    for full in frame.extra:
        prefix = full.rpartition(".")[0] or full
        groups.setdefault(prefix, []).append(full)
    for prefix in sorted(groups):
        names = groups[prefix]
        position = {n: i for i, n in enumerate(names)}
        names = sorted(names, key=lambda n: (_ORDER.get(_short(n), len(_ORDER)), position[n]))
        kind = "color" if [_short(n) for n in names] == ["R", "G", "B"] else "data"
        array = np.stack([np.asarray(frame.extra[n], np.float32) for n in names], axis=-1)
        yield prefix, kind, tuple(names), array


def save_layers(frame: Frame, folder: Path) -> list[Layer]:
    """Write every layer of ``frame`` into ``folder`` (blocking); the layers, in order."""
    layers = []
    for index, (name, kind, names, array) in enumerate(layer_arrays(frame)):
        file = f"input-{index}.npy"
        np.save(folder / file, np.ascontiguousarray(array, dtype="<f4"))
        layers.append(Layer(name, kind, tuple(_short(n) for n in names), names, file))
    return layers


def save_output(color: np.ndarray, precision: str, folder: Path) -> str:
    """Write the denoised beauty (H, W, 3) linear HDR as the result EXR stores it: rounded to
    half (finite values clamped to +-65504, as core.exr writes it) when ``precision`` is
    "half". Returns its file name in ``folder``."""
    color = np.asarray(color, np.float32)
    if precision == "half":
        clamped = np.clip(color, -HALF_MAX, HALF_MAX)
        color = np.where(np.isfinite(color), clamped, color).astype(np.float16).astype(np.float32)
    file = "output-beauty.npy"
    np.save(folder / file, np.ascontiguousarray(color, dtype="<f4"))
    return file


def pixel_bands(array: np.ndarray, band_bytes: int = BAND_BYTES) -> Iterator[bytes]:
    """A saved layer (H, W, C), memory-mapped, as raw little-endian float32, row 0 at the
    top, row band by row band, NaN and +-Inf replaced by 0 (blocking: iterate it on a
    thread, as Starlette does with a plain iterator)."""
    rows = max(1, band_bytes // max(1, array.shape[1] * array.shape[2] * 4))
    for top in range(0, array.shape[0], rows):
        band = np.nan_to_num(np.asarray(array[top:top + rows], dtype="<f4"), nan=0.0,
                             posinf=0.0, neginf=0.0)
        yield band.tobytes()
