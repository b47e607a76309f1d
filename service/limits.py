"""Limits checked before work is done: the request body's size while it streams in, and the
frame's size, decoded size and channel types from the EXR header before a pixel is decoded.

A header may declare 100,000 x 100,000 pixels in a 300-byte file, or 400 channels, or a second
part far larger than the first; decoding it would try to allocate gigabytes or terabytes. So
every part of every upload's header is parsed on its own first, and the bytes its pixels take
once decoded (channels x pixels x bytes per value) are added up and bounded.
"""
from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from mcdenoise.core.exr import ExrError, channel_layout, read_header
from service.errors import ApiError

# How much of an over-long body we still read (and throw away) after answering 413, so that a
# client that does not read before it has sent everything still sees the answer; beyond this
# the connection is simply closed.
DRAIN_BYTES = 16 * 1024 * 1024
INPUT_ROLES = ("color", "albedo", "normal")
FLOAT_TYPES = ("half", "float")
BYTES_PER_VALUE = {"half": 2, "float": 4, "uint": 4}


class BodyTooLarge(Exception):
    """The request body passed the upload limit (bytes received so far in ``received``)."""

    def __init__(self, received: int) -> None:
        super().__init__(received)
        self.received = received


def too_large(received: int | None, limit: int) -> ApiError:
    got = f"{received / 2**20:.1f} MiB" if received is not None else "the upload"
    return ApiError(413, "upload_too_large",
                    f"{got} is more than the upload limit of {limit / 2**20:.1f} MiB "
                    "(the server's --max-upload-mb)")


def check_declared_length(headers: Any, limit: int) -> None:
    """413 at once when Content-Length already says the body is too large."""
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(int(length), limit)


@dataclass(frozen=True)
class UploadPace:
    """How slowly an upload may arrive: at most ``idle`` seconds without a byte, and after the
    first ``grace`` seconds at least ``min_rate`` bytes/s on average (0: no minimum). Without
    the rate a client dripping one byte a second holds its upload place for the whole request
    timeout (slowloris), as the idle limit alone cannot tell it from a slow network."""
    idle: float | None = None
    min_rate: float = 0.0
    grace: float = 10.0


class UploadTooSlow(Exception):
    """The upload broke its UploadPace: ``code`` (upload_idle, upload_too_slow) and ``why``
    say how; ``received`` bytes had come."""

    def __init__(self, code: str, why: str, received: int) -> None:
        super().__init__(code, why, received)
        self.code, self.why, self.received = code, why, received


async def limited(stream: AsyncIterator[bytes], limit: int,
                  pace: UploadPace = UploadPace()) -> AsyncIterator[bytes]:
    """Pass the chunks of ``stream`` through, raising BodyTooLarge once more than ``limit``
    bytes have come (the body is never held whole, whatever its size) and UploadTooSlow when
    the client breaks ``pace`` (a stalled or dripping client does not hold its place for the
    whole request timeout)."""
    received = 0
    began = time.monotonic()
    chunks = stream.__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), pace.idle)
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise UploadTooSlow("upload_idle", f"sent nothing for {pace.idle:g} s (the server's "
                                "--upload-idle-timeout)", received) from None
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge(received)
        elapsed = time.monotonic() - began
        if pace.min_rate and elapsed > pace.grace and received < pace.min_rate * elapsed:
            raise UploadTooSlow("upload_too_slow", f"arrived at {received / elapsed / 1024:.1f} "
                                f"KiB/s, slower than the server's --min-upload-rate of "
                                f"{pace.min_rate / 1024:g} KiB/s", received)
        yield chunk


async def drain(stream: AsyncIterator[bytes], budget: int = DRAIN_BYTES) -> None:
    """Read and discard up to ``budget`` more bytes of a rejected body."""
    seen = 0
    try:
        async for chunk in stream:
            seen += len(chunk)
            if seen > budget:
                return
    except Exception:  # noqa: BLE001 -- the client went away: nothing left to drain
        return


def decoded_bytes(header: dict[str, Any]) -> int:
    """Bytes the pixels of every part of the file with ``header`` (read_header) take once
    decoded, as OpenEXR hands them over (half as 2 bytes, float and uint as 4)."""
    total = 0
    for part in header["part_layouts"]:
        for kind, xs, ys in part["channels"].values():
            xs, ys = max(xs, 1), max(ys, 1)
            values = -(-part["width"] // xs) * -(-part["height"] // ys)
            total += values * BYTES_PER_VALUE.get(kind, 4)
    return total


def checked_header(path: str | os.PathLike, field: str, max_pixels: int,
                   max_decoded: int | None = None) -> dict[str, Any]:
    """The parsed header of the upload in form field ``field``, after the limits.

    Raises ApiError: 422 when it is not a readable EXR header (the message says why), 413
    when any part declares more than ``max_pixels`` pixels or all parts together would take
    more than ``max_decoded`` bytes decoded, 422 when a colour/albedo/normal channel is not a
    floating-point type (uint colour is a mislabelled ID or mask pass).
    """
    try:
        header = read_header(path)
    except ExrError as error:
        raise ApiError(422, "not_exr", f"{field}: {error.problem}") from None
    for index, part in enumerate(header["part_layouts"]):
        width, height = part["width"], part["height"]
        if width * height > max_pixels:
            where = f"part {index} of the EXR header" if index else "the EXR header"
            raise ApiError(413, "too_many_pixels",
                           f"{field}: {where} declares {width}x{height} pixels "
                           f"({width * height:,}), more than this server's limit of "
                           f"{max_pixels:,} (--max-pixels)")
    if max_decoded is not None and (needed := decoded_bytes(header)) > max_decoded:
        count = sum(len(part["channels"]) for part in header["part_layouts"])
        raise ApiError(413, "too_large_decoded",
                       f"{field}: its {count} channels ({header['parts']} part(s), "
                       f"{header['width']}x{header['height']} pixels) would take "
                       f"{needed / 2**20:,.0f} MiB decoded, more than this server's limit of "
                       f"{max_decoded / 2**20:,.0f} MiB per file (--max-decoded-mb)")
    channels = header["channels"]
    layout = channel_layout(list(channels))
    for role in INPUT_ROLES:
        for name in layout.get(role, ()):
            if channels[name] not in FLOAT_TYPES:
                raise ApiError(422, "bad_channel_type",
                               f"{field}: channel {name!r} ({role}) is of type "
                               f"{channels[name]}; colour, albedo and normal channels must be "
                               "half or float")
    return header


def check_same_size(header: dict[str, Any], label: str, size: tuple[int, int],
                    main: str) -> None:
    """422 naming both sizes unless every part and every channel of the file with ``header``
    is ``size`` (width, height) pixels: the size of ``main``, the colour upload."""
    for index, part in enumerate(header["part_layouts"]):
        found = (part["width"], part["height"])
        where = f" (part {index})" if header["parts"] > 1 else ""
        for name, (_, xs, ys) in part["channels"].items():
            if (xs, ys) != (1, 1):
                found = (-(-part["width"] // max(xs, 1)), -(-part["height"] // max(ys, 1)))
                where = f" (channel {name[:64]!r}, subsampled {xs}x{ys})"
                break
        if found != size:
            raise ApiError(422, "size_mismatch",
                           f"{label}{where} is {found[0]}x{found[1]} pixels but {main} is "
                           f"{size[0]}x{size[1]}; all layers of a frame must be the same size")
