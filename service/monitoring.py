"""Prometheus metrics: requests, latency, queue depth, pixels denoised.

Each app has its own registry (several apps may live in one test process). The middleware
labels requests by route, not by raw path, so a scan of random URLs cannot blow up the number
of series.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """The service's metrics in one registry."""

    def __init__(self, routes: set[str]) -> None:
        self.routes = routes
        self.registry = CollectorRegistry()
        self.requests = Counter("mcdenoise_requests", "HTTP requests by route, method and status",
                                ("route", "method", "status"), registry=self.registry)
        self.latency = Histogram("mcdenoise_request_seconds", "HTTP request latency, seconds",
                                 ("route",), buckets=LATENCY_BUCKETS, registry=self.registry)
        self.inference = Histogram("mcdenoise_inference_seconds",
                                   "time of one denoiser call (a batch), seconds",
                                   buckets=LATENCY_BUCKETS, registry=self.registry)
        self.pixels = Counter("mcdenoise_pixels_denoised", "pixels denoised",
                              registry=self.registry)
        self.frames = Counter("mcdenoise_frames_denoised", "frames denoised",
                              registry=self.registry)
        self.rejected = Counter("mcdenoise_rejected", "requests turned away before any work, "
                                "or given up, by reason (loading, uploads_full, queue_full, client_gone)", ("reason",),
                                registry=self.registry)

    def watch_queue(self, depth: Callable[[], float], admitted: Callable[[], float],
                    uploading: Callable[[], float]) -> None:
        Gauge("mcdenoise_uploads_in_progress", "requests whose upload is still arriving",
              registry=self.registry).set_function(uploading)
        Gauge("mcdenoise_queue_depth", "frames waiting for or in the denoiser",
              registry=self.registry).set_function(depth)
        Gauge("mcdenoise_requests_in_flight", "requests holding a denoise slot (decoding, waiting, denoising, encoding)",
              registry=self.registry).set_function(admitted)

    def denoised(self, frames: list, seconds: float) -> None:
        """Worker callback after a batch."""
        self.inference.observe(seconds)
        self.frames.inc(len(frames))
        self.pixels.inc(sum(f.height * f.width for f in frames))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def route(self, path: str) -> str:
        if path in self.routes:
            return path
        return "/static" if path.startswith("/static/") else "other"


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
            route = self.metrics.route(scope["path"])
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
