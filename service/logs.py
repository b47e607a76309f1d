"""The service's log: a request id on every request and every line logged about it, and
optional JSON lines for log collectors.

Each request gets an id: the client's ``X-Request-ID`` when it is a sane token (at most 128 of
``A-Z a-z 0-9 . _ : -``, so a header cannot inject text into the log), else a new random one.
It is returned in the response's ``X-Request-ID`` header and held in a context variable while
the request is handled, so every record logged meanwhile (by us, by uvicorn's access log, by
the job a request started: asyncio copies the context into the tasks it creates) carries it.

``--log-format json`` writes one JSON object per line: ``time`` (ISO 8601, UTC), ``level``,
``logger``, ``message``, ``request_id`` (when there is one) and ``exception`` (a traceback).
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time

REQUEST_ID_HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                       default=None)


def new_request_id() -> str:
    return secrets.token_hex(8)


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it may be used as a request id as it is, else None."""
    return value if value is not None and _SANE.match(value) else None


class RequestIdMiddleware:
    """Plain ASGI middleware: sets the request id for the request's context and returns it."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode(), b"")
        rid = sane_request_id(sent.decode("latin-1")) or new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id.set(rid)

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"x-request-id"]
                headers.append((REQUEST_ID_HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on each record (``record.request_id``, None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                 + f".{int(record.msecs):03d}Z",
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage()}
        rid = getattr(record, "request_id", None)
        if rid is not None:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The readable line, with ``[request id]`` when the record belongs to a request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{line} [{rid}]" if rid else line


def configure(level: str, fmt: str) -> None:
    """The root logger at ``level`` ("info"...), writing ``fmt`` ("text" or "json") lines to
    stderr; uvicorn's loggers propagate to it (serve.py passes uvicorn no config of its own)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(level.upper())
