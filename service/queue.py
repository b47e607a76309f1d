"""The bounded inference queue: requests wait here for a worker thread that runs the denoiser.

Admission is decided when a request arrives, before its upload is read: at most
``slots + workers`` requests are admitted at once (waiting, uploading, decoding or being
denoised). One more gets QueueFull (503 with Retry-After) instead of piling up memory. A
request's slot is freed when the request is done with it (``finish``: its answer encoded, or
given up), but never before its job has left the worker: a request that gave up earlier
(timeout, client gone) leaves the slot to the worker, so the bound holds while a slow job
still runs.

Inference runs on worker threads, never on the event loop; a request awaits an asyncio future
that the worker resolves. A worker takes the oldest job and, when batching is on, the waiting
jobs with the same batch key, up to ``batch`` frames.
"""
from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("mcdenoise.service")

QUEUED, RUNNING, DONE = "queued", "running", "done"


class QueueFull(Exception):
    """No slot free; ``retry_after`` is a whole number of seconds worth waiting."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(eq=False)
class Ticket:
    """One admitted request's slot; freed exactly once."""
    released: bool = False
    finished: bool = False  # the request is done with it (finish was called)


@dataclass(eq=False)
class Job:
    """Work for the worker: denoise ``frame`` with ``model``; the result goes to ``future``."""
    model: str
    frame: Any
    key: Hashable | None
    ticket: Ticket
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    state: str = QUEUED
    queued_at: float = field(default_factory=time.perf_counter)
    started: float | None = None  # when a worker took it (perf_counter seconds)


class InferenceQueue:
    """Bounded admission plus worker threads.

    run: ``run(model, frames) -> outputs``, called on a worker thread with 1..batch frames of
        one batch key; it may raise (the exception goes to each job's request).
    key: ``key(model, frame) -> hashable or None``; jobs with equal non-None keys may be
        batched.
    slots: requests that may wait beyond those being worked on (``--queue``).
    on_done: ``on_done(frames, seconds)`` after each successful batch (metrics).
    """

    def __init__(self, run: Callable[[str, list], list], key: Callable[[str, Any], Hashable | None],
                 slots: int, workers: int = 1, batch: int = 1,
                 on_done: Callable[[list, float], None] | None = None) -> None:
        self.run, self.key, self.on_done = run, key, on_done
        self.capacity = slots + workers
        self.workers, self.batch = workers, max(1, batch)
        self._cond = threading.Condition()
        self._pending: deque[Job] = deque()
        self._admitted = 0
        self._running = 0
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self._job_seconds = 1.0  # running mean of a batch's time, for Retry-After

    # --- figures (read by /metrics) ---
    @property
    def admitted(self) -> int:
        return self._admitted

    @property
    def waiting(self) -> int:
        """Jobs decoded and waiting for a worker."""
        return len(self._pending)

    @property
    def depth(self) -> int:
        """Jobs waiting plus jobs being denoised."""
        return len(self._pending) + self._running

    # --- lifecycle ---
    def start(self) -> None:
        for i in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"mcdenoise-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    # --- used by request handlers, on the event loop ---
    def admit(self) -> Ticket:
        """A slot for a new request, or QueueFull."""
        with self._cond:
            if self._admitted >= self.capacity:
                raise QueueFull(self.retry_after())
            self._admitted += 1
            return Ticket()

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the work ahead of a newcomer over the workers."""
        ahead = max(1, len(self._pending) + self._running)
        return max(1, math.ceil(ahead * self._job_seconds / (self.workers * self.batch)))

    def submit(self, ticket: Ticket, model: str, frame: Any) -> Job:
        """Queue ``frame`` for the worker; await ``job.future`` for the denoised frame."""
        loop = asyncio.get_running_loop()
        job = Job(model, frame, self.key(model, frame), ticket, loop.create_future(), loop)
        with self._cond:
            if self._stopping:
                raise RuntimeError("the service is shutting down")
            self._pending.append(job)
            self._cond.notify()
        return job

    def finish(self, ticket: Ticket, job: Job | None) -> None:
        """Call when a request is done with its slot, however it ended. A job still waiting is
        withdrawn; a running job keeps the slot until the worker is done with it."""
        with self._cond:
            ticket.finished = True
            if job is not None and job.state == QUEUED:
                self._pending.remove(job)
                job.state = DONE
            if job is None or job.state == DONE:
                self._release(ticket)

    # --- worker side ---
    def _release(self, ticket: Ticket) -> None:
        if not ticket.released:
            ticket.released = True
            self._admitted -= 1

    def _take(self) -> list[Job] | None:
        with self._cond:
            while not self._pending and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            jobs = [self._pending.popleft()]
            if self.batch > 1 and jobs[0].key is not None:
                for job in list(self._pending):
                    if len(jobs) >= self.batch:
                        break
                    if job.key == jobs[0].key:
                        self._pending.remove(job)
                        jobs.append(job)
            now = time.perf_counter()
            for job in jobs:
                job.state, job.started = RUNNING, now
            self._running += len(jobs)
            return jobs

    def _work(self) -> None:
        while (jobs := self._take()) is not None:
            start = time.perf_counter()
            try:
                outputs = self.run(jobs[0].model, [job.frame for job in jobs])
                error = None
            except Exception as exc:  # noqa: BLE001 -- handed to the requests, which answer 500
                log.exception("denoising failed")
                outputs, error = [None] * len(jobs), exc
            seconds = time.perf_counter() - start
            with self._cond:
                self._running -= len(jobs)
                for job in jobs:
                    job.state = DONE
                    job.frame = None  # let the input go as soon as possible
                    if job.ticket.finished:  # its request gave up while it ran
                        self._release(job.ticket)
                if error is None:
                    self._job_seconds = 0.8 * self._job_seconds + 0.2 * seconds
            if error is None and self.on_done is not None:
                self.on_done(outputs, seconds)
            for job, output in zip(jobs, outputs):
                try:
                    job.loop.call_soon_threadsafe(_resolve, job.future, output, error)
                except RuntimeError:  # the event loop has closed: the server is stopping
                    pass


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # the request stopped waiting (timeout, client gone)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
