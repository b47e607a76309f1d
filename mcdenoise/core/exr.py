"""Read and write frames as OpenEXR files (official ``OpenEXR`` bindings, no imageio).

Channels written: ``R,G,B[,A]``, ``albedo.{R,G,B}``, ``N.{X,Y,Z}``, ``Z`` (or, for a frame
that was read from a file, the names it was read from, see ``Frame.channel_names``).
Recognised on read as well: Blender multilayer (``<ViewLayer>.Combined.R``, ``Denoising
Albedo``, ``Denoising Normal``, ``Depth``), Arnold/RenderMan/V-Ray style ``albedo``/``N``/
``normal`` layers, and Mitsuba AOV names (``nn.X``, ``sh_normal.X``, ``dd.T``...).

Where things live in a ``Frame`` read from a file:

- channels no role uses: ``frame.extra`` (name -> (H, W) array, dtype as stored);
- ``mcdenoise/<key>`` header attributes: ``frame.metadata[key]``;
- every other header attribute that differs from what a plain write would produce
  (a non-zero data-window origin, a render stamp, chromaticities...):
  ``frame.metadata["exr_attributes"]``, a dict of attribute name -> value *as the
  OpenEXR binding gives it* (numpy arrays, tuples, enums). It is NOT JSON-serialisable:
  code that dumps metadata as JSON must skip that key. ``write_frame`` re-emits it;
- non-finite pixel counts: ``frame.metadata["nonfinite"]`` (role -> count, only when > 0).
"""
from __future__ import annotations

import contextlib
import json
import os
import struct
import warnings
from typing import Any

import numpy as np
import OpenEXR

from mcdenoise.core.files import atomic_path
from mcdenoise.core.frame import Frame
from mcdenoise.errors import UserError

EXR_ATTRIBUTES_KEY = "exr_attributes"
NONFINITE_KEY = "nonfinite"
_META_PREFIX = "mcdenoise/"
_JSON_KEYS_ATTR = "mcdenoise:json"  # lists the keys whose string value is JSON (exact round trip)
_HALF_MAX = 65504.0

# Attributes that the writer derives from the frame and the call, never copied through.
_OWNED = {"channels", "compression", "type", "tiles", "chunkCount", "version", "name",
          _JSON_KEYS_ATTR}
_MAGIC = b"\x76\x2f\x31\x01"
_PIXEL_TYPES = {0: "uint", 1: "half", 2: "float"}
_COMPRESSIONS = {{"no": "none"}.get(n, n): c for n, c in (
    (c.name.removesuffix("_COMPRESSION").lower(), c)
    for c in OpenEXR.Compression.__members__.values() if c.name.endswith("_COMPRESSION"))}
_COMPRESSION_NAMES = {int(c): name for name, c in _COMPRESSIONS.items()}
# Scanlines per chunk, from OpenEXRCore's exr_compression_lines_per_chunk().
_LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256,
                    10: 256, 11: 32, 12: 256, 13: 1}
# Header attributes our parser decodes, with their required EXR types.
_DECODED = {"channels": "chlist", "dataWindow": "box2i", "displayWindow": "box2i",
            "compression": "compression", "tiles": "tiledesc", "chunkCount": "int",
            "type": "string"}
_ROLE_SIZES = {"color": 3, "alpha": 1, "albedo": 3, "normal": 3, "depth": 1}

# Layer names by role, best first, compared case-insensitively with a layer's last component.
_BEAUTY_LAYERS = ("combined", "beauty", "rgba", "rgb", "color", "colour", "main")
_AUX_LAYERS = {
    "albedo": ("denoising albedo", "albedo", "diffuse_albedo", "albedo_diffuse"),
    "normal": ("denoising normal", "n", "normal", "normals", "sh_normal", "nn",
               "shading_normal", "geo_normal", "ng", "gn"),
    "depth": ("depth", "z", "denoising depth", "dd"),
}
_RGB = (("R", "G", "B"), ("r", "g", "b"))
_XYZ = (("X", "Y", "Z"), ("x", "y", "z"))
_DEPTH_SUFFIXES = ("Z", "z", "T", "Y", "R")


class ExrError(UserError):
    """A file that cannot be read as a frame (or written). ``str()`` is ``"<path>: <problem>"``."""

    def __init__(self, path: Any, problem: str) -> None:
        super().__init__(os.fspath(path), problem)
        self.path = os.fspath(path)
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


# --- header parsing (our own: cheap, allocation-free, and it lets us check the chunk table) ---

def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """Parse the header(s) of an EXR file without touching pixel data.

    Returns ``width``, ``height`` (pixels, of the first part's data window), ``channels``
    (name -> "half" | "float" | "uint", all parts), ``data_window`` and ``display_window``
    (``((xmin, ymin), (xmax, ymax))``, inclusive), ``compression`` (name), ``storage``
    ("scanlineimage", "tiledimage", "deepscanline", "deeptile"), ``parts``, ``attributes``
    (first part: attribute name -> EXR type name) and ``part_layouts`` (per part: ``width``,
    ``height`` and ``channels``, name -> (type, x sampling, y sampling)), from which the cost
    of decoding can be told before it is paid. Raises ExrError for a missing, non-EXR,
    truncated or malformed header, or an empty data window.
    """
    parts = _scan(path, check_chunks=False)
    first = parts[0]
    (x0, y0), (x1, y1) = first["dataWindow"]
    layouts = [{"width": b[0] - a[0] + 1, "height": b[1] - a[1] + 1,
                "channels": {n: (_PIXEL_TYPES.get(c[0], f"type{c[0]}"), c[1], c[2])
                             for n, c in part["channels"].items()}}
               for part in parts for a, b in [part["dataWindow"]]]
    return {
        "width": x1 - x0 + 1, "height": y1 - y0 + 1,
        "channels": {n: _PIXEL_TYPES.get(c[0], f"type{c[0]}")
                     for part in parts for n, c in part["channels"].items()},
        "data_window": first["dataWindow"], "display_window": first.get("displayWindow"),
        "compression": _COMPRESSION_NAMES.get(first["compression"], str(first["compression"])),
        "storage": first.get("type") or ("tiledimage" if "tiles" in first else "scanlineimage"),
        "parts": len(parts), "attributes": dict(first["_types"]), "part_layouts": layouts,
    }


def check_file(path: str | os.PathLike) -> None:
    """Raise ExrError unless ``path`` is a whole EXR file: every header readable, every offset
    table inside the file and every part's last chunk complete. A fast check (a few small
    reads, no pixel decoded) that catches truncated and unfinished files."""
    _scan(path, check_chunks=True)


def _scan(path: Any, check_chunks: bool) -> list[dict[str, Any]]:
    """Parse every part header; optionally check the offset tables against the file size."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise ExrError(path, "no such file") from None
    except IsADirectoryError:
        raise ExrError(path, "is a directory, not a file") from None
    except OSError as error:
        raise ExrError(path, f"cannot open ({error.strerror})") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size

        def read(n: int, what: str) -> bytes:
            data = fh.read(n)
            if len(data) < n:
                raise ExrError(path, f"truncated {what} (file is only {size} bytes)")
            return data

        def name() -> str:
            raw = b""
            while (byte := read(1, "header")) != b"\0":
                raw += byte
                if len(raw) > 255:
                    raise ExrError(path, "corrupt header (attribute name too long)")
            return raw.decode("latin-1")

        if fh.read(4) != _MAGIC:
            raise ExrError(path, "not an OpenEXR file (bad magic number)")
        version = struct.unpack("<i", read(4, "header"))[0]
        if version & 0xFF != 2:
            raise ExrError(path, f"unsupported OpenEXR version {version & 0xFF}")
        multipart = bool(version & 0x1000)
        parts: list[dict[str, Any]] = []
        while True:
            attrs: dict[str, Any] = {"_types": {}}
            while attr := name():
                kind = name()
                length = struct.unpack("<i", read(4, "header"))[0]
                if length < 0 or fh.tell() + length > size:
                    raise ExrError(path, f"truncated header (attribute {attr!r})")
                attrs["_types"][attr] = kind
                if attr in _DECODED:
                    if kind != _DECODED[attr]:
                        raise ExrError(path, f"corrupt header ({attr!r} has type {kind!r})")
                    attrs[attr] = _decode_attr(path, attr, kind, read(length, "header"))
                else:
                    fh.seek(length, os.SEEK_CUR)
            if len(attrs["_types"]) == 0 and (multipart and parts):
                break
            parts.append(_check_part(path, attrs))
            if not multipart:
                break
        if check_chunks:
            _check_chunks(path, fh, size, parts, multipart)
    return parts


def _decode_attr(path: Any, attr: str, kind: str, data: bytes) -> Any:
    try:
        if kind == "chlist":
            channels, pos = {}, 0
            while data[pos:pos + 1] not in (b"\0", b""):
                end = data.index(b"\0", pos)
                ptype, _, _, xs, ys = struct.unpack_from("<iB3sii", data, end + 1)
                channels[data[pos:end].decode("latin-1")] = (ptype, xs, ys)
                pos = end + 17
            return channels
        if kind == "box2i":
            x0, y0, x1, y1 = struct.unpack("<4i", data)
            return (x0, y0), (x1, y1)
        if kind == "compression":
            return data[0]
        if kind == "tiledesc":
            return struct.unpack("<IIB", data)
        if kind == "int":
            return struct.unpack("<i", data)[0]
        return data.decode("utf-8", "replace")
    except (struct.error, ValueError, IndexError):
        raise ExrError(path, f"corrupt header (attribute {attr!r})") from None


def _check_part(path: Any, attrs: dict[str, Any]) -> dict[str, Any]:
    for required in ("channels", "dataWindow", "compression"):
        if required not in attrs:
            raise ExrError(path, f"corrupt header (no {required!r} attribute)")
    (x0, y0), (x1, y1) = attrs["dataWindow"]
    if x1 < x0 or y1 < y0:
        raise ExrError(path, f"empty data window ({x1 - x0 + 1}x{y1 - y0 + 1} pixels)")
    return attrs


def _chunk_count(part: dict[str, Any]) -> int | None:
    """Entries in a part's offset table, or None where we cannot tell (then we skip the check:
    the binding still fails on such a file, only less politely)."""
    if "chunkCount" in part:
        return part["chunkCount"]
    (x0, y0), (x1, y1) = part["dataWindow"]
    if "tiles" in part:
        tx, ty, mode = part["tiles"]
        if tx < 1 or ty < 1 or mode & 0xF:  # mip/ripmap levels: not worth the arithmetic
            return None
        return -(-(x1 - x0 + 1) // tx) * -(-(y1 - y0 + 1) // ty)
    lines = _LINES_PER_CHUNK.get(part["compression"])
    return None if lines is None else -(-(y1 - y0 + 1) // lines)


def _check_chunks(path: Any, fh: Any, size: int, parts: list[dict], multipart: bool) -> None:
    """Detect truncated or unfinished files before OpenEXR sees them.

    On a truncated file the binding prints a warning and returns a file with no parts (and
    the C library writes to stderr); checking the offset table first gives a clean error.
    """
    for index, part in enumerate(parts):
        count = _chunk_count(part)
        if count is None or part.get("type", "").startswith("deep"):
            return  # tables are consecutive: without this one's length we cannot go on
        start = fh.tell()
        if start + 8 * count > size:
            raise ExrError(path, "truncated (offset table incomplete)")
        offsets = np.frombuffer(fh.read(8 * count), dtype="<u8")
        if np.any(offsets == 0) or np.any(offsets >= size):
            raise ExrError(path, "truncated or unfinished (pixel data missing)")
        if np.any(offsets < start + 8 * count):
            raise ExrError(path, "corrupt offset table")
        # Chunks follow each other, so the file is complete if the last one is.
        last = int(offsets.max())
        leader = (4 if multipart else 0) + (16 if "tiles" in part else 4)
        fh.seek(last + leader)
        packed = fh.read(4)
        if len(packed) < 4 or last + leader + 4 + struct.unpack("<i", packed)[0] > size:
            raise ExrError(path, f"truncated (pixel data of part {index} cut short)")
        fh.seek(start + 8 * count)


# --- channel naming ---

def channel_layout(names: Any) -> dict[str, tuple[str, ...]]:
    """Map roles ("color", "alpha", "albedo", "normal", "depth") to EXR channel names.

    Colour is, in order: top-level ``R,G,B``; the first beauty layer in file order (Blender
    ``<ViewLayer>.Combined``, ``beauty``, ``rgba``...); the only other ``<layer>.R/G/B``
    triple. Alpha is ``A`` beside the colour. Albedo/normal/depth are looked up beside the
    colour layer (e.g. in the same Blender view layer), then at top level. Roles not found
    are absent; in particular, no "color" key means the file has no colour channels.
    """
    groups: dict[str, dict[str, str]] = {}
    for full in names:
        prefix, _, suffix = full.rpartition(".")
        groups.setdefault(prefix, {})[suffix] = full

    def leaf(prefix: str) -> str:
        return prefix.rpartition(".")[2].lower()

    aux_names = {n for names_ in _AUX_LAYERS.values() for n in names_}
    candidates = [""] + [p for p in groups if p and leaf(p) in _BEAUTY_LAYERS]
    beauty = next((p for p in candidates if _pick(groups.get(p, {}), _RGB)), None)
    if beauty is None:  # an unknown layer name will do if it is the only colour triple
        others = [p for p in groups
                  if p and leaf(p) not in aux_names and _pick(groups[p], _RGB)]
        if len(others) != 1:
            return {}
        beauty = others[0]
    layout = {"color": _pick(groups[beauty], _RGB)}
    alpha = groups[beauty].get("A") or groups[beauty].get("a")
    if alpha:
        layout["alpha"] = (alpha,)

    scopes = [beauty.rpartition(".")[0]] + ([""] if "." in beauty else [])
    for role in _AUX_LAYERS:
        found = next((f for scope in scopes if (f := _find_aux(groups, role, scope))), None)
        if found:
            layout[role] = found
    return layout


def find_layer(names: Any, layer: str, vector: bool = False) -> tuple[str, ...] | None:
    """The full names of ``layer``'s R, G, B channels (``vector``: X, Y, Z first, as normals
    are often stored) among ``names``; None when the layer has no complete triple. A layer
    is a channel-name prefix: ``diffuse`` for diffuse.R, ``ViewLayer.DiffCol`` for Blender's."""
    channels = {full.rpartition(".")[2]: full for full in names
                if full.rpartition(".")[0] == layer}
    return _pick(channels, _XYZ + _RGB if vector else _RGB)


def _find_aux(groups: dict[str, dict[str, str]], role: str, scope: str) -> tuple | None:
    """Channels of ``role`` in a layer directly under ``scope`` ("" = top level)."""
    if role == "depth" and scope == "" and "Z" in groups.get("", {}):
        return (groups[""]["Z"],)
    for wanted in _AUX_LAYERS[role]:
        for prefix, layer in groups.items():
            parent, _, leaf = prefix.rpartition(".")
            if parent != scope or leaf.lower() != wanted:
                continue
            if role == "depth":
                suffix = next((s for s in _DEPTH_SUFFIXES if s in layer), None)
                if suffix:
                    return (layer[suffix],)
                continue
            found = _pick(layer, _RGB if role == "albedo" else _XYZ + _RGB)
            if found:
                return found
    return None


def _pick(layer: dict[str, str], sets: tuple) -> tuple[str, ...] | None:
    """Full names of the first suffix set (e.g. R, G, B) that ``layer`` has completely."""
    for suffixes in sets:
        if all(s in layer for s in suffixes):
            return tuple(layer[s] for s in suffixes)
    return None


# --- reading ---

def read_frame(path: str | os.PathLike) -> Frame:
    """Read an EXR file into a Frame (colour etc. as float32, extras in their stored dtype).

    Raises ExrError when the file is missing, not an EXR, truncated, deep, has subsampled
    channels or parts of different sizes, an empty data window, or no colour channels.
    NaN/Inf pixels are kept; their counts per role go to ``metadata["nonfinite"]`` and a
    warning naming the file is emitted. See the module docstring for where the header goes.
    A multi-part file whose parts share one data window is merged (channels of all parts,
    header attributes of the first); ``write_frame`` writes it back as a single part.
    """
    parts = _scan(path, check_chunks=True)
    window = parts[0]["dataWindow"]
    for part in parts:
        if part.get("type", "").startswith("deep"):
            raise ExrError(path, "deep images are not supported")
        if part["dataWindow"] != window:
            raise ExrError(path, "channels of different sizes (parts with different data "
                                 f"windows: {window} vs {part['dataWindow']})")
        for channel, (_, xs, ys) in part["channels"].items():
            if (xs, ys) != (1, 1):
                raise ExrError(path, f"channels of different sizes ({channel!r} is "
                                     f"subsampled {xs}x{ys})")
    names = [n for part in parts for n in part["channels"]]
    if len(set(names)) != len(names):
        raise ExrError(path, "multi-part file repeats channel names (stereo views?)")
    layout = channel_layout(names)
    if "color" not in layout:
        raise ExrError(path, f"no colour channels (found: {', '.join(names) or 'none'})")

    header, pixels = _decode_pixels(path, len(parts))
    (x0, y0), (x1, y1) = window
    for channel, array in pixels.items():
        if array.shape != (y1 - y0 + 1, x1 - x0 + 1):
            raise ExrError(path, f"channels of different sizes ({channel!r} is {array.shape})")
    roles = {role: np.stack([pixels.pop(n) for n in chans], axis=-1).astype(np.float32)
             for role, chans in layout.items()}
    metadata = _metadata_from_header(header, window)
    nonfinite = {role: int(np.count_nonzero(~np.isfinite(a))) for role, a in roles.items()}
    nonfinite = {role: n for role, n in nonfinite.items() if n}
    if nonfinite:
        metadata[NONFINITE_KEY] = nonfinite
        counts = ", ".join(f"{role} {n}" for role, n in nonfinite.items())
        warnings.warn(f"{os.fspath(path)}: non-finite pixel values kept as is ({counts})",
                      RuntimeWarning, stacklevel=2)
    types = {n: _PIXEL_TYPES.get(c[0], "float") for part in parts
             for n, c in part["channels"].items()}
    return Frame(color=roles.pop("color"), **{r: a for r, a in roles.items()},
                 metadata=metadata, extra=pixels, channel_names=dict(layout),
                 channel_types=types)


def read_channels(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every channel of an EXR file as (H, W) float32, by full name (ExrError as read_frame
    for a file that is broken, deep, subsampled or of parts of different sizes). For files
    that hold no colour, such as a separate normal pass."""
    parts = _scan(path, check_chunks=True)
    for part in parts:
        if part.get("type", "").startswith("deep") or part["dataWindow"] != parts[0]["dataWindow"]:
            raise ExrError(path, "deep or multi-size files are not supported here")
        if any((xs, ys) != (1, 1) for _, xs, ys in part["channels"].values()):
            raise ExrError(path, "subsampled channels are not supported")
    _, pixels = _decode_pixels(path, len(parts))
    return {name: np.asarray(array, dtype=np.float32) for name, array in pixels.items()}


def _decode_pixels(path: Any, expected_parts: int) -> tuple[dict, dict[str, np.ndarray]]:
    """Part 0's header attributes and every channel's pixels, via the binding."""
    try:
        with OpenEXR.File(os.fspath(path), separate_channels=True) as exr:
            # On bad pixel data the binding print()s a warning and drops the part.
            if len(exr.parts) < expected_parts:
                raise ExrError(path, "corrupt pixel data (OpenEXR could not decode it)")
            # The dicts are emptied when the with block ends; the arrays survive.
            header = dict(exr.header(0))
            pixels = {n: c.pixels for i in range(expected_parts)
                      for n, c in exr.channels(i).items()}
    except ExrError:
        raise
    except (RuntimeError, ValueError, OSError) as error:
        raise ExrError(path, f"OpenEXR cannot read it ({error})") from None
    return header, pixels


def _metadata_from_header(header: dict, window: tuple) -> dict[str, Any]:
    json_keys = set(header.get(_JSON_KEYS_ATTR) or ())
    metadata: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for name, value in header.items():
        if name.startswith(_META_PREFIX):
            key = name[len(_META_PREFIX):]
            if isinstance(value, np.ndarray) and value.size == 1:  # a double attribute
                value = float(value.reshape(-1)[0])
            if key in json_keys:
                with contextlib.suppress(ValueError, TypeError):
                    value = json.loads(value)
            metadata[key] = value
        elif name not in _OWNED and not _is_default(name, value, window):
            attributes[name] = value
    # Both windows go, or neither: the pair is what places the image.
    if ("dataWindow" in attributes) != ("displayWindow" in attributes):
        attributes["dataWindow"], attributes["displayWindow"] = (
            header["dataWindow"], header["displayWindow"])
    if attributes:
        metadata[EXR_ATTRIBUTES_KEY] = attributes
    return metadata


def _is_default(name: str, value: Any, window: tuple) -> bool:
    """True for attributes a plain write regenerates with this same value."""
    if name in ("dataWindow", "displayWindow"):
        (x0, y0), (x1, y1) = window
        return x0 == 0 and y0 == 0 and _box(value) == ((0, 0), (x1, y1))
    defaults = {"pixelAspectRatio": 1.0, "screenWindowWidth": 1.0,
                "screenWindowCenter": (0.0, 0.0), "lineOrder": OpenEXR.INCREASING_Y}
    if name not in defaults:
        return False
    if name == "screenWindowCenter":
        return tuple(np.asarray(value).tolist()) == defaults[name]
    return value == defaults[name]


def _box(value: Any) -> tuple:
    return tuple(tuple(int(v) for v in corner) for corner in value)


# --- writing ---

# Compressions kept when a denoised frame is written back; a lossy one is not applied twice.
LOSSLESS = ("none", "rle", "zips", "zip", "piz")


def output_format(header: dict[str, Any], color_names: tuple[str, ...]) -> tuple[str, str]:
    """(precision, compression) for writing a denoised version of the file with ``header``
    (from read_header): float when any colour channel was float, else half; the file's own
    compression when lossless, else zip."""
    channels = header["channels"]
    precision = "float" if any(channels.get(n) == "float" for n in color_names) else "half"
    compression = header["compression"]
    return precision, compression if compression in LOSSLESS else "zip"


def write_frame(frame: Frame, path: str | os.PathLike, *, precision: str = "half",
                compression: str = "zip") -> None:
    """Write ``frame`` to ``path`` atomically (temporary file in the same directory, renamed).

    precision: "half" stores colour (and albedo, normal and alpha, unless the frame was read
        from a file) as float16; finite values beyond +-65504 are clamped to +-65504 (half
        would turn them into inf); NaN/Inf stay. Depth is float32 (background depth such as
        1e10 does not fit in half). "float" stores them as float32. Every channel but the
        colour that is in ``frame.channel_types`` keeps that type, so its bits come back as
        they were read. Extras keep their dtype (float16/float32/uint32; anything else is
        stored as float32).
    compression: an OpenEXR compression name: "zip", "piz", "none", "zips", "rle", "pxr24",
        "b44", "b44a", "dwaa", "dwab"... The file is always written as scanlines.
    Metadata becomes ``mcdenoise/<key>`` attributes (int32 -> int, float -> double, str ->
    string, anything else -> JSON string); ``metadata["nonfinite"]`` is not written (it is
    recomputed on read) and ``metadata["exr_attributes"]`` is re-emitted as raw attributes.
    Raises ValueError for bad arguments, ExrError when OpenEXR cannot write; on failure an
    existing file at ``path`` is left untouched and no temporary file remains.
    """
    if precision not in ("half", "float"):
        raise ValueError(f"precision must be 'half' or 'float', not {precision!r}")
    if compression.lower() not in _COMPRESSIONS:
        raise ValueError(f"unknown compression {compression!r} "
                         f"(one of {', '.join(sorted(_COMPRESSIONS))})")
    channels = _channels_for(frame, precision)
    header = _header_for(frame)
    header["compression"] = _COMPRESSIONS[compression.lower()]
    header["type"] = OpenEXR.scanlineimage

    with atomic_path(path) as temp:  # `-o out/new/frame.exr` creates out/new/
        try:
            OpenEXR.File(header, channels).write(str(temp))
        except (RuntimeError, ValueError, TypeError) as error:
            raise ExrError(os.fspath(path), f"cannot write ({error})") from None


def _channels_for(frame: Frame, precision: str) -> dict[str, np.ndarray]:
    channels: dict[str, np.ndarray] = {}

    def put(name: str, array: np.ndarray) -> None:
        if name in channels:
            raise ValueError(f"channel {name!r} would be written twice")
        # The binding writes non-contiguous slices scrambled, so always hand it a copy.
        channels[name] = np.ascontiguousarray(array)

    for role, size in _ROLE_SIZES.items():
        data = frame.color if role == "color" else getattr(frame, role)
        if data is None:
            continue
        names = frame.names(role)
        if len(names) != size:
            raise ValueError(f"frame.channel_names[{role!r}] needs {size} names, got {names}")
        data = data.reshape(data.shape[0], data.shape[1], size)
        default = "float" if role == "depth" else precision
        for i, name in enumerate(names):
            stored = None if role == "color" else frame.channel_types.get(name)
            put(name, _as_pixel_type(data[..., i], stored or default))
    for name, array in frame.extra.items():
        if array.dtype not in (np.float16, np.float32, np.uint32):
            array = array.astype(np.float32)
        put(name, array)
    return channels


def _as_pixel_type(data: np.ndarray, pixel_type: str) -> np.ndarray:
    """(H, W) float32 -> the array OpenEXR stores as ``pixel_type`` ("half", "float", "uint")."""
    if pixel_type == "half":
        clamped = np.clip(data, -_HALF_MAX, _HALF_MAX)
        return np.where(np.isfinite(data), clamped, data).astype(np.float16)
    if pixel_type == "uint":
        return np.clip(np.nan_to_num(data), 0, 2**32 - 1).astype(np.uint32)
    return data.astype(np.float32)


def _header_for(frame: Frame) -> dict[str, Any]:
    # Empty lists are skipped: the binding reads empty string vectors but cannot write them.
    header = {k: v for k, v in (frame.metadata.get(EXR_ATTRIBUTES_KEY) or {}).items()
              if k not in _OWNED and not k.startswith(_META_PREFIX) and not (
                  isinstance(v, list) and not v)}
    if "dataWindow" in header:  # keep the origin; the size is the frame's
        (x0, y0), _ = _box(header["dataWindow"])
        header["dataWindow"] = (np.array([x0, y0], np.int32),
                                np.array([x0 + frame.width - 1, y0 + frame.height - 1], np.int32))
        header.setdefault("displayWindow", header["dataWindow"])
    if header.get("lineOrder") == OpenEXR.RANDOM_Y:  # only valid for tiles; we write scanlines
        del header["lineOrder"]
    json_keys = []
    for key, value in frame.metadata.items():
        if key in (EXR_ATTRIBUTES_KEY, NONFINITE_KEY):
            continue
        name = _META_PREFIX + str(key)
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, str):
            header[name] = value
        elif type(value) is int and -2**31 <= value < 2**31:
            header[name] = value
        elif type(value) is float:
            header[name] = np.array([value], np.float64)  # the binding's spelling of "double"
        else:
            try:
                header[name] = json.dumps(value, default=_jsonable)
            except (TypeError, ValueError) as error:
                raise ValueError(f"metadata {key!r} is not JSON-serialisable: {error}") from None
            json_keys.append(str(key))
    if json_keys:
        header[_JSON_KEYS_ATTR] = json_keys
    return header


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
