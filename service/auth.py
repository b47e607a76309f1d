"""API keys: a file of keys, compared in constant time; never logged, never echoed.

Clients send ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``. No key: 401; a key that
matches none: 403.
"""
from __future__ import annotations

import hmac
from pathlib import Path

from fastapi import Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.config import ServeConfigError, is_loopback
from service.errors import ApiError, ErrorBody

# Shorter keys can be guessed; a key must be sendable in a header (latin-1), so it is ASCII.
MIN_KEY_LENGTH = 16

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer KEY")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: KEY")


def load_keys(path: Path) -> tuple[bytes, ...]:
    """Keys from ``path``: one per line, surrounding whitespace stripped, blank lines and lines
    starting with '#' skipped. Raises ServeConfigError (naming the file, never a key) when the
    file cannot be read or holds no key."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ServeConfigError(f"--api-key-file {path}: cannot read it ({error.__class__.__name__})"
                               ) from None
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        key = line.strip()
        if not key or key.startswith("#"):
            continue
        if not (key.isascii() and key.isprintable()) or " " in key:
            raise ServeConfigError(f"--api-key-file {path}, line {number}: a key must be "
                                   "printable ASCII without spaces (HTTP headers cannot carry "
                                   "other characters, so such a key could never match)")
        if len(key) < MIN_KEY_LENGTH:
            raise ServeConfigError(f"--api-key-file {path}, line {number}: a key must have at "
                                   f"least {MIN_KEY_LENGTH} characters (this one has "
                                   f"{len(key)}); for example: python -c \"import secrets; "
                                   "print(secrets.token_urlsafe(32))\"")
        keys.append(key.encode("ascii"))
    if not keys:
        raise ServeConfigError(f"--api-key-file {path} holds no key (one key per line)")
    return tuple(keys)


def key_matches(candidate: str, keys: tuple[bytes, ...]) -> bool:
    """True when ``candidate`` equals one of ``keys`` (see key_index)."""
    return key_index(candidate, keys) is not None


def key_index(candidate: str, keys: tuple[bytes, ...]) -> int | None:
    """The position of ``candidate`` in ``keys``, or None. Every key is compared, each with
    hmac.compare_digest, so the time taken does not tell how much of a key was right."""
    # Starlette decodes headers as latin-1: encoding back gives the bytes that were sent.
    raw = candidate.encode("latin-1", "replace")
    found = None
    for index, key in enumerate(keys):
        if hmac.compare_digest(raw, key) and found is None:
            found = index
    return found


def require_key(keys: tuple[bytes, ...] | None):
    """A FastAPI dependency that admits a request only with one of ``keys`` and gives the
    index of its key (None, admitting everyone, when ``keys`` is None): jobs belong to it."""

    async def check(bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
                    header: str | None = Security(_header)) -> int | None:
        if keys is None:
            return None
        candidate = header if header else (bearer.credentials if bearer else None)
        if not candidate:
            raise ApiError(401, "unauthorized", "an API key is required: send "
                           "'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                           headers={"WWW-Authenticate": "Bearer"})
        index = key_index(candidate, keys)
        if index is None:
            raise ApiError(403, "forbidden", "the API key is not valid")
        return index

    return check


class LoopbackHostMiddleware:
    """For a keyless server on a loopback address: refuse requests whose Host header is not a
    loopback name. A web page the artist visits could otherwise reach the server by pointing
    a host name of its own at 127.0.0.1 (DNS rebinding) and use it freely."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if not is_loopback(name.strip("[]")):
                from starlette.responses import JSONResponse

                detail = (f"this server listens on a loopback address without API keys and "
                          f"answers only requests addressed to it by a loopback name "
                          f"(127.0.0.1, localhost, [::1]), not {host[:64]!r}")
                response = JSONResponse(ErrorBody(error="host_not_allowed", detail=detail)
                                        .model_dump(), status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
