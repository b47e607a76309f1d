"""Which RGB layers of a frame `denoise` denoises, with which albedo and normal, and how each
result goes back into the frame.

Layer names (``--layers``, comma-separated; default ``beauty``):
- ``beauty``: the frame's colour, as core/exr.channel_layout picks it (top-level R, G, B,
  Blender's ``<ViewLayer>.Combined``...), with the albedo and normal found beside it;
- an RGB layer, a channel-name prefix with R, G, B under it (``diffuse``, Blender's
  ``ViewLayer.DiffCol``): denoised with the beauty's albedo and normal;
- a view layer (``ViewLayer2``, or a stereo view ``left``): the beauty found under it, with
  the albedo and normal under it (channel_layout again, within that prefix), else the
  frame's own.

Albedo and normal can instead come from a named layer of the file (``--albedo-layer``,
``--normal-layer``) or from separate files (``--albedo``, ``--normal``); those replace the
found ones for every denoised layer. A denoised layer is written back in its own channels
and pixel types; every other channel is kept as it was.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcdenoise.core.exr import channel_layout, find_layer, read_channels
from mcdenoise.core.frame import Frame

BEAUTY = "beauty"


@dataclass(frozen=True)
class AuxSource:
    """Where albedo and normal come from when not from beside the colour: a layer name of the
    file or a separate file (one of the two per buffer, or neither)."""
    albedo_layer: str | None = None
    normal_layer: str | None = None
    albedo_file: Path | None = None
    normal_file: Path | None = None


def parse_layers(spec: str) -> list[str]:
    """'beauty,diffuse' -> ['beauty', 'diffuse'] (ValueError for an empty or repeated name)."""
    names = [name.strip() for name in spec.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise ValueError(f"--layers {spec!r}: give layer names separated by commas, each once")
    return names


def _channels(frame: Frame) -> dict[str, np.ndarray]:
    """Every channel of ``frame`` by EXR name: (H, W) views of the role arrays, and extras."""
    channels = dict(frame.extra)
    for role in ("color", "albedo", "normal", "alpha", "depth"):
        array = getattr(frame, role)
        if array is None:
            continue
        names = frame.names(role)
        planes = [array] if array.ndim == 2 else [array[..., i] for i in range(array.shape[-1])]
        channels.update(zip(names, planes))
    return channels


def _stack(channels: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    return np.stack([channels[n] for n in names], axis=-1).astype(np.float32)


def _aux(frame: Frame, channels: dict[str, np.ndarray], role: str, found: tuple | None,
         layer: str | None, file: Path | None) -> np.ndarray | None:
    """Albedo or normal (H, W, 3) for one denoised layer: the separate file, the named layer,
    the one found beside the layer, or the frame's own (in that order)."""
    if file is not None:
        return read_aux_file(file, role, (frame.height, frame.width))
    if layer is not None:
        names = find_layer(channels, layer, vector=role == "normal")
        if names is None:
            raise ValueError(f"--{role}-layer {layer!r}: the file has no such layer with three "
                             f"channels (layers: {', '.join(layer_names(channels)) or 'none'})")
        return _stack(channels, names)
    if found is not None:
        return _stack(channels, found)
    return getattr(frame, role)


def layer_names(channels) -> list[str]:
    """The prefixes of ``channels`` that hold a layer (``diffuse`` of diffuse.R...)."""
    return sorted({name.rpartition(".")[0] for name in channels if "." in name})


def layer_frames(frame: Frame, layers: list[str], aux: AuxSource = AuxSource()
                 ) -> list[tuple[str, tuple[str, ...], Frame]]:
    """(layer name, its R, G, B channel names, the Frame to denoise) for each of ``layers``:
    colour (H, W, 3) linear HDR with the albedo and normal that go with it (module
    docstring). ValueError naming the layer when the file has no such RGB or view layer."""
    channels = _channels(frame)
    result = []
    for layer in layers:
        found: dict[str, tuple[str, ...]] = {}
        if layer == BEAUTY:
            names = frame.names("color")
            found = {role: frame.names(role) for role in ("albedo", "normal")
                     if getattr(frame, role) is not None}
        elif (names := find_layer(channels, layer)) is None:
            found = channel_layout([n for n in channels if n.startswith(layer + ".")])
            names = found.get("color")
            if names is None:
                raise ValueError(f"--layers: the file has no RGB or view layer {layer!r} "
                                 f"(layers: {', '.join(layer_names(channels)) or 'none'})")
        albedo = _aux(frame, channels, "albedo", found.get("albedo"), aux.albedo_layer,
                      aux.albedo_file)
        normal = _aux(frame, channels, "normal", found.get("normal"), aux.normal_layer,
                      aux.normal_file)
        result.append((layer, names, Frame(color=_stack(channels, names), albedo=albedo,
                                           normal=normal, metadata=dict(frame.metadata))))
    return result


def blend(denoised: np.ndarray, noisy: np.ndarray, amount: float) -> np.ndarray:
    """(H, W, 3) linear HDR: ``amount`` of the noisy input mixed back into the result
    (0 = fully denoised, 1 = the input), as Blender's denoise-node mix or a comp's."""
    if amount == 0:
        return denoised
    return ((1.0 - amount) * denoised + amount * noisy).astype(np.float32)


def put_layer(frame: Frame, names: tuple[str, ...], color: np.ndarray) -> Frame:
    """``frame`` with the channels ``names`` holding ``color`` (H, W, 3): the frame's colour
    when they are its colour channels, else extra channels, each in its stored dtype
    (half values clamped to the half range, as the writer does for the colour)."""
    if tuple(names) == tuple(frame.names("color")):
        return frame.replace(color=color)
    extra = dict(frame.extra)
    for i, name in enumerate(names):
        dtype = extra[name].dtype
        plane = color[..., i]
        if dtype == np.float16:
            plane = np.clip(plane, -65504.0, 65504.0)
        extra[name] = plane.astype(dtype)
    return frame.replace(extra=extra)


def read_aux_file(path: Path, role: str, size: tuple[int, int]) -> np.ndarray:
    """Albedo or normal (H, W, 3) from a separate EXR file: its ``role`` layer when it has
    one, else its colour (R, G, B), else (normal) its only X, Y, Z triple. ValueError when
    there is none or its size is not ``size`` (H, W)."""
    from mcdenoise.core.exr import ExrError

    try:
        channels = read_channels(path)
    except ExrError as error:
        raise ValueError(f"--{role} {path}: {error.problem}") from None
    layout = channel_layout(channels)
    names = layout.get(role) or layout.get("color")
    if names is None and role == "normal":
        names = find_layer(channels, "", vector=True)
    if names is None:
        raise ValueError(f"--{role} {path}: no R, G, B{' or X, Y, Z' if role == 'normal' else ''}"
                         f" channels (found: {', '.join(channels) or 'none'})")
    array = _stack(channels, names)
    if array.shape[:2] != size:
        raise ValueError(f"--{role} {path}: {array.shape[1]}x{array.shape[0]}, but the frame is "
                         f"{size[1]}x{size[0]}")
    return array
