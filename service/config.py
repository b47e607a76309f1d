"""`mcdenoise serve` settings: one dataclass, one field per command-line flag."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from mcdenoise.errors import UserError
from mcdenoise.flags import flag
from mcdenoise.infer import ENGINE_HELP, ENGINES, ENSEMBLE_HELP, ENSEMBLE_SIZES, ensemble_problem

# 4096 x 4096: DCI 4K and UHD frames pass; a frame this size needs about 2 GB while it is
# decoded and denoised, so the default queue cannot exhaust a small machine's memory.
DEFAULT_MAX_PIXELS = 4096 * 4096
DEFAULT_MAX_UPLOAD_MB = 512
# Per uploaded file, its pixels as decoded (channels x pixels x 2 or 4 bytes): 4096 x 4096 with
# 16 float channels, or a UHD Blender file with 32 float passes.
DEFAULT_MAX_DECODED_MB = 1024
DEFAULT_UPLOADS = 8
DEFAULT_UPLOAD_IDLE_S = 30.0
# 16 KiB/s: a 50 MB frame over a 1 Mbit/s link still arrives (at 122 KiB/s); one byte a second
# does not. The first 10 s are free (connection set-up, a client that writes the form slowly).
DEFAULT_MIN_UPLOAD_KIB_S = 16.0
UPLOAD_GRACE_S = 10.0
DEFAULT_QUEUE = 4
DEFAULT_TIMEOUT_S = 300.0
# Finished jobs' results wait an hour for their client; 2 GiB holds some 40 UHD frames with
# their decoded layers (the pixel views of the web page need them decoded, as float32).
DEFAULT_JOB_TTL_S = 3600.0
DEFAULT_JOB_STORE_MB = 2048
DEFAULT_JOBS = 1000
GPU_BATCH = 8
# Only frames up to this many pixels are batched on a GPU: bigger ones fill it on their own.
BATCH_MAX_PIXELS = 1024 * 1024


class ServeConfigError(UserError, ValueError):
    """A setting the service cannot start with; the message says what to change."""


@dataclass
class ServeConfig:
    """Settings of the denoise service, one field per `mcdenoise serve` flag."""
    host: str = flag("127.0.0.1", help="address to listen on (default 127.0.0.1, this machine "
                     "only); any address that is not loopback (127.0.0.0/8, ::1, localhost) "
                     "requires --api-key-file")
    port: int = flag(8000, help="port")
    model: list[str] | None = flag(None, append=True, metavar="[NAME=]PATH",
                                   help="model file (RUN/model.safetensors); repeat to serve "
                                        "several, the first is the default (default: the "
                                        "shipped default model)")
    api_key_file: Path | None = flag(None, metavar="FILE",
                                     help="file of API keys, one per line (blank lines and # "
                                          "comments ignored); required unless --host is "
                                          "loopback, and when given every /v1 route and "
                                          "/metrics need a key, on any host")
    max_pixels: int = flag(DEFAULT_MAX_PIXELS, metavar="N",
                           help=f"largest frame, width x height, checked from the EXR header "
                                f"before decoding (default {DEFAULT_MAX_PIXELS}, 4096x4096)")
    max_decoded_mb: float = flag(DEFAULT_MAX_DECODED_MB, metavar="N",
                                 help="largest uploaded file once decoded, MiB: channels x "
                                      "pixels x bytes per value over all its parts, checked "
                                      "from the EXR header before decoding (default "
                                      f"{DEFAULT_MAX_DECODED_MB})")
    max_upload_mb: float = flag(DEFAULT_MAX_UPLOAD_MB, metavar="N",
                                help="largest request body, MiB, enforced while it streams in")
    uploads: int = flag(DEFAULT_UPLOADS, metavar="N",
                        help="requests whose upload may be arriving at once; more get 503. A "
                             "request takes a place in the denoise queue only once its upload "
                             f"is complete (default {DEFAULT_UPLOADS})")
    upload_idle_timeout: float = flag(DEFAULT_UPLOAD_IDLE_S, metavar="S",
                                      help="seconds an upload may send nothing before it is "
                                           f"answered 408 (default {DEFAULT_UPLOAD_IDLE_S:g})")
    min_upload_rate: float = flag(DEFAULT_MIN_UPLOAD_KIB_S, metavar="KIB_S",
                                  help="an upload slower than this on average (KiB/s) once "
                                       f"{UPLOAD_GRACE_S:g} s have passed is answered 408, so "
                                       "a dripping client cannot hold an upload place for the "
                                       f"whole --timeout; 0: no minimum (default "
                                       f"{DEFAULT_MIN_UPLOAD_KIB_S:g})")
    queue: int = flag(DEFAULT_QUEUE, metavar="N",
                      help="requests that may wait for the denoiser beyond those being "
                           "denoised; more get 503 with Retry-After")
    workers: int = flag(1, help="inference threads (one is right for one GPU or for a CPU, "
                                "where torch already uses every core; default 1)")
    batch: int | None = flag(None, metavar="N",
                             help=f"waiting frames of one size and model (at most "
                                  f"{BATCH_MAX_PIXELS} pixels) denoised together (default: "
                                  f"{GPU_BATCH} on a GPU, 1 on a CPU)")
    timeout: float = flag(DEFAULT_TIMEOUT_S, metavar="S",
                          help="seconds per request, upload to response; past it 504 (or 408 "
                               "while the upload is still arriving)")
    device: str = flag("auto", choices=("auto", "cpu", "cuda"), help="auto: CUDA when available")
    engine: str = flag("auto", choices=ENGINES, help=ENGINE_HELP)
    ensemble: int = flag(1, choices=ENSEMBLE_SIZES, help="every model: " + ENSEMBLE_HELP)
    job_ttl: float = flag(DEFAULT_JOB_TTL_S, metavar="S",
                          help="seconds a finished job (its result, its pixels, its status) is "
                               "kept for its client before it is removed and its id answers "
                               f"404 (default {DEFAULT_JOB_TTL_S:g})")
    job_store_mb: float = flag(DEFAULT_JOB_STORE_MB, metavar="N",
                               help="disk space, MiB, for jobs' files (decoded input layers, "
                                    "results); the oldest finished jobs are removed to make "
                                    "room, and a new job that still cannot fit is refused "
                                    f"(default {DEFAULT_JOB_STORE_MB})")
    jobs: int = flag(DEFAULT_JOBS, metavar="N",
                     help="jobs remembered at once, finished ones included; the oldest "
                          f"finished are forgotten first (default {DEFAULT_JOBS})")
    log_level: str = flag("info", choices=("debug", "info", "warning", "error"),
                          help="uvicorn's and the service's log level")
    log_format: str = flag("text", choices=("text", "json"),
                           help="text: one readable line per record; json: one JSON object "
                                "per line (time, level, logger, message, request_id) for a "
                                "log collector (default text)")

    def __post_init__(self) -> None:
        if isinstance(self.model, (str, Path)):
            self.model = [str(self.model)]
        if self.api_key_file is not None:
            self.api_key_file = Path(self.api_key_file)
        for name in ("max_pixels", "max_decoded_mb", "max_upload_mb", "uploads",
                     "upload_idle_timeout", "workers", "timeout", "job_ttl", "job_store_mb",
                     "jobs"):
            if not getattr(self, name) > 0:
                raise ServeConfigError(f"--{name.replace('_', '-')} must be positive, "
                                       f"got {getattr(self, name)}")
        if self.min_upload_rate < 0:
            raise ServeConfigError(f"--min-upload-rate must be 0 or more, got "
                                   f"{self.min_upload_rate}")
        if not 0 <= self.port <= 65535:
            raise ServeConfigError(f"--port must be from 0 to 65535, got {self.port}")
        if self.queue < 0:
            raise ServeConfigError(f"--queue must be 0 or more, got {self.queue}")
        if self.batch is not None and self.batch < 1:
            raise ServeConfigError(f"--batch must be 1 or more, got {self.batch}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ServeConfigError(f"--device must be auto, cpu or cuda, not {self.device!r}")
        if self.engine not in ENGINES:
            raise ServeConfigError(f"--engine must be one of {', '.join(ENGINES)}, not "
                                   f"{self.engine!r}")
        if problem := ensemble_problem(self.ensemble):
            raise ServeConfigError(problem)
        if self.engine == "openvino" and self.device == "cuda":
            raise ServeConfigError("--engine openvino runs on the CPU: not with --device cuda")
        if self.log_format not in ("text", "json"):
            raise ServeConfigError(f"--log-format must be text or json, not {self.log_format!r}")
        if not is_loopback(self.host) and self.api_key_file is None:
            raise ServeConfigError(
                f"--host {self.host} is reachable from other machines: pass --api-key-file "
                "FILE (one key per line) so that strangers are kept out")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def upload_pace(self):
        from service.limits import UploadPace

        return UploadPace(self.upload_idle_timeout, self.min_upload_rate * 1024, UPLOAD_GRACE_S)

    @property
    def max_decoded_bytes(self) -> int:
        return int(self.max_decoded_mb * 1024 * 1024)

    @property
    def job_store_bytes(self) -> int:
        return int(self.job_store_mb * 1024 * 1024)

    @property
    def keys_required(self) -> bool:
        return self.api_key_file is not None


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1; False for 0.0.0.0, ::, names and the rest
    (a host name may resolve to anything, so only 'localhost' is trusted)."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
