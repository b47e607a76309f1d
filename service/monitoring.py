"""Prometheus metrics: requests, latency, queue depth, jobs, pixels denoised, the process.

Each app has its own registry (several apps may live in one test process). The middleware
labels requests by route template, not by raw path, so a scan of random URLs cannot blow up
the number of series; the histogram's ``_count`` is the number of requests.
"""
from __future__ import annotations

import platform
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from mcdenoise import __version__

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """The service's metrics in one registry, named by Prometheus' conventions (base units,
    ``_total`` counters, ``_seconds`` and ``_bytes``), with the process's own (resident
    memory, CPU seconds, open files) and ``mcdenoise_build_info``."""

    def __init__(self, routes: set[str] | None = None) -> None:
        self.routes = routes or set()
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.latency = Histogram("mcdenoise_http_request_duration_seconds",
                                 "HTTP requests by method, route template and status code: "
                                 "time to answer, seconds", ("method", "route", "code"),
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.inference = Histogram("mcdenoise_inference_seconds",
                                   "time of one denoiser call (a batch), seconds",
                                   buckets=LATENCY_BUCKETS, registry=self.registry)
        self.pixels = Counter("mcdenoise_pixels_denoised", "pixels denoised",
                              registry=self.registry)
        self.frames = Counter("mcdenoise_frames_denoised", "frames denoised",
                              registry=self.registry)
        self.rejected = Counter("mcdenoise_rejected", "requests turned away before any work, "
                                "or given up, by reason (loading, uploads_full, queue_full, "
                                "client_gone, job_store_full)", ("reason",),
                                registry=self.registry)
        info = Gauge("mcdenoise_build_info", "versions of this server; always 1",
                     ("version", "python", "torch"), registry=self.registry)
        info.labels(__version__, platform.python_version(), _torch_version()).set(1)

    def watch_queue(self, depth: Callable[[], float], admitted: Callable[[], float],
                    uploading: Callable[[], float]) -> None:
        Gauge("mcdenoise_uploads_in_progress", "requests whose upload is still arriving",
              registry=self.registry).set_function(uploading)
        Gauge("mcdenoise_queue_depth", "frames waiting for or in the denoiser",
              registry=self.registry).set_function(depth)
        Gauge("mcdenoise_requests_in_flight", "requests and jobs holding a denoise slot "
              "(decoding, waiting, denoising, encoding)",
              registry=self.registry).set_function(admitted)

    def watch_jobs(self, counts: Callable[[], dict[str, int]], states: tuple[str, ...],
                   stored: Callable[[], float]) -> None:
        jobs = Gauge("mcdenoise_jobs", "jobs remembered, by state", ("state",),
                     registry=self.registry)
        for state in states:
            jobs.labels(state).set_function(lambda state=state: counts()[state])
        Gauge("mcdenoise_job_store_bytes", "disk space held by jobs' files (reserved for "
              "unfinished jobs), bytes", registry=self.registry).set_function(stored)

    def denoised(self, frames: list, seconds: float) -> None:
        """Worker callback after a batch."""
        self.inference.observe(seconds)
        self.frames.inc(len(frames))
        self.pixels.inc(sum(f.height * f.width for f in frames))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_of(scope) -> str:
    """The route template a request matched (``/v1/jobs/{job_id}``, the mount ``/static``...),
    or "other" for a path no route matched: never the raw path, so a scan of random URLs
    cannot blow up the number of series."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "other"


def _torch_version() -> str:
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:  # noqa: BLE001 -- a build without torch metadata still reports
        return "unknown"


class MetricsMiddleware:
    """Plain ASGI middleware (cheaper than BaseHTTPMiddleware): counts and times requests."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.latency.labels(method, route_of(scope), str(status)).observe(
                time.perf_counter() - start)
