"""The service's one error shape: ``{"error": CODE, "detail": MESSAGE}`` with a 4xx/5xx status.

CODE is a stable machine-readable word (``not_exr``, ``too_large``...); MESSAGE names the
problem for a person (which field, which file, which limit). Never a traceback, never a server
path, never a credential.
"""
from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    """JSON body of every error response."""
    error: str
    detail: str


class ApiError(Exception):
    """Raised anywhere in request handling; the app turns it into an ErrorBody response."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers = headers or {}


class ClientGone(Exception):
    """The client closed the connection; ``phase`` says during what (upload, denoise...)."""

    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


def error_responses(*statuses: int) -> dict[int, dict]:
    """OpenAPI ``responses`` entries for these error statuses (all share ErrorBody)."""
    meaning = {
        400: "malformed request (e.g. a broken multipart body)",
        401: "no API key (send Authorization: Bearer KEY or X-API-Key: KEY)",
        403: "wrong API key",
        404: "no such job (a wrong or expired id), or no such layer",
        409: "the job is not there yet: not decoded, not done, or cancelled",
        408: "the upload did not arrive within the request timeout, or sent nothing for "
             "the upload idle timeout",
        413: "upload too large, or the EXR header declares more pixels than allowed",
        415: "not multipart/form-data",
        422: "the upload is not a usable EXR frame (the detail names the problem)",
        503: "too many uploads, queue full, job store full or model loading; retry after "
             "Retry-After seconds",
        504: "denoising did not finish within the request timeout",
        507: "the job would need more disk than the whole job store (--job-store-mb)",
    }
    responses: dict[int, dict] = {}
    for status in statuses:
        entry: dict = {"model": ErrorBody, "description": meaning[status]}
        if status in (503, 409):
            entry["headers"] = {"Retry-After": {
                "description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
        responses[status] = entry
    return responses
