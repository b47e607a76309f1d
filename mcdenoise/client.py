"""`mcdenoise client denoise IN... -o OUT --url URL`: denoise through a running service.

For farm scripts and machines without the model: each input is uploaded to the service's job
API (POST /v1/jobs), its job polled until done, and its result downloaded; then the job is
deleted on the server. Inputs and outputs are named as for `mcdenoise denoise` (files,
folders, ``####`` / ``%04d`` / ``@`` sequences, ``--frames``, an output file, pattern or
folder; infer/sequences.py). A result is written to a temporary name in the output folder,
fsynced and renamed (core/files.atomic_path): a failure or Ctrl-C never leaves half a file.

Every request is retried (tenacity) on network errors and on 429/502/503/504 answers, waiting
as the server's Retry-After says, else exponentially (0.5 s doubling, at most 30 s, with
jitter), up to ``--retries`` times. Errors the server names (a bad EXR: 422, a missing key:
401) are not retried: the frame fails with the server's words, or, for the key, the run stops
before anything is uploaded. Exit codes are `mcdenoise denoise`'s.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcdenoise import __version__
from mcdenoise.errors import UserError
from mcdenoise.flags import add_command, flag
from mcdenoise.infer.files import (EXIT_CODES, EXIT_DONE, EXIT_FAILED, EXIT_INTERRUPTED,
                                   NONFINITE)

RETRY_STATUSES = (429, 502, 503, 504)
MAX_WAIT_S = 30.0        # the longest exponential back-off step
MAX_RETRY_AFTER_S = 300  # a Retry-After beyond this is taken as this


@dataclass
class ClientConfig:
    """`mcdenoise client denoise`: flags map 1:1 onto these fields."""
    inputs: list[Path] = flag(positional=True, metavar="IN", default_factory=list,
                              help="EXR file, folder of EXRs, or sequence such as "
                                   "shot/frame.####.exr (as `mcdenoise denoise`)")
    output: Path = flag(Path("denoised"), short="-o", metavar="OUT", required=True,
                        help="output EXR (one input), pattern (out/frame.####.exr) or folder")
    url: str = flag("http://127.0.0.1:8000", metavar="URL",
                    help="the service's address (default http://127.0.0.1:8000)")
    api_key_file: Path | None = flag(None, metavar="FILE",
                                     help="file holding the API key (the first line that is "
                                          "not blank or a # comment)")
    model: str | None = flag(None, metavar="NAME",
                             help="a model the server serves (GET /v1/models; default: the "
                                  "server's default)")
    precision: str = flag("auto", choices=("auto", "half", "float"),
                          help="pixel type of the output's colour; auto: as the input's")
    nonfinite: str = flag("repair", choices=NONFINITE,
                          help="NaN/Inf in colour, albedo or normal: repair (default) or "
                               "refuse the frame")
    frames: str | None = flag(None, metavar="RANGE",
                              help="frames of the sequence pattern(s): 1001-1100, 1,5,9-12")
    poll: float = flag(1.0, metavar="S", help="seconds between status requests")
    retries: int = flag(5, metavar="N",
                        help="retries of a request after a network error or a 429/502/503/504 "
                             "answer (exponential back-off, honouring Retry-After)")
    timeout: float = flag(60.0, metavar="S",
                          help="seconds one HTTP request may take (connect, send, receive)")
    overwrite: bool = flag(False, help="replace existing outputs")
    skip_existing: bool = flag(False, help="keep outputs that exist and are valid EXRs")

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise UserError(f"--url {self.url}: give the service's address as "
                            "http://HOST:PORT (or https://...)")
        self.url = self.url.rstrip("/")
        for name in ("poll", "timeout"):
            if not getattr(self, name) > 0:
                raise UserError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.retries < 0:
            raise UserError(f"--retries must be 0 or more, got {self.retries}")


class ServerError(Exception):
    """An HTTP error answer (or a failed job, ``status`` None): the service's ``code`` and
    ``detail``, and its Retry-After in seconds (None when it gave none)."""

    def __init__(self, status: int | None, code: str, detail: str,
                 retry_after: float | None = None):
        super().__init__(f"{status} {code}: {detail}" if status else f"{code}: {detail}")
        self.status, self.code, self.detail, self.retry_after = status, code, detail, retry_after


class Unreachable(Exception):
    """The server could not be reached, however often it was tried."""


def read_key(path: Path) -> str:
    """The API key in ``path``: its first line that is not blank or a # comment."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"--api-key-file {path}: cannot read it ({error.__class__.__name__})"
                        ) from None
    for line in lines:
        if line.strip() and not line.strip().startswith("#"):
            return line.strip()
    raise UserError(f"--api-key-file {path} holds no key")


def _retryable(error: BaseException) -> bool:
    import httpx

    return isinstance(error, httpx.TransportError) or (
        isinstance(error, ServerError) and error.status in RETRY_STATUSES)


def _wait(retry_state) -> float:
    """Seconds before the next attempt: the server's Retry-After, else exponential."""
    from tenacity import wait_exponential, wait_random

    error = retry_state.outcome.exception()
    if isinstance(error, ServerError) and error.retry_after is not None:
        return min(error.retry_after, MAX_RETRY_AFTER_S)
    # Jitter, so that a farm's clients refused together do not come back together.
    backoff = wait_exponential(multiplier=0.5, max=MAX_WAIT_S) + wait_random(0, 0.5)
    return backoff(retry_state)


class Service:
    """One service, spoken to with retries (module docstring)."""

    def __init__(self, config: ClientConfig, say=print) -> None:
        import httpx

        headers = {"User-Agent": f"mcdenoise-client/{__version__}"}
        if config.api_key_file is not None:
            headers["Authorization"] = f"Bearer {read_key(config.api_key_file)}"
        self.http = httpx.Client(base_url=config.url, headers=headers,
                                 timeout=config.timeout)
        self.config, self.say = config, say
        self.current: str | None = None  # the job being worked on, cancelled on Ctrl-C

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any):
        """One request with retries; the response (2xx), or ServerError, or Unreachable.
        ``files``: field -> (name, path), reopened from the start on every attempt."""
        files = kwargs.pop("files", None) or {}

        def attempt():
            opened = {name: (label, open(where, "rb")) for name, (label, where) in files.items()}
            try:
                response = self.http.request(method, path, files=opened or None, **kwargs)
            finally:
                for _, handle in opened.values():
                    handle.close()
            _raise_for(response)
            return response

        return self._retried(attempt, f"{method} {path}")

    def download(self, path: str, target: Path) -> int:
        """GET ``path`` into ``target`` atomically, with retries; the bytes written."""
        from mcdenoise.core.files import atomic_path

        def attempt() -> int:
            with atomic_path(target) as temp, self.http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                size = 0
                with open(temp, "wb") as out:
                    for chunk in response.iter_bytes(1024 * 1024):
                        out.write(chunk)
                        size += len(chunk)
                return size

        return self._retried(attempt, f"GET {path}")

    def _retried(self, attempt, what: str):
        """``attempt()`` until it succeeds, raises what is not worth retrying, or has been
        retried ``--retries`` times (the last error raised; a network error as Unreachable)."""
        import httpx
        from tenacity import Retrying, retry_if_exception, stop_after_attempt

        def note(retry_state) -> None:
            self.say(f"retrying {what} in {retry_state.upcoming_sleep:.1f} s (attempt "
                     f"{retry_state.attempt_number} of {self.config.retries + 1}): "
                     f"{_describe(retry_state.outcome.exception())}")

        try:
            for trial in Retrying(retry=retry_if_exception(_retryable), wait=_wait,
                                  stop=stop_after_attempt(self.config.retries + 1),
                                  before_sleep=note, reraise=True):
                with trial:
                    return attempt()
        except httpx.TransportError as error:
            raise Unreachable(f"cannot reach {self.config.url} ({_describe(error)}) after "
                              f"{self.config.retries + 1} attempts") from None
        raise AssertionError("tenacity neither returned nor raised")  # pragma: no cover


def _raise_for(response) -> None:
    """ServerError for an error answer, with the service's own code and words."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
        code, detail = str(body["error"]), str(body["detail"])
    except (ValueError, KeyError, TypeError):
        code, detail = f"http_{response.status_code}", response.text[:200] or response.reason_phrase
    retry_after = response.headers.get("retry-after")
    seconds = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
    raise ServerError(response.status_code, code, detail, seconds)


def _describe(error: BaseException | None) -> str:
    if isinstance(error, ServerError):
        return str(error)
    return f"{error.__class__.__name__}: {error}" if error is not None else "?"


def preflight(service: Service) -> str:
    """Check the address, the key and the model before any upload (UserError when they
    cannot work); the model the jobs will use."""
    try:
        models = service.call("GET", "/v1/models").json()
    except Unreachable as error:
        raise UserError(f"--url: {error}") from None
    except ServerError as error:
        if error.status in (401, 403):
            raise UserError(f"the server refused the API key ({error}); check --api-key-file"
                            ) from None
        raise UserError(f"{service.config.url}/v1/models answered {error}") from None
    except ValueError:
        raise UserError(f"{service.config.url} does not look like an mcdenoise service "
                        "(GET /v1/models is not JSON)") from None
    names = [m.get("name") for m in models.get("models", [])]
    model = service.config.model or models.get("default")
    if model not in names:
        raise UserError(f"--model {model}: not served at {service.config.url} (it serves "
                        f"{', '.join(map(str, names)) or 'none'})")
    return model


def denoise_one(service: Service, source: Path, target: Path, model: str) -> dict[str, Any]:
    """Submit, poll, download, delete: one frame. Raises ServerError or Unreachable."""
    config = service.config
    began = time.perf_counter()
    data = {"model": model, "precision": config.precision, "nonfinite": config.nonfinite}
    submitted = service.call("POST", "/v1/jobs", data=data,
                             files={"file": (source.name, source)}).json()
    location = f"/v1/jobs/{submitted['id']}"
    service.current = location
    phase = None
    try:
        while True:
            status = service.call("GET", location).json()
            if status["phase"] != phase:
                phase = status["phase"]
                service.say(f"{source}: {status['state']} ({phase}, "
                            f"{100 * status['progress']:.0f}%)")
            if status["state"] == "done":
                break
            if status["state"] in ("failed", "cancelled"):
                error = status.get("error") or {}
                raise ServerError(None, error.get("error", status["state"]),
                                  error.get("detail", f"the job was {status['state']}"))
            time.sleep(config.poll)
        size = service.download(status["result"], target)
    finally:
        service.current = None
        try:  # free the server's store; the job expires anyway if this fails
            service.http.delete(location, timeout=min(config.timeout, 10))
        except Exception:  # noqa: BLE001 -- best effort
            pass
    return {"input": str(source), "output": str(target), "status": "done",
            "width": status["width"], "height": status["height"], "model": status["model"],
            "bytes": size, "seconds": round(time.perf_counter() - began, 3)}


def run_client_denoise(config: ClientConfig) -> int:
    """The command; returns the exit code (`mcdenoise denoise`'s EXIT_CODES)."""
    from mcdenoise.infer.sequences import plan
    from mcdenoise.progress import Progress

    try:
        import httpx  # noqa: F401
        import tenacity  # noqa: F401
    except ImportError as error:
        raise UserError(f"`mcdenoise client` needs {error.name}: pip install "
                        "'mcdenoise[client]'") from None
    jobs = plan(config.inputs, Path(config.output), frames=config.frames,
                overwrite=config.overwrite, skip_existing=config.skip_existing)
    progress = Progress(len(jobs), "frame", "client", stream=sys.stdout)
    service = Service(config, say=progress.message)
    failures: list[tuple[str, str]] = []
    began = time.perf_counter()
    try:
        model = preflight(service)
        for index, job in enumerate(jobs):
            if job.skip:
                progress.message(f"{job.source}: skipped, {job.target} exists and is valid")
            elif job.missing:
                failures.append((str(job.source), job.missing))
                progress.message(f"FAILED {job.source}: {job.missing}")
            else:
                try:
                    row = denoise_one(service, job.source, job.target, model)
                    progress.message(f"{row['input']} -> {row['output']} ({row['width']}x"
                                     f"{row['height']}, {row['model']}, {row['seconds']:.2f} s)")
                except ServerError as error:
                    failures.append((str(job.source), str(error)))
                    progress.message(f"FAILED {job.source}: {error}")
                except Unreachable as error:
                    # Every later frame would wait out the same retries: name them all.
                    for later in jobs[index:]:
                        failures.append((str(later.source), str(error)))
                    progress.message(f"FAILED {job.source}: {error}")
                    break
            progress.advance(job.source.name)
    except KeyboardInterrupt:
        progress.close()
        if service.current is not None:  # do not leave the server working for nobody
            try:
                service.http.delete(service.current, timeout=5)
            except Exception:  # noqa: BLE001 -- best effort
                pass
        print("interrupted: outputs already written are whole, none is half-written",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        service.close()
    progress.close()
    print(f"{len(jobs) - len(failures)} denoised or kept, {len(failures)} failed "
          f"({time.perf_counter() - began:.1f} s)")
    for source, why in failures:
        print(f"failed: {source}: {why}", file=sys.stderr)
    return EXIT_FAILED if failures else EXIT_DONE


def register(commands) -> None:
    parser = commands.add_parser(
        "client", help="denoise through a running `mcdenoise serve` (job API, retries)",
        description="Talk to a running mcdenoise service.")
    # dest "command" again: cli.main drops it, so the nested command's config is all that is left.
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_command(
        sub, "denoise", ClientConfig, run_client_denoise,
        help="upload EXRs to the service's job API and download the results",
        description="Denoise EXR frames on a running `mcdenoise serve`: each is uploaded as a "
                    "job, polled, and its result downloaded atomically (nothing half-written "
                    "on failure or Ctrl-C). Network errors and 429/502/503/504 answers are "
                    "retried with exponential back-off, honouring Retry-After. Inputs and "
                    "outputs as `mcdenoise denoise`.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
