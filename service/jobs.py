"""The job store: asynchronous denoise jobs, their state, and their files, within bounds.

A job is created when its upload has arrived and passed the header checks; it then runs on the
server without its client (app.py), through the same queue and slots as /v1/denoise. Its
status is kept here, its files (decoded input layers, the result EXR, the output's pixels)
in a folder of its own, until it expires: ``ttl`` seconds after it finished, or sooner when
the store needs the room.

Bounds: at most ``max_jobs`` jobs remembered and ``max_bytes`` of files. A new job reserves
an estimate of its files' size up front (replaced by the real size when it finishes); to make
room, finished jobs are removed oldest first. A job that cannot fit even then is refused:
StoreFull, retryable (503) while running jobs hold the room, permanent (507) when it is
larger than the whole store. Jobs are not persisted: a server restart forgets them all.

Ids are ``secrets.token_urlsafe(16)``: unguessable, so an id is a capability to its job; with
API keys on, a job is also visible only with the key that created it.

All methods are thread-safe; none blocks on file I/O (folders are removed by a thread of
the store's own).
"""
from __future__ import annotations

import logging
import queue
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("mcdenoise.service")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
FINISHED = (DONE, FAILED, CANCELLED)


class StoreFull(Exception):
    """No room for a new job: ``status`` 503 (retry after ``retry_after`` s) or 507."""

    def __init__(self, status: int, code: str, detail: str, retry_after: int | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.retry_after = status, code, detail, retry_after


@dataclass(eq=False)
class JobRecord:
    """One job. ``phase`` says what it is doing (in words); ``progress`` is 0..1.

    owner: the index of the API key that created it (None without keys).
    filename: the name the client gave the upload (the result's download name derives from it).
    folder: its files; ``result`` (the EXR) and ``output`` (the denoised beauty's pixels) are
        file names in it once done; ``headers`` those of the result's response. ``layers``: the input's layers (pixels.Layer) once decoded.
    bytes: its files' size, reserved (an estimate) until it finishes, then measured.
    """
    id: str
    owner: int | None
    folder: Path
    model: str
    width: int
    height: int
    filename: str
    bytes: int = 0
    state: str = QUEUED
    phase: str = "decoding"
    progress: float = 0.0
    error: dict[str, str] | None = None
    error_status: int = 500  # the HTTP status of ``error``, which /result answers with
    created: float = field(default_factory=time.time)
    finished: float | None = None
    expires: float | None = None
    layers: list | None = None
    result: str | None = None
    output: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Set by the app while it runs: the queue's job (its state and start time give the
    # progress) and the estimated seconds of denoising.
    queued: Any = None
    estimate: float | None = None
    task: Any = None

    def status(self, now: float | None = None) -> dict[str, Any]:
        """What GET /v1/jobs/{id} answers."""
        state, phase, progress = self.state, self.phase, self.progress
        job = self.queued
        if state == QUEUED and job is not None and job.started is not None \
                and self.phase == "waiting":
            state, phase = RUNNING, "denoising"
            elapsed = time.perf_counter() - job.started
            share = min(1.0, elapsed / self.estimate) if self.estimate else 0.5
            progress = 0.2 + 0.65 * share  # encoding starts at 0.9
        body: dict[str, Any] = {
            "id": self.id, "state": state, "phase": phase, "progress": round(progress, 3),
            "error": self.error, "created": _iso(self.created), "finished": _iso(self.finished),
            "expires": _iso(self.expires), "width": self.width, "height": self.height,
            "model": self.model}
        if self.state == DONE:
            body["result"] = f"/v1/jobs/{self.id}/result"
        if self.layers is not None:
            body["layers"] = [layer.describe() for layer in self.layers]
        return body


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        f".{int(seconds % 1 * 1000):03d}Z"


class JobStore:
    """The jobs of one server (module docstring)."""

    def __init__(self, ttl: float, max_bytes: int, max_jobs: int) -> None:
        self.ttl, self.max_bytes, self.max_jobs = ttl, max_bytes, max_jobs
        self._jobs: dict[str, JobRecord] = {}
        self._lock = threading.Lock()
        self._trash: queue.Queue[Path | None] = queue.Queue()
        self._remover: threading.Thread | None = None
        # Denoising seconds per megapixel, a running mean, for the progress of a running job.
        self.seconds_per_mpx: float | None = None

    # --- figures (read by /metrics) ---
    def counts(self) -> dict[str, int]:
        with self._lock:
            self._expire(time.time())
            states = [job.state for job in self._jobs.values()]
        return {state: states.count(state) for state in STATES}

    @property
    def bytes(self) -> int:
        with self._lock:
            return sum(job.bytes for job in self._jobs.values())

    # --- lifecycle ---
    def start(self) -> None:
        if self._remover is None:
            self._remover = threading.Thread(target=self._remove, name="mcdenoise-jobs",
                                             daemon=True)
            self._remover.start()

    def stop(self) -> None:
        """Forget every job (their folders go with the server's work folders)."""
        with self._lock:
            self._jobs.clear()
        if self._remover is not None:
            self._trash.put(None)
            self._remover.join(10)
            self._remover = None

    # --- jobs ---
    def add(self, owner: int | None, folder: Path, reserve: int, **fields: Any) -> JobRecord:
        """A new queued job reserving ``reserve`` bytes; StoreFull when it cannot fit."""
        with self._lock:
            now = time.time()
            self._expire(now)
            if reserve > self.max_bytes:
                raise StoreFull(507, "job_too_large",
                                f"this job needs about {reserve / 2**20:,.0f} MiB of the job "
                                f"store, more than all of it ({self.max_bytes / 2**20:,.0f} "
                                "MiB, the server's --job-store-mb); use /v1/denoise, which "
                                "keeps nothing")
            finished = sorted((j for j in self._jobs.values() if j.state in FINISHED),
                              key=lambda j: j.finished or 0)
            used = sum(j.bytes for j in self._jobs.values())
            while finished and (used + reserve > self.max_bytes
                                or len(self._jobs) >= self.max_jobs):
                oldest = finished.pop(0)
                used -= oldest.bytes
                self._drop(oldest, "to make room")
            if used + reserve > self.max_bytes:
                raise StoreFull(503, "job_store_full",
                                f"the job store is full ({used / 2**20:,.0f} of "
                                f"{self.max_bytes / 2**20:,.0f} MiB, the server's "
                                "--job-store-mb, held by unfinished jobs); retry in 5 s", 5)
            if len(self._jobs) >= self.max_jobs:
                raise StoreFull(503, "jobs_full",
                                f"{len(self._jobs)} jobs are unfinished (the server's --jobs); "
                                "retry in 5 s", 5)
            job_id = secrets.token_urlsafe(16)
            job = JobRecord(job_id, owner, folder, bytes=reserve, created=now, **fields)
            self._jobs[job_id] = job
            return job

    def get(self, job_id: str, owner: int | None) -> JobRecord | None:
        """The job, or None when it is unknown, expired or another key's."""
        with self._lock:
            self._expire(time.time())
            job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            return None
        return job

    def finish(self, job: JobRecord, state: str, error: dict[str, str] | None = None) -> None:
        """Mark ``job`` finished (done, failed, cancelled) and start its time to live. The
        caller has measured ``job.bytes`` for a done job; other jobs keep no files."""
        now = time.time()
        with self._lock:
            job.state, job.error = state, error
            job.finished, job.expires = now, now + self.ttl
            job.progress = 1.0 if state == DONE else job.progress
            job.phase = state
            if state != DONE:
                job.bytes = 0
            job.queued = None

    def forget(self, job: JobRecord) -> None:
        """Remove a finished job and its files now (DELETE of a finished job)."""
        with self._lock:
            if self._jobs.get(job.id) is job:
                self._drop(job, "deleted")

    def learn_speed(self, pixels: int, seconds: float) -> None:
        """Record one denoise's time, for the progress estimate of the next ones."""
        rate = seconds / max(pixels / 1e6, 1e-6)
        self.seconds_per_mpx = rate if self.seconds_per_mpx is None else \
            0.8 * self.seconds_per_mpx + 0.2 * rate

    def estimate(self, pixels: int) -> float | None:
        return None if self.seconds_per_mpx is None else self.seconds_per_mpx * pixels / 1e6

    # --- inside the lock ---
    def _expire(self, now: float) -> None:
        for job in [j for j in self._jobs.values() if j.expires is not None and j.expires <= now]:
            self._drop(job, "expired")

    def _drop(self, job: JobRecord, why: str) -> None:
        del self._jobs[job.id]
        log.info("job %s removed (%s, %s)", job.id[:8], job.state, why)
        if job.state in FINISHED:  # an unfinished job's folder is its task's to remove
            self._trash.put(job.folder)

    def _remove(self) -> None:
        while (folder := self._trash.get()) is not None:
            shutil.rmtree(folder, ignore_errors=True)
