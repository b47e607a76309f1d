"""The FastAPI app: ``create_app(config)`` builds it, uvicorn serves it (service/serve.py).

Routes:
    POST /v1/denoise   EXR(s) in (multipart), denoised EXR out, every other layer kept
    POST /v1/jobs      the same upload as a job: 202 at once, then /v1/jobs/{id}... (jobs.py,
                       job_routes.py)
    POST /v1/preview   EXR in, its colour as raw float32 for the web page
    GET  /v1/models    the models served
    GET  /healthz      the process answers
    GET  /readyz       the models are loaded
    GET  /metrics      Prometheus text format
    GET  /             the web page; /docs (Swagger UI, served from the package) and
                       /openapi.json the API docs

A request's life: admitted to the bounded queue (or 503), upload streamed to a temporary
folder within the size limit, EXR headers checked, frames decoded on an I/O thread, denoised
on a worker thread, encoded on an I/O thread, file streamed back; the folder is removed when
the response has been sent. A job's life is the same up to its denoise slot; then the
request answers 202 and the rest runs in a task of its own, which the client's leaving does
not stop. Nothing blocking runs on the event loop.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import service.inference as inference
from mcdenoise import __version__
from mcdenoise.core.exr import write_frame
from mcdenoise.infer.files import NONFINITE, nonfinite_counts
from service.auth import LoopbackHostMiddleware, load_keys, require_key
from service.config import GPU_BATCH, ServeConfig, is_loopback
from service.errors import ApiError, ClientGone, ErrorBody, error_responses
from service.inputs import Upload, download_name, load_inputs, read_exr
from service.job_routes import JobRuntime, add_job_routes
from service.jobs import RUNNING, STATES, JobRecord, JobStore
from service.limits import checked_header
from service.logs import RequestIdMiddleware
from service.monitoring import CONTENT_TYPE, Metrics, MetricsMiddleware
from service.model_set import ModelSet, model_specs
from service.pixels import save_layers, save_output
from service.preview import DEFAULT_SIDE, preview_array
from service.queue import InferenceQueue, Job, QueueFull, Ticket
from service.upload import receive_upload
from service.workdirs import WorkDirs

log = logging.getLogger("mcdenoise.service")

STATIC = Path(__file__).resolve().parent / "static"
EXR_MEDIA_TYPE = "image/x-exr"
DENOISE_FILES = ("file", "color", "albedo", "normal")
DENOISE_OPTIONS = ("precision", "model", "nonfinite")
# The number of NaN/Inf values in colour, albedo and normal that were repaired, when any.
REPAIRED_HEADER = "X-Nonfinite-Repaired"
PREVIEW_OPTIONS = ("max_side",)
DOCS_ASSETS = "/docs/assets"
_BINARY = {"type": "string", "format": "binary"}


def create_app(config: ServeConfig) -> FastAPI:
    """The service for ``config``. Raises ServeConfigError (a ValueError) at once for a missing
    model file or key file, so a misconfigured server never starts listening."""
    models = ModelSet(model_specs(config.model), config.device, config.engine, config.ensemble)
    keys = load_keys(config.api_key_file) if config.keys_required else None
    batch = config.batch or (GPU_BATCH if _uses_cuda(config.device) else 1)
    metrics = Metrics()

    def run(model: str, frames: list) -> list:
        # Looked up at call time, so that tests can slow the denoiser down.
        return inference.denoise(models.denoisers[model], frames)

    queue = InferenceQueue(run, inference.batch_key, slots=config.queue, workers=config.workers,
                           batch=batch, on_done=metrics.denoised)
    uploading = _Count(config.uploads)
    metrics.watch_queue(lambda: queue.depth, lambda: queue.admitted, lambda: uploading.count)
    workdirs = WorkDirs()
    store = JobStore(config.job_ttl, config.job_store_bytes, config.jobs)
    metrics.watch_jobs(store.counts, STATES, lambda: store.bytes)
    # Decoding and encoding threads; the denoise slots already bound how many need one.
    io_pool = ThreadPoolExecutor(max_workers=queue.capacity + 1, thread_name_prefix="mcdenoise-io")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        workdirs.start()
        store.start()
        queue.start()
        threading.Thread(target=models.load, name="mcdenoise-load", daemon=True).start()
        log.info("serving %s (default %s) on %s:%s; API keys %s; queue %d, batch %d, "
                 "uploads %d, max %d pixels, %.0f MiB decoded, max upload %.0f MiB",
                 ", ".join(models.paths), models.default, config.host, config.port,
                 "required" if keys else "not required", config.queue, batch, config.uploads,
                 config.max_pixels, config.max_decoded_mb, config.max_upload_mb)
        yield
        queue.stop()
        io_pool.shutdown(wait=False, cancel_futures=True)
        store.stop()
        workdirs.stop()

    app = FastAPI(
        title="mcdenoise", version=__version__, lifespan=lifespan,
        docs_url=None, redoc_url=None,  # served below from the package, not from a CDN
        description="Noise2Noise denoiser for Monte Carlo renders. POST an EXR frame (colour, "
                    "optionally albedo and normal layers) to /v1/denoise and get the denoised "
                    "EXR back, every other layer and header attribute kept; or POST it to "
                    "/v1/jobs, poll GET /v1/jobs/{id} and fetch /v1/jobs/{id}/result. Errors "
                    'are JSON: {"error": CODE, "detail": MESSAGE}.')
    app.state.config, app.state.models, app.state.queue, app.state.metrics = (
        config, models, queue, metrics)
    app.state.uploading, app.state.workdirs, app.state.jobs = uploading, workdirs, store
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if not keys and is_loopback(config.host):
        app.add_middleware(LoopbackHostMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer and log line has the id
    _add_error_handlers(app, metrics)
    guarded = [Depends(require_key(keys))] if keys else []
    owner = require_key(keys) if keys else _nobody

    def check_ready() -> None:
        if not models.ready.is_set():
            metrics.rejected.labels("loading").inc()
            raise ApiError(503, "not_ready", _not_ready(models), headers={"Retry-After": "1"})

    def take_slot(work: _Work) -> None:
        """A denoise slot, once the upload is complete, or 503."""
        try:
            work.ticket = queue.admit()
        except QueueFull as full:
            metrics.rejected.labels("queue_full").inc()
            raise ApiError(503, "queue_full",
                           f"the denoise queue is full ({queue.capacity} requests in flight); "
                           f"retry in {full.retry_after} s",
                           headers={"Retry-After": str(full.retry_after)}) from None

    async def in_io(work: _Work, fn, *args, **kwargs) -> Any:
        """``fn`` on an I/O thread. The thread cannot be stopped, so a request that gives up
        (timeout, client gone) leaves its slot and folder to be released when it ends."""
        done = io_pool.submit(partial(fn, *args, **kwargs))
        work.io.append(done)
        return await asyncio.wrap_future(done)

    def release(work: _Work) -> None:
        """Free the slot and remove the folder, now or once the request's last I/O thread is
        done with them (it may still be writing into the folder after a timeout)."""
        def finish(_=None) -> None:
            if all(f.done() for f in work.io):
                if work.ticket is not None:
                    queue.finish(work.ticket, work.job)
                if work.folder is not None and not work.keep:
                    shutil.rmtree(work.folder, ignore_errors=True)

        pending = [f for f in work.io if not f.done()]
        for future in pending:
            future.add_done_callback(finish)
        if not pending:
            finish()

    async def serve_request(request: Request, upload, process) -> Response:
        """One request's life under the request timeout: ``upload(work)`` while holding one
        of the upload places, then ``process(work, received)`` holding a denoise slot and
        racing the client's disconnect; the slot and folder are released however it ends."""
        check_ready()
        if not uploading.take():
            metrics.rejected.labels("uploads_full").inc()
            raise ApiError(503, "uploads_full", f"{config.uploads} uploads are already "
                           "arriving (the server's --uploads); retry in 1 s",
                           headers={"Retry-After": "1"})
        work = _Work()

        async def run() -> Response:
            try:
                received = await upload(work)
            finally:
                uploading.give(work)
            work.phase = "denoise"
            take_slot(work)
            return await _unless_gone(request, process(work, received), work)

        try:
            work.folder = workdirs.new()
            return await asyncio.wait_for(run(), config.timeout)
        except asyncio.TimeoutError:
            if work.detached:  # the job was made: it goes on, and the client gets its answer
                return work.answer
            if work.phase == "upload":
                raise ApiError(408, "upload_timeout", f"the upload did not arrive within "
                               f"{config.timeout:g} s (the server's --timeout)") from None
            raise ApiError(504, "timeout", f"denoising did not finish within {config.timeout:g} s "
                           "(the server's --timeout); try a smaller frame or a less busy "
                           "time") from None
        finally:
            uploading.give(work)
            if not work.detached:  # a job's slot and folder are its task's to release
                release(work)

    def receive(request: Request, work: _Work, file_fields: tuple[str, ...],
                options: tuple[str, ...]):
        """The upload of a request, into its folder, within the limits (upload.py)."""
        return receive_upload(request, work.folder, config.max_upload_bytes, file_fields,
                              options, partial(in_io, work), pace=config.upload_pace)

    async def denoise_upload(work: _Work, upload: Upload, options: dict[str, str],
                             began: float, job: JobRecord | None = None) -> _Denoised:
        """Decode, denoise and encode an uploaded frame into ``work.folder``, holding the
        request's slot. For a ``job``: its input layers are saved for the pixel views once
        decoded, its phase and progress follow the work, and the output's pixels are saved
        beside the result. Raises ApiError for an upload that cannot be denoised."""
        marks = [began, time.perf_counter()]  # upload, decode, wait, denoise, encode
        model, precision, nonfinite = _denoise_options(upload, options, models)
        transform = models.denoisers[model].transform
        needs = tuple(r for r in ("albedo", "normal") if r in transform.inputs
                      and transform.missing_aux == "error")
        inputs = await in_io(work, load_inputs, upload, config.max_pixels, nonfinite, needs,
                             config.max_decoded_bytes)
        if job is not None:
            job.layers = await in_io(work, _keep_layers, inputs, upload, work.folder)
            job.phase, job.progress = "waiting", 0.15
        marks.append(time.perf_counter())
        queued = work.job = queue.submit(work.ticket, model, inputs.frame)
        if job is not None:
            job.queued, job.estimate = queued, store.estimate(inputs.frame.height
                                                              * inputs.frame.width)
        denoised = await queued.future
        marks.extend([queued.started, time.perf_counter()])
        out = inputs.original.replace(color=denoised.color, metadata=denoised.metadata)
        if job is not None:
            store.learn_speed(out.height * out.width, marks[-1] - marks[-2])
            job.state, job.phase, job.progress = RUNNING, "encoding", 0.9
        precision = inputs.precision if precision == "auto" else precision
        path = work.folder / "denoised.exr"
        await in_io(work, write_frame, out, path, precision=precision,
                    compression=inputs.compression)
        if job is not None:
            job.output = await in_io(work, save_output, out.color, precision, work.folder)
        marks.append(time.perf_counter())
        main = upload.main
        steps = " ".join(f"{name} {b - a:.3f}" for name, a, b in zip(
            ("upload", "decode", "wait", "denoise", "encode"), marks, marks[1:]))
        log.info("denoised %dx%d with %s (%s, %s) in %.3f s: %s", out.width, out.height,
                 model, precision, inputs.compression, marks[-1] - marks[0], steps)
        headers = {"X-Model": model}
        if inputs.repaired:
            headers[REPAIRED_HEADER] = str(sum(inputs.repaired.values()))
            log.warning("repaired non-finite (NaN/Inf) values in %s: %s",
                        upload.label(main), nonfinite_counts(inputs.repaired))
        return _Denoised(path, headers, download_name(upload.filenames.get(main)))

    @app.post(
        "/v1/denoise", dependencies=guarded, response_class=Response,
        summary="Denoise an EXR frame",
        description="Multipart upload of one EXR in `file` (colour, optionally with albedo "
                    "and normal layers) or of separate EXRs in `color`, `albedo`, `normal`. "
                    "Answers the denoised EXR: the colour file with its colour replaced, all "
                    "other layers and header attributes kept.",
        responses={200: {"description": "the denoised EXR",
                         "content": {EXR_MEDIA_TYPE: {"schema": _BINARY}}},
                   **error_responses(400, 401, 403, 408, 413, 415, 422, 503, 504)},
        openapi_extra={"requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": _denoise_schema(list(models.paths))}}}})
    async def denoise_route(request: Request) -> Response:
        began = time.perf_counter()

        async def upload(work: _Work):
            return await receive(request, work, DENOISE_FILES, DENOISE_OPTIONS)

        async def process(work: _Work, received) -> Response:
            done = await denoise_upload(work, *received, began)
            work.keep = True  # the response removes the folder once it has been sent
            return _ExrResponse(done.path, work.folder, media_type=EXR_MEDIA_TYPE,
                                filename=done.filename, headers=done.headers)

        return await serve_request(request, upload, process)

    @app.post(
        "/v1/preview", dependencies=guarded, response_class=Response,
        summary="Preview an EXR's colour",
        description="The colour of an uploaded EXR, box-downsampled so that neither side "
                    "exceeds `max_side`, as raw little-endian float32 RGB, row by row (linear "
                    "HDR, NaN -> 0). The size is in the X-Preview-Width/-Height headers. The "
                    "web page tonemaps it with its exposure slider.",
        responses={200: {"description": "float32 RGB pixels",
                         "content": {"application/octet-stream": {"schema": _BINARY}},
                         "headers": {h: {"schema": {"type": "integer"}} for h in (
                             "X-Preview-Width", "X-Preview-Height", "X-Source-Width",
                             "X-Source-Height")}},
                   **error_responses(400, 401, 403, 408, 413, 415, 422, 503, 504)},
        openapi_extra={"requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": _preview_schema()}}}})
    async def preview_route(request: Request) -> Response:
        async def upload(work: _Work):
            return await receive(request, work, ("file",), PREVIEW_OPTIONS)

        async def process(work: _Work, received) -> Response:
            upload, options = received
            if "file" not in upload.paths:
                raise ApiError(422, "no_file", "no EXR in the form: send it in the field 'file'")
            side = _int_option(options, "max_side", DEFAULT_SIDE, 16, 4096)
            pixels, (width, height) = await in_io(work, _preview, upload, config.max_pixels,
                                                  config.max_decoded_bytes, side)
            return Response(pixels.tobytes(), media_type="application/octet-stream", headers={
                "X-Preview-Width": str(pixels.shape[1]), "X-Preview-Height": str(pixels.shape[0]),
                "X-Source-Width": str(width), "X-Source-Height": str(height)})

        return await serve_request(request, upload, process)

    @app.get("/v1/models", dependencies=guarded, summary="The models served",
             responses=error_responses(401, 403))
    async def models_route() -> dict:
        return {"default": models.default, "models": [models.describe(n) for n in models.paths]}

    @app.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: the models are loaded",
             responses={200: {"description": "ready"}, **error_responses(503)})
    async def readyz() -> Any:
        if not models.ready.is_set():
            raise ApiError(503, "not_ready", _not_ready(models), headers={"Retry-After": "1"})
        return {"status": "ready", "models": list(models.denoisers),
                "device": str(models.denoisers[models.default].device)}

    @app.get("/metrics", dependencies=guarded, response_class=Response,
             summary="Prometheus metrics",
             responses={200: {"description": "Prometheus text format",
                              "content": {"text/plain": {"schema": {"type": "string"}}}},
                        **error_responses(401, 403)})
    async def metrics_route() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    add_job_routes(app, JobRuntime(
        config=config, models=models, store=store, metrics=metrics, io_pool=io_pool,
        owner=owner, serve_request=serve_request, receive=receive,
        denoise_upload=denoise_upload, release=release,
        check_options=partial(_denoise_options, models=models),
        form_schema=_denoise_schema(list(models.paths))))
    _add_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def _nobody() -> None:
    """The owner of every job on a server without API keys."""
    return None


def _keep_layers(inputs, upload: Upload, folder: Path) -> list:
    """Save a job's decoded input layers (pixels.py), then drop its uploaded files, which
    nothing reads again (blocking)."""
    layers = save_layers(inputs.frame, folder)
    for path in upload.paths.values():
        Path(path).unlink(missing_ok=True)
    return layers


def _add_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle package's files, so the API docs work
    on a machine without internet (FastAPI's default loads them from a CDN)."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # an install without the [serve] extra's docs: no /docs, say why
        log.warning("swagger-ui-bundle-v2 is not installed: no API docs page at /docs "
                    "(the schema is at /openapi.json)")
        return

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} API",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")

    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")


@dataclass(eq=False)
class _Work:
    """One request's state: its folder, where it is, its slot, job and I/O threads."""
    folder: Path | None = None
    phase: str = "upload"  # then "denoise"
    ticket: Ticket | None = None
    job: Job | None = None
    io: list[Future] = field(default_factory=list)
    keep: bool = False  # the folder outlives the handler (the response removes it)
    uploading: bool = True
    detached: bool = False  # a job took over the slot and folder (its task releases them)
    answer: Response | None = None  # a job's 202, should the timeout fall right after it


@dataclass(frozen=True)
class _Denoised:
    """A denoised upload: the EXR in its work folder, response headers, download name."""
    path: Path
    headers: dict[str, str]
    filename: str


class _Count:
    """Requests whose upload is arriving, at most ``limit`` (only the event loop counts)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count = limit, 0

    def take(self) -> bool:
        if self.count >= self.limit:
            return False
        self.count += 1
        return True

    def give(self, work: _Work) -> None:
        """The upload of ``work`` is over (counted once, however often this is called)."""
        if work.uploading:
            work.uploading = False
            self.count -= 1


async def _unless_gone(request: Request, work_coro, work: _Work) -> Response:
    """Await ``work_coro``, or raise ClientGone as soon as the client disconnects; the
    request's queued job is then withdrawn by the caller's release."""
    task = asyncio.ensure_future(work_coro)
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        raise ClientGone(work.phase)
    finally:
        # Stop listening before the response is sent: Starlette listens itself meanwhile.
        gone.cancel()
        if not task.done():
            task.cancel()


async def _disconnected(request: Request) -> None:
    """Return when the client has closed the connection (the body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _not_ready(models: ModelSet) -> str:
    """Why the models cannot serve yet; the reason of a failed load stays in the server log
    (it may name files of the server)."""
    if models.error:
        return "the models failed to load (the server log says why)"
    return "the models are still loading"


class _ExrResponse(FileResponse):
    """The denoised file, streamed; its request's temporary folder is removed afterwards,
    however the sending ends (a background task would be skipped if sending failed)."""
    # Starlette reads a file response through its thread pool one chunk at a time: 1 MiB
    # chunks make that a few hops per frame instead of one per 64 KiB.
    chunk_size = 1024 * 1024

    def __init__(self, path: Path, workdir: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.workdir = workdir

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _uses_cuda(device: str) -> bool:
    if device == "cpu":
        return False
    import torch
    return device == "cuda" or torch.cuda.is_available()


def _denoise_schema(model_names: list[str]) -> dict:
    exr = {**_BINARY}
    return {
        "type": "object",
        "properties": {
            "file": {**exr, "description": "one EXR: colour (R,G,B or a renderer's beauty "
                                           "layer), optionally albedo and normal layers"},
            "color": {**exr, "description": "the colour EXR, when buffers come separately"},
            "albedo": {**exr, "description": "albedo EXR (R,G,B or albedo.R,G,B), with color"},
            "normal": {**exr, "description": "normal EXR (R,G,B, X,Y,Z or N.X,Y,Z), with color"},
            "precision": {"type": "string", "enum": ["auto", "half", "float"], "default": "auto",
                          "description": "pixel type of the output's colour; auto: as the "
                                         "input's (every other layer keeps its own type)"},
            "model": {"type": "string", "enum": model_names, "default": model_names[0],
                      "description": "a model from GET /v1/models"},
            "nonfinite": {"type": "string", "enum": list(NONFINITE), "default": "repair",
                          "description": "NaN/Inf in colour/albedo/normal: repair (NaN -> 0, "
                                         f"Inf -> 65504; counted in {REPAIRED_HEADER}) and "
                                         "denoise, or refuse (422)"},
        },
        # Either one file, or colour with optional separate buffers.
        "anyOf": [
            {"required": ["file"], "not": {"anyOf": [{"required": [name]} for name in
                                                     ("color", "albedo", "normal")]}},
            {"required": ["color"], "not": {"required": ["file"]}},
        ],
        "additionalProperties": False,
    }


def _preview_schema() -> dict:
    return {"type": "object", "properties": {
        "file": {**_BINARY, "description": "an EXR with colour channels"},
        "max_side": {"type": "integer", "minimum": 16, "maximum": 4096, "default": DEFAULT_SIDE,
                     "description": "largest side of the preview, pixels"}},
        "required": ["file"], "additionalProperties": False}


def _denoise_options(upload, options: dict[str, str], models: ModelSet) -> tuple[str, str, str]:
    """(model, precision, nonfinite) after checking which files came."""
    fields = set(upload.paths)
    if not fields:
        raise ApiError(422, "no_file", "no EXR in the form: send the field 'file' (colour with "
                                       "optional albedo/normal layers) or 'color' (with "
                                       "optional 'albedo' and 'normal')")
    if "file" in fields and len(fields) > 1:
        raise ApiError(422, "conflicting_fields", "send either 'file' or 'color' (+ 'albedo', "
                                                  f"'normal'), not both (got {sorted(fields)})")
    if "file" not in fields and "color" not in fields:
        raise ApiError(422, "no_color", f"{' and '.join(sorted(fields))} came without 'color'")
    model = options.get("model", models.default)
    if model not in models.paths:
        raise ApiError(422, "unknown_model", f"model {model[:64]!r} is not served here "
                                             f"(available: {', '.join(models.paths)})")
    precision = options.get("precision", "auto")
    if precision not in ("auto", "half", "float"):
        raise ApiError(422, "bad_option", f"precision must be auto, half or float, not "
                                          f"{precision[:32]!r}")
    nonfinite = options.get("nonfinite", "repair")
    if nonfinite not in NONFINITE:
        raise ApiError(422, "bad_option", f"nonfinite must be repair or refuse, not "
                                          f"{nonfinite[:32]!r}")
    return model, precision, nonfinite


def _int_option(options: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ApiError(422, "bad_option", f"{name} must be a whole number from {low} to {high}, "
                                          f"not {value[:32]!r}")
    return number


def _preview(upload, max_pixels: int, max_decoded: int, side: int):
    path, label = upload.paths["file"], upload.label("file")
    checked_header(path, label, max_pixels, max_decoded)
    frame = read_exr(path, label)
    return preview_array(frame.color, side), (frame.width, frame.height)


# The status logged and counted for a request whose client went away (nginx's convention; the
# client never sees it).
CLIENT_GONE = 499


def _add_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    def body(status: int, code: str, detail: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse(ErrorBody(error=code, detail=detail).model_dump(), status_code=status,
                            headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        if error.status >= 500 or error.status in (408, 413):
            log.info("%s %s -> %d %s", request.method, request.url.path, error.status, error.code)
        return body(error.status, error.code, error.detail, error.headers)

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, error: ClientGone) -> Response:
        log.info("%s %s: the client went away during the %s", request.method, request.url.path,
                 error.phase)
        metrics.rejected.labels("client_gone").inc()
        return Response(status_code=CLIENT_GONE)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return body(error.status_code, codes.get(error.status_code, f"http_{error.status_code}"),
                    str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return body(422, "invalid_request", problems[:500])

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        log.error("%s %s failed: %s: %s", request.method, request.url.path,
                  error.__class__.__name__, error)
        return body(500, "internal", "internal error (the server log has the details)")
