"""API keys: a file of keys, compared in constant time; never logged, never echoed.

Clients send ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``. No key: 401; a key that
matches none: 403.
"""
from __future__ import annotations

import hmac
from pathlib import Path

from fastapi import Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.config import ServeConfigError
from service.errors import ApiError

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
    keys = tuple(line.strip().encode() for line in text.splitlines()
                 if line.strip() and not line.strip().startswith("#"))
    if not keys:
        raise ServeConfigError(f"--api-key-file {path} holds no key (one key per line)")
    return keys


def key_matches(candidate: str, keys: tuple[bytes, ...]) -> bool:
    """True when ``candidate`` equals one of ``keys``. Every key is compared, each with
    hmac.compare_digest, so the time taken does not tell how much of a key was right."""
    raw = candidate.encode("utf-8", "surrogateescape")
    found = False
    for key in keys:
        found |= hmac.compare_digest(raw, key)
    return found


def require_key(keys: tuple[bytes, ...]):
    """A FastAPI dependency that admits a request only with one of ``keys``."""

    async def check(bearer: HTTPAuthorizationCredentials | None = Security(_bearer),
                    header: str | None = Security(_header)) -> None:
        candidate = header if header else (bearer.credentials if bearer else None)
        if not candidate:
            raise ApiError(401, "unauthorized", "an API key is required: send "
                           "'Authorization: Bearer KEY' or 'X-API-Key: KEY'",
                           headers={"WWW-Authenticate": "Bearer"})
        if not key_matches(candidate, keys):
            raise ApiError(403, "forbidden", "the API key is not valid")

    return check
