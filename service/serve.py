"""`mcdenoise serve`: check the settings, build the app, run uvicorn."""
from __future__ import annotations

import logging

from mcdenoise.flags import add_command
from service.config import ServeConfig


def run_serve(config: ServeConfig) -> int:
    """Serve until interrupted. Misconfiguration (no model, no key file on a public address)
    raises ServeConfigError before anything listens."""
    import uvicorn

    from service.allocator import tune_allocator
    from service.app import create_app

    level = config.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tune_allocator()  # before any inference thread allocates: see service/allocator.py
    app = create_app(config)
    uvicorn.run(app, host=config.host, port=config.port, log_level=config.log_level.lower(),
                # A flood of connections gets uvicorn's own 503 before it reaches the app.
                limit_concurrency=max(64, 4 * app.state.queue.capacity),
                server_header=False)
    return 0


def register(commands) -> None:
    add_command(
        commands, "serve", ServeConfig, run_serve,
        help="serve the denoiser over HTTP (API, web page, metrics)",
        description="Serve the denoiser with FastAPI on uvicorn: POST /v1/denoise (EXR in, "
                    "denoised EXR out), GET /v1/models, /healthz, /readyz, /metrics "
                    "(Prometheus), the API docs at /docs and a web page at /. Any --host that "
                    "is not loopback requires --api-key-file.")
