"""Reading a multipart upload into temporary files, within the size limit, with strict fields.

The body is parsed as it streams in (Starlette's multipart parser, files spooled to disk past
SPOOL_BYTES); the byte count is checked on every chunk, so an over-size body is refused after at
most the limit plus one chunk, never held whole. Each uploaded file is then copied into the
request's own temporary folder, because the EXR reader takes a path.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from service.errors import ApiError, ClientGone
from service.inputs import Upload
from service.limits import (BodyTooLarge, UploadPace, UploadTooSlow, check_declared_length,
                            drain, limited, too_large)

TEXT_FIELD_BYTES = 1024  # option values are short words; a bigger text part is not an option
# Uploads up to this size stay in memory until they are saved in one write: Starlette writes a
# file that has spilled to disk chunk by chunk through its thread pool, one hop per 64 KiB.
SPOOL_BYTES = 16 * 1024 * 1024


class _Parser(MultiPartParser):
    spool_max_size = SPOOL_BYTES


async def receive_upload(request: Request, workdir: Path, limit: int,
                         file_fields: tuple[str, ...], text_fields: tuple[str, ...],
                         in_thread: Callable, pace: UploadPace = UploadPace()
                         ) -> tuple[Upload, dict[str, str]]:
    """The request's files (copied into ``workdir``) and text options.

    Raises ApiError: 415 not multipart/form-data; 413 over ``limit`` bytes; 408 the upload
    broke ``pace`` (stalled, or too slow on average); 400 a malformed body; 422 an unknown, repeated or mistyped
    field. ClientGone when the client closed the connection before the body was complete.
    ``in_thread(fn, *args)`` runs blocking file copies off the event loop.
    """
    content_type, _ = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        shown = content_type.decode("latin-1") or "no content type"
        raise ApiError(415, "unsupported_media_type",
                       f"send the EXR as multipart/form-data (curl -F file=@frame.exr), "
                       f"not {shown}")
    check_declared_length(request.headers, limit)
    stream = request.stream()
    parser = _Parser(request.headers, limited(stream, limit, pace),
                     max_files=len(file_fields), max_fields=len(text_fields),
                     max_part_size=TEXT_FIELD_BYTES)
    try:
        form = await parser.parse()
    except BodyTooLarge as error:
        await drain(stream)
        raise too_large(error.received, limit) from None
    except UploadTooSlow as error:
        raise ApiError(408, error.code,
                       f"the upload {error.why}, after {error.received:,} bytes") from None
    except ClientDisconnect:
        raise ClientGone("upload") from None
    except MultiPartException as error:
        raise ApiError(400, "bad_multipart", f"malformed multipart body: {error.message} "
                       f"(at most {len(file_fields)} files and {len(text_fields)} text fields: "
                       f"{', '.join(file_fields + text_fields)})") from None
    try:
        files: dict[str, UploadFile] = {}
        options: dict[str, str] = {}
        for name, value in form.multi_items():
            if name in files or name in options:
                raise ApiError(422, "repeated_field", f"the form field {name!r} is given twice")
            if name in file_fields:
                if not isinstance(value, UploadFile):
                    raise ApiError(422, "not_a_file",
                                   f"the form field {name!r} must be a file upload "
                                   f"(curl -F {name}=@frame.exr), not text")
                files[name] = value
            elif name in text_fields:
                if isinstance(value, UploadFile):
                    raise ApiError(422, "not_text", f"the form field {name!r} must be text, "
                                   "not a file")
                options[name] = value
            else:
                expected = ", ".join(file_fields + text_fields)
                raise ApiError(422, "unknown_field",
                               f"unknown form field {name[:64]!r} (expected: {expected})")
        paths = await in_thread(_save, files, workdir)
        names = {name: upload.filename or "" for name, upload in files.items()}
        return Upload(paths, names), options
    finally:
        await form.close()


def _save(files: dict[str, UploadFile], workdir: Path) -> dict[str, Path]:
    paths = {}
    for name, upload in files.items():
        path = workdir / f"{name}.exr"
        upload.file.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(upload.file, out, 1024 * 1024)
        paths[name] = path
    return paths
