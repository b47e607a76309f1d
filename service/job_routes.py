"""The job API: submit a frame, poll its job, fetch the result, view its pixels, cancel it.

    POST   /v1/jobs                    the form of /v1/denoise; 202 {"id", "state"...} and
                                       Location: /v1/jobs/{id}
    GET    /v1/jobs/{id}               state, phase, progress, error, times, size, layers
    GET    /v1/jobs/{id}/result        the denoised EXR (as /v1/denoise answers it)
    GET    /v1/jobs/{id}/layers        the input's layers (once decoded)
    GET    /v1/jobs/{id}/pixels        one layer of the input or output as raw float32
    DELETE /v1/jobs/{id}               cancel an unfinished job, or delete a finished one

The upload holds the request, as for /v1/denoise (the same limits, checks and denoise slot);
once the headers have been checked the job is made and answered 202, and it runs in a task of
its own, which outlives the request: a client that disconnects, or that only ever polls,
finds its result later. The GETs take no denoise slot and no upload place; pixels are read
from the job's files (pixels.py) on a thread, a band at a time.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from service.config import ServeConfig
from service.errors import ApiError, error_responses
from service.inputs import check_headers, download_name
from service.jobs import CANCELLED, DONE, FAILED, FINISHED, JobRecord, JobStore, StoreFull
from service.monitoring import Metrics
from service.pixels import pixel_bands

log = logging.getLogger("mcdenoise.service")

EXR_MEDIA_TYPE = "image/x-exr"
JOB_FILES = ("file", "color", "albedo", "normal")
JOB_OPTIONS = ("precision", "model", "nonfinite")
IMAGES = ("input", "output")
_BINARY = {"type": "string", "format": "binary"}
_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"},
       "description": "the id that POST /v1/jobs answered"}


@dataclass(frozen=True)
class JobRuntime:
    """What the job routes share with the rest of the app (create_app builds it).

    owner: the dependency that admits a request and names its API key (None without keys).
    serve_request, receive, denoise_upload, release: a request's life, its upload, the denoise
        of an upload, the release of its slot and folder (app.py).
    check_options: (upload, options) -> (model, precision, nonfinite), or ApiError.
    """
    config: ServeConfig
    models: Any
    store: JobStore
    metrics: Metrics
    io_pool: Executor
    owner: Callable
    serve_request: Callable
    receive: Callable
    denoise_upload: Callable
    release: Callable
    check_options: Callable
    form_schema: dict


def job_bytes(upload, headers: dict[str, dict]) -> int:
    """The bytes a job's files will take, estimated before decoding: every uploaded file's
    channels as float32 (the saved input layers), the denoised beauty (3 float32 channels),
    and the result EXR (taken as twice the colour file: half may become float)."""
    main = upload.main
    pixels = headers[main]["width"] * headers[main]["height"]
    channels = sum(len(header["channels"]) for header in headers.values())
    return pixels * 4 * (channels + 3) + 2 * os.path.getsize(upload.paths[main])


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())


def add_job_routes(app: FastAPI, rt: JobRuntime) -> None:
    """Add the routes of the module docstring to ``app``."""
    store, config = rt.store, rt.config

    async def in_pool(fn, *args) -> Any:
        return await asyncio.get_running_loop().run_in_executor(rt.io_pool, fn, *args)

    def unknown(job_id: str) -> ApiError:
        return ApiError(404, "unknown_job",
                        f"no job {job_id[:64]!r} here: the id is wrong, the job expired "
                        f"(results are kept {config.job_ttl:g} s, the server's --job-ttl, or "
                        "less when the store needs room), it was deleted, or the server "
                        "restarted")

    def find(job_id: str, owner: int | None) -> JobRecord:
        job = store.get(job_id, owner)
        if job is None:
            raise unknown(job_id)
        return job

    async def run_job(job: JobRecord, work, upload, options: dict[str, str], began: float):
        """The job's task: denoise, keep the result, release the slot; never raises."""
        try:
            done = await rt.denoise_upload(work, upload, options, began, job)
            job.result, job.headers = done.path.name, done.headers
            work.keep = True
            job.bytes = await in_pool(_folder_bytes, work.folder)
            store.finish(job, DONE)
            log.info("job %s done (%.1f MiB kept)", job.id[:8], job.bytes / 2**20)
        except ApiError as error:
            job.error_status = error.status
            store.finish(job, FAILED, {"error": error.code, "detail": error.detail})
            log.info("job %s failed: %s", job.id[:8], error.code)
        except asyncio.CancelledError:
            if job.state not in FINISHED:  # the server is stopping
                store.finish(job, CANCELLED, {"error": "cancelled",
                                              "detail": "the server stopped"})
            raise
        except Exception as error:  # noqa: BLE001 -- the job fails, the server goes on
            log.error("job %s failed: %s: %s", job.id[:8], error.__class__.__name__, error)
            store.finish(job, FAILED, {"error": "internal",
                                       "detail": "internal error (the server log has the "
                                                 "details)"})
        finally:
            rt.release(work)

    @app.post(
        "/v1/jobs", response_class=JSONResponse, status_code=202, summary="Submit a denoise job",
        description="The same multipart form as POST /v1/denoise. Answers 202 as soon as the "
                    "upload has arrived and its EXR headers passed the checks, with the job's "
                    "status and a Location header; the job then runs on the server whether "
                    "or not the client stays. Poll GET /v1/jobs/{id} until its state is done "
                    "(or failed), then GET /v1/jobs/{id}/result. Jobs are kept in memory: a "
                    "server restart forgets them.",
        responses={202: {"description": "the job's status (as GET /v1/jobs/{id})",
                         "headers": {"Location": {"schema": {"type": "string"},
                                                  "description": "/v1/jobs/{id}"}}},
                   **error_responses(400, 401, 403, 408, 413, 415, 422, 503, 507)},
        openapi_extra={"requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": rt.form_schema}}}})
    async def create_job(request: Request, owner: int | None = Depends(rt.owner)) -> Response:
        began = time.perf_counter()

        async def upload(work):
            return await rt.receive(request, work, JOB_FILES, JOB_OPTIONS)

        async def process(work, received) -> Response:
            upload, options = received
            model, _, _ = rt.check_options(upload, options)
            headers = await in_pool(check_headers, upload, config.max_pixels,
                                    config.max_decoded_bytes)
            main = headers[upload.main]
            try:
                job = store.add(owner, work.folder, job_bytes(upload, headers), model=model,
                                width=main["width"], height=main["height"],
                                filename=upload.filenames.get(upload.main) or "")
            except StoreFull as full:
                rt.metrics.rejected.labels("job_store_full").inc()
                extra = {"Retry-After": str(full.retry_after)} if full.retry_after else None
                raise ApiError(full.status, full.code, full.detail, headers=extra) from None
            # From here on, no await until the task owns the work: the job exists whole.
            work.answer = JSONResponse(job.status(), status_code=202,
                                       headers={"Location": f"/v1/jobs/{job.id}"})
            work.detached = True
            job.task = asyncio.ensure_future(run_job(job, work, upload, options, began))
            log.info("job %s made: %dx%d, model %s", job.id[:8], job.width, job.height, model)
            return work.answer

        return await rt.serve_request(request, upload, process)

    @app.get("/v1/jobs/{job_id}", summary="A job's status",
             description="state: queued (decoding, waiting), running (denoising, encoding), "
                         "done, failed or cancelled; progress 0..1; error {error, detail} for "
                         "a failed job; times in ISO 8601 UTC (expires: when a finished job "
                         "will be removed); layers once the input is decoded.",
             responses={200: {"description": "the job's status"},
                        **error_responses(401, 403, 404)})
    async def job_status(job_id: str, owner: int | None = Depends(rt.owner)) -> dict:
        return find(job_id, owner).status()

    @app.get("/v1/jobs/{job_id}/result", response_class=Response,
             summary="A done job's denoised EXR",
             description="The denoised EXR, as POST /v1/denoise answers it (X-Model header, "
                         "download name). 409 not_done while the job is queued or running "
                         "(Retry-After: 1); a failed job's own error; 409 cancelled.",
             responses={200: {"description": "the denoised EXR",
                              "content": {EXR_MEDIA_TYPE: {"schema": _BINARY}}},
                        **error_responses(401, 403, 404, 409, 422)})
    async def job_result(job_id: str, owner: int | None = Depends(rt.owner)) -> Response:
        job = find(job_id, owner)
        if job.state == FAILED:
            raise ApiError(job.error_status, job.error["error"], job.error["detail"])
        if job.state == CANCELLED:
            raise ApiError(409, "cancelled", "the job was cancelled; it has no result")
        if job.state != DONE:
            raise ApiError(409, "not_done", f"the job is {job.status()['state']} "
                           f"({job.status()['phase']}); poll GET /v1/jobs/{job.id}",
                           headers={"Retry-After": "1"})
        return _ResultResponse(job.folder / job.result, media_type=EXR_MEDIA_TYPE,
                               filename=download_name(job.filename), headers=job.headers)

    @app.get("/v1/jobs/{job_id}/layers", summary="A job's layers",
             description="The input's layers once it is decoded: beauty, albedo, normal, "
                         "alpha, depth (those it has), then every other layer of the file, "
                         "each with its kind (color, albedo, normal, alpha, depth, data) and "
                         "channels. 409 not_ready before.",
             responses={200: {"description": "width, height and layers"},
                        **error_responses(401, 403, 404, 409)})
    async def job_layers(job_id: str, owner: int | None = Depends(rt.owner)) -> dict:
        job = _decoded(find(job_id, owner))
        return {"width": job.width, "height": job.height,
                "layers": [layer.describe() for layer in job.layers]}

    @app.get("/v1/jobs/{job_id}/pixels", response_class=Response,
             summary="One layer's pixels",
             description="Full-resolution pixels of a layer of the input or (once done) the "
                         "output, as raw little-endian float32, (H, W, C) row by row from the "
                         "top, NaN and +-Inf replaced by 0. X-Width, X-Height and X-Channels "
                         "(comma-separated names) describe them. For the output, layers other "
                         "than beauty are the input's.",
             openapi_extra={"parameters": [
                 {"name": "image", "in": "query", "required": False,
                  "schema": {"type": "string", "enum": list(IMAGES), "default": "input"}},
                 {"name": "layer", "in": "query", "required": False,
                  "schema": {"type": "string", "default": "beauty"},
                  "description": "a name from GET /v1/jobs/{id}/layers"}]},
             responses={200: {"description": "float32 pixels",
                              "content": {"application/octet-stream": {"schema": _BINARY}},
                              "headers": {h: {"schema": {"type": "string"}} for h in (
                                  "X-Width", "X-Height", "X-Channels")}},
                        **error_responses(401, 403, 404, 409, 422)})
    async def job_pixels(request: Request, job_id: str,
                         owner: int | None = Depends(rt.owner)) -> Response:
        image = request.query_params.get("image", "input")
        name = request.query_params.get("layer", "beauty")
        if image not in IMAGES:
            raise ApiError(422, "bad_option", f"image must be input or output, not {image[:32]!r}")
        job = _decoded(find(job_id, owner))
        layer = next((layer for layer in job.layers if layer.name == name), None)
        if layer is None:
            raise ApiError(404, "unknown_layer",
                           f"the job's input has no layer {name[:64]!r} (layers: "
                           f"{', '.join(layer.name for layer in job.layers)})")
        file = layer.file
        if image == "output":
            if job.state != DONE:
                raise ApiError(409, "not_done", "the output exists once the job is done "
                               f"(it is {job.status()['state']})", headers={"Retry-After": "1"})
            file = job.output if name == "beauty" else layer.file
        try:  # opened before answering: a job removed meanwhile is a 404, not a cut stream
            array = await in_pool(open_layer, job.folder / file)
        except FileNotFoundError:
            raise unknown(job_id) from None
        height, width, channels = array.shape
        return StreamingResponse(pixel_bands(array), media_type="application/octet-stream",
                                 headers={"X-Width": str(width), "X-Height": str(height),
                                          "X-Channels": ",".join(layer.channels),
                                          "Content-Length": str(height * width * channels * 4)})

    @app.delete("/v1/jobs/{job_id}", summary="Cancel or delete a job",
                description="An unfinished job is cancelled (withdrawn from the queue, or its "
                            "running denoise abandoned) and answered 200 with its status "
                            "(state cancelled, kept until it expires); a finished job is "
                            "deleted with its files, 204, and its id is unknown from then on.",
                responses={200: {"description": "cancelled: the job's status"},
                           204: {"description": "deleted"},
                           **error_responses(401, 403, 404)})
    async def job_delete(job_id: str, owner: int | None = Depends(rt.owner)) -> Response:
        job = find(job_id, owner)
        if job.state in FINISHED:
            store.forget(job)
            return Response(status_code=204)
        store.finish(job, CANCELLED, {"error": "cancelled", "detail": "cancelled by its "
                                                                      "client (DELETE)"})
        if job.task is not None:
            job.task.cancel()  # its release withdraws a queued frame at once
        log.info("job %s cancelled", job.id[:8])
        return JSONResponse(job.status())


def open_layer(path: Path) -> np.ndarray:
    """A saved layer, memory-mapped (blocking: opens the file)."""
    return np.load(path, mmap_mode="r")


def _decoded(job: JobRecord) -> JobRecord:
    """``job`` when its input layers can be read, else 409."""
    if job.layers is None or job.state in (FAILED, CANCELLED):
        why = (f"the job {job.state}; its files are gone" if job.state in (FAILED, CANCELLED)
               else "its input is not decoded yet")
        raise ApiError(409, "not_ready", f"no pixels: {why}", headers={"Retry-After": "1"})
    return job


class _ResultResponse(FileResponse):
    # 1 MiB chunks: a few thread hops per frame instead of one per 64 KiB (as app.py's).
    chunk_size = 1024 * 1024
