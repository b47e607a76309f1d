"""Uploaded EXR files -> the frame to denoise, with every check that names a problem.

Two ways to upload: one file in the field ``file`` (colour with optional albedo/normal
layers), or separate files in ``color``, ``albedo`` and ``normal``. Headers are checked (see
limits.py) before any file is decoded, so sizes are compared without reading pixels.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mcdenoise.core.exr import ExrError, channel_layout, output_format, read_frame
from mcdenoise.core.frame import Frame
from mcdenoise.infer.files import nonfinite_counts
from service.errors import ApiError
from service.limits import FLOAT_TYPES, check_same_size, checked_header

FILE_FIELDS = ("file", "color", "albedo", "normal")
AUX_ROLES = ("albedo", "normal")


@dataclass
class Upload:
    """The uploaded files of one request: form field -> temporary path, and the names the
    client gave them (for messages and the download's name; never trusted as paths)."""
    paths: dict[str, Path]
    filenames: dict[str, str] = field(default_factory=dict)

    @property
    def main(self) -> str:
        """The field of the colour file: 'file' or 'color'."""
        return "file" if "file" in self.paths else "color"

    def label(self, name: str) -> str:
        filename = self.filenames.get(name)
        return f"{name} ({filename})" if filename else name


@dataclass
class Inputs:
    """What the denoiser gets and what goes back to the client.

    frame: the frame to denoise (colour plus whichever albedo/normal were uploaded).
    original: the colour file as read, every layer and header attribute kept; the response
        is this with its colour replaced.
    precision: "half" or "float", the colour channels' type in the upload.
    compression: the upload's compression when lossless, else "zip".
    repaired: role -> NaN/Inf values the denoiser's transform repairs (only counts > 0).
    """
    frame: Frame
    original: Frame
    precision: str
    compression: str
    repaired: dict[str, int] = field(default_factory=dict)


def load_inputs(upload: Upload, max_pixels: int, nonfinite: str = "repair",
                needs: tuple[str, ...] = (), max_decoded: int | None = None) -> Inputs:
    """Check and decode an upload (blocking: run it off the event loop).

    max_pixels, max_decoded: limits on every part of every file (see limits.checked_header).
    nonfinite: "repair" (pass NaN/Inf in colour, albedo or normal on, counted in
        ``Inputs.repaired``; the model's transform maps NaN -> 0 and +Inf -> 65504) or
        "refuse" (422), as `mcdenoise denoise --nonfinite`.
    needs: the auxiliary buffers the model requires ("albedo", "normal").
    Raises ApiError (413 or 422) naming the field, the file and the problem.
    """
    main = upload.main
    headers = check_headers(upload, max_pixels, max_decoded)
    original = read_exr(upload.paths[main], upload.label(main))
    frame = original
    for role in AUX_ROLES:
        if role in upload.paths:
            buffer = read_aux(upload.paths[role], role, headers[role], upload.label(role))
            frame = frame.replace(**{role: buffer})

    counts = {role: int(np.count_nonzero(~np.isfinite(array)))
              for role in ("color", *AUX_ROLES) if (array := getattr(frame, role)) is not None}
    counts = {role: n for role, n in counts.items() if n}
    if counts and nonfinite == "refuse":
        raise ApiError(422, "nonfinite",
                       f"{upload.label(main)}: non-finite (NaN/Inf) pixel values "
                       f"({nonfinite_counts(counts)}); leave out nonfinite=refuse to have them "
                       "repaired (NaN -> 0, Inf -> 65504) and the frame denoised")
    missing = [role for role in needs if getattr(frame, role) is None]
    if missing:
        raise ApiError(422, "missing_aux",
                       f"the model needs the {' and '.join(missing)} buffer(s), which the upload "
                       "lacks: add them as layers of the EXR (albedo.R,G,B / N.X,Y,Z) or as the "
                       "form fields 'albedo' and 'normal'; or choose a colour-only model")

    return Inputs(frame, original, *output_format(headers[main], original.names("color")),
                  repaired=counts)


def check_headers(upload: Upload, max_pixels: int,
                  max_decoded: int | None = None) -> dict[str, dict[str, Any]]:
    """Every uploaded file's parsed header (field -> read_header's dict) after the limits and
    the size check, without decoding a pixel (blocking, but only reads headers). Raises
    ApiError (413 or 422) naming the field, the file and the problem."""
    headers = {name: checked_header(path, upload.label(name), max_pixels, max_decoded)
               for name, path in upload.paths.items()}
    main = upload.main
    size = (headers[main]["width"], headers[main]["height"])
    for name, header in headers.items():
        check_same_size(header, upload.label(name), size, upload.label(main))
    return headers


def read_exr(path: Path, label: str) -> Frame:
    """read_frame, with its errors as 422 ApiErrors naming ``label`` (never the temp path)."""
    try:
        return read_frame(path)
    except ExrError as error:
        raise ApiError(422, "bad_exr", f"{label}: {error.problem}") from None
    except ValueError as error:  # the Frame refused the layers (shapes that disagree)
        raise ApiError(422, "bad_exr", f"{label}: {error}") from None


def read_aux(path: Path, role: str, header: dict[str, Any], label: str) -> np.ndarray:
    """An albedo or normal buffer, (H, W, 3) float32, from a file of its own.

    Accepts the role's layer (``albedo.R``, ``N.X``, Blender's ``Denoising Albedo``...), a
    plain ``R,G,B`` file (how a single pass is usually saved) and, for normals, ``X,Y,Z``.
    """
    names = list(header["channels"])
    wanted = _aux_channels(names, role)
    if not wanted:
        expected = "R,G,B or albedo.R,G,B" if role == "albedo" else "R,G,B, X,Y,Z or N.X,Y,Z"
        raise ApiError(422, "no_channels", f"{label}: no {role} channels (expected {expected}; "
                                           f"found {', '.join(names) or 'none'})")
    for name in wanted:
        if header["channels"][name] not in FLOAT_TYPES:
            raise ApiError(422, "bad_channel_type",
                           f"{label}: channel {name!r} is of type {header['channels'][name]}; "
                           f"{role} channels must be half or float")
    layout = channel_layout(names)
    if "color" in layout:  # read_frame can read it (and checks it thoroughly)
        frame = read_exr(path, label)
        return getattr(frame, role) if role in layout else frame.color
    return _decode(path, wanted, label)


def _aux_channels(names: list[str], role: str) -> tuple[str, ...] | None:
    layout = channel_layout(names)
    if role in layout:
        return layout[role]
    if "color" in layout:
        return layout["color"]
    # No colour: let the layout rules find the role's layer by pretending a beauty exists.
    found = channel_layout(names + ["R", "G", "B"]).get(role)
    if found:
        return found
    if role == "normal" and {"X", "Y", "Z"} <= set(names):
        return ("X", "Y", "Z")
    return None


def _decode(path: Path, channels: tuple[str, ...], label: str) -> np.ndarray:
    """Decode a few channels of a file that read_frame cannot read (it has no colour)."""
    import OpenEXR

    try:
        with OpenEXR.File(os.fspath(path), separate_channels=True) as exr:
            pixels = {n: c.pixels for i in range(len(exr.parts))
                      for n, c in exr.channels(i).items() if n in channels}
    except (RuntimeError, ValueError, OSError) as error:
        raise ApiError(422, "bad_exr", f"{label}: OpenEXR cannot read it ({error})") from None
    if set(pixels) != set(channels):  # the binding drops parts it cannot decode
        raise ApiError(422, "bad_exr", f"{label}: truncated or corrupt pixel data")
    shapes = {pixels[n].shape for n in channels}
    if len(shapes) != 1:
        raise ApiError(422, "bad_exr", f"{label}: channels of different sizes")
    return np.stack([pixels[n] for n in channels], axis=-1).astype(np.float32)


def download_name(filename: str | None) -> str:
    """``<stem>_denoised.exr`` from the client's file name, reduced to safe characters."""
    stem = Path(filename or "frame").name
    stem = stem[:-4] if stem.lower().endswith(".exr") else stem
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "frame"
    return f"{stem[:100]}_denoised.exr"
