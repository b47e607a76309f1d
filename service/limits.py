"""Limits checked before work is done: the request body's size while it streams in, and the
frame's size and channel types from the EXR header before a pixel is decoded.

A header may declare 100,000 x 100,000 pixels in a 300-byte file; decoding it would try to
allocate terabytes. So every upload's header is parsed on its own first.
"""
from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from mcdenoise.core.exr import ExrError, channel_layout, read_header
from service.errors import ApiError

# How much of an over-long body we still read (and throw away) after answering 413, so that a
# client that does not read before it has sent everything still sees the answer; beyond this
# the connection is simply closed.
DRAIN_BYTES = 16 * 1024 * 1024
INPUT_ROLES = ("color", "albedo", "normal")
FLOAT_TYPES = ("half", "float")


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


async def limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """Pass the chunks of ``stream`` through, raising BodyTooLarge once more than ``limit``
    bytes have come: the body is never held whole, whatever its size."""
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge(received)
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


def checked_header(path: str | os.PathLike, field: str, max_pixels: int) -> dict[str, Any]:
    """The parsed header of the upload in form field ``field``, after the limits.

    Raises ApiError: 422 when it is not a readable EXR header (the message says why), 413
    when it declares more than ``max_pixels`` pixels, 422 when a colour/albedo/normal channel
    is not a floating-point type (uint colour is a mislabelled ID or mask pass).
    """
    try:
        header = read_header(path)
    except ExrError as error:
        raise ApiError(422, "not_exr", f"{field}: {error.problem}") from None
    width, height = header["width"], header["height"]
    if width * height > max_pixels:
        raise ApiError(413, "too_many_pixels",
                       f"{field}: the EXR header declares {width}x{height} pixels "
                       f"({width * height:,}), more than this server's limit of "
                       f"{max_pixels:,} (--max-pixels)")
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
