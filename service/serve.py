"""`mcdenoise serve`: check the settings, build the app, run uvicorn."""
from __future__ import annotations

from mcdenoise.flags import add_command
from service.config import ServeConfig

# Every flag can come from the environment instead (MCDENOISE_PORT...), for containers.
ENV_PREFIX = "MCDENOISE_"


def run_serve(config: ServeConfig) -> int:
    """Serve until interrupted. Misconfiguration (no model, no key file on a public address)
    raises ServeConfigError before anything listens."""
    import uvicorn

    from service.allocator import tune_allocator
    from service.app import create_app
    from service.logs import configure

    configure(config.log_level, config.log_format)
    tune_allocator()  # before any inference thread allocates: see service/allocator.py
    app = create_app(config)
    uvicorn.run(app, host=config.host, port=config.port, log_level=config.log_level.lower(),
                # A flood of connections gets uvicorn's own 503 before it reaches the app.
                limit_concurrency=max(64, 4 * app.state.queue.capacity),
                server_header=False, log_config=None)  # our handlers (logs.configure)
    return 0


def register(commands) -> None:
    add_command(
        commands, "serve", ServeConfig, run_serve,
        env_prefix=ENV_PREFIX,
        help="serve the denoiser over HTTP (API, web page, metrics)",
        description="Serve the denoiser with FastAPI on uvicorn: POST /v1/denoise (EXR in, "
                    "denoised EXR out), the job API at /v1/jobs (submit, poll, fetch), GET "
                    "/v1/models, /healthz, /readyz, /metrics (Prometheus), the API docs at "
                    "/docs and a web page at /. Any --host that is not loopback requires "
                    "--api-key-file. Every flag may come from an environment variable "
                    "instead: --max-pixels from MCDENOISE_MAX_PIXELS, the repeatable --model "
                    "from a comma-separated MCDENOISE_MODEL; a flag given wins.")
