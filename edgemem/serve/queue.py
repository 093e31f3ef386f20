"""One generation at a time, a bounded line in front of it.

A small device has one model and a couple of cores: two generations at once would each run at
half speed and double the memory. So all generation runs in one worker thread and requests wait
in a bounded line; when the line is full the caller is told how long to wait (HTTP 429 with
Retry-After) instead of piling up work that would time out anyway.

The worker thread talks to the event loop through an ``asyncio.Queue`` per job: the thread emits
events, the request handler awaits them. A job is cancelled by setting its event; the work
function checks it between tokens, which is how a closed browser tab stops the engine.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from ..errors import EdgememError

_DONE = object()
log = logging.getLogger("edgemem.serve")


class QueueFull(EdgememError):
    """The line is full; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueueTimeout(EdgememError):
    """A job waited in line past its deadline and was dropped before it started."""


@dataclass
class Event:
    """What a job tells its request: a ``kind`` ("start", "piece", "meta", "error") and data."""

    kind: str
    data: Any = None


class Job:
    """A unit of work for the generation thread and the events it sends back."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self.cancelled = threading.Event()
        # Set with ``cancelled`` when the session ended or was forgotten under the reply: what was
        # generated is then not stored.
        self.revoked = False
        self.started = asyncio.Event()
        self.finished = asyncio.Event()
        self.submitted_at = time.perf_counter()
        self.started_at: float | None = None

    # Called from the worker thread.
    def emit(self, kind: str, data: Any = None) -> None:
        self._loop.call_soon_threadsafe(self._events.put_nowait, Event(kind, data))

    def _mark_started(self) -> None:
        self.started_at = time.perf_counter()
        self._loop.call_soon_threadsafe(self.started.set)

    def _finish(self) -> None:
        self._loop.call_soon_threadsafe(self._events.put_nowait, _DONE)
        self._loop.call_soon_threadsafe(self.finished.set)

    # Called from the event loop.
    def cancel(self) -> None:
        self.cancelled.set()

    def revoke(self) -> None:
        """Stop at the next token and store nothing (the session is gone)."""
        self.revoked = True
        self.cancelled.set()

    async def wait_started(self, timeout: float) -> bool:
        """Wait until the worker picks the job up (True) or it ends unstarted / times out (False)."""
        waiters = [asyncio.ensure_future(self.started.wait()), asyncio.ensure_future(self.finished.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        return self.started.is_set()

    async def events(self) -> AsyncIterator[Event]:
        """Events until the job ends (an exception in the work arrives as an "error" event)."""
        while True:
            item = await self._events.get()
            if item is _DONE:
                return
            yield item


class GenerationQueue:
    """A single worker thread with at most ``max_waiting`` jobs waiting behind the running one."""

    def __init__(self, max_waiting: int = 4) -> None:
        if max_waiting < 0:
            raise EdgememError("queue size must be >= 0")
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgemem-generate")
        self._lock = threading.Lock()
        self._inflight = 0  # running + waiting
        self._mean_s = 2.0  # running mean of job time, for Retry-After
        self.completed = 0
        self.rejected = 0
        self._closing = False  # idle work stops at once when the server shuts down

    @property
    def inflight(self) -> int:
        return self._inflight

    def retry_after(self) -> int:
        """Seconds until a place in line is likely free: the jobs ahead times their mean time."""
        return max(1, math.ceil(self._mean_s * max(1, self._inflight - self.max_waiting)))

    def submit(self, work: Callable[[Job], None]) -> Job:
        """Queue ``work(job)`` or raise ``QueueFull``; never blocks the event loop."""
        with self._lock:
            if self._inflight >= 1 + self.max_waiting:
                self.rejected += 1
                raise QueueFull(
                    f"busy: {self._inflight} requests ahead; try again shortly", self.retry_after()
                )
            self._inflight += 1
        job = Job(asyncio.get_running_loop())
        self._executor.submit(self._run, work, job)
        return job

    def _run(self, work: Callable[[Job], None], job: Job) -> None:
        t0 = time.perf_counter()
        try:
            if not job.cancelled.is_set():
                job._mark_started()
                work(job)
        except BaseException as e:  # reported to the request; the worker keeps serving
            job.emit("error", e)
        finally:
            elapsed = time.perf_counter() - t0
            with self._lock:
                self._inflight -= 1
                if job.started_at is not None:
                    self._mean_s = 0.8 * self._mean_s + 0.2 * max(elapsed, 0.05)
                    self.completed += 1
            job._finish()

    def idle(self, fn: Callable[[Callable[[], bool]], Any]) -> None:
        """Run ``fn(busy)`` on the generation thread once it is free, behind any queued job.

        Idle work (prefilling a session's next prompt) is never a job: it takes no place in line,
        and ``busy()`` turns true as soon as a request is submitted, so it stops within a chunk.
        Its errors are dropped: idle work may never fail a request.
        """
        def run() -> None:
            try:
                fn(lambda: self._inflight > 0 or self._closing)
            except Exception:  # noqa: BLE001 - see above
                pass

        self._executor.submit(run)

    def later(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` on the generation thread after what it holds now (never in line, never
        refused): engine housekeeping such as dropping a closed session's cached prefix."""
        def run() -> None:
            try:
                fn()
            except Exception:  # noqa: BLE001 - housekeeping may never fail a request
                log.exception("generation-thread housekeeping failed")

        try:
            self._executor.submit(run)
        except RuntimeError:  # shut down: the engine and its cache are going away anyway
            pass

    def wait_idle(self, timeout: float | None = None) -> None:
        """Block (not on the event loop) until what the generation thread holds now, idle work
        included, is done: for tests and tools that read the engine's state after it."""
        self._executor.submit(lambda: None).result(timeout)

    def run_sync(self, fn: Callable[[], Any]) -> "asyncio.Future[Any]":
        """Run a non-generation task on the generation thread (e.g. swapping the engine)."""
        return asyncio.wrap_future(self._executor.submit(fn))

    def shutdown(self) -> None:
        self._closing = True
        self._executor.shutdown(wait=True, cancel_futures=True)
