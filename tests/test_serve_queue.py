"""The generation line: one job at a time, bounded waiting, cancellation before start, errors."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from edgemem.serve.queue import GenerationQueue, Job, QueueFull


def _collect(job: Job) -> "asyncio.Future[list[tuple[str, object]]]":
    async def run() -> list[tuple[str, object]]:
        return [(e.kind, e.data) async for e in job.events()]

    return asyncio.ensure_future(run())


def test_jobs_run_one_at_a_time_in_order() -> None:
    spans: list[tuple[str, float, float]] = []

    def work_named(name: str):
        def work(job: Job) -> None:
            t0 = time.perf_counter()
            time.sleep(0.05)
            job.emit("piece", name)
            spans.append((name, t0, time.perf_counter()))
        return work

    async def main() -> list[list[tuple[str, object]]]:
        q = GenerationQueue(max_waiting=3)
        jobs = [q.submit(work_named(n)) for n in "abc"]
        results = await asyncio.gather(*[_collect(j) for j in jobs])
        q.shutdown()
        return results

    results = asyncio.run(main())
    assert [r for r in results] == [[("piece", "a")], [("piece", "b")], [("piece", "c")]]
    assert [s[0] for s in spans] == ["a", "b", "c"]
    for (_, _, end), (_, start, _) in zip(spans, spans[1:]):
        assert start >= end  # never two generations at once


def test_full_line_is_refused_with_retry_after_and_recovers() -> None:
    release = threading.Event()

    def blocking(job: Job) -> None:
        release.wait(10)
        job.emit("piece", "done")

    async def main() -> None:
        q = GenerationQueue(max_waiting=1)
        running = q.submit(blocking)
        assert await running.wait_started(5)
        waiting = q.submit(blocking)
        with pytest.raises(QueueFull) as e:
            q.submit(blocking)
        assert e.value.retry_after >= 1
        assert q.rejected == 1 and q.inflight == 2
        release.set()
        assert await _collect(running) == [("piece", "done")]
        assert await _collect(waiting) == [("piece", "done")]
        assert q.inflight == 0
        again = q.submit(blocking)  # room again once the line drained
        assert await _collect(again) == [("piece", "done")]
        q.shutdown()

    asyncio.run(main())


def test_cancelled_waiting_job_never_runs_and_errors_do_not_kill_the_worker() -> None:
    release = threading.Event()
    ran: list[str] = []

    def blocking(job: Job) -> None:
        release.wait(10)

    def record(job: Job) -> None:
        ran.append("ran")

    def broken(job: Job) -> None:
        raise ValueError("boom")

    async def main() -> None:
        q = GenerationQueue(max_waiting=2)
        first = q.submit(blocking)
        assert await first.wait_started(5)
        skipped = q.submit(record)
        skipped.cancel()
        release.set()
        await _collect(first)
        assert await _collect(skipped) == []
        assert not await skipped.wait_started(0.01)
        failed = await _collect(q.submit(broken))
        assert failed[0][0] == "error" and isinstance(failed[0][1], ValueError)
        await _collect(q.submit(record))
        q.shutdown()

    asyncio.run(main())
    assert ran == ["ran"]  # the cancelled job's work never ran; the one after the error did


def test_request_deadline_cancels_a_slow_generation() -> None:
    """Past the per-request timeout the reply ends (finish "length", timed_out) and the worker stops."""
    from edgemem.serve.openai_api import _job_events

    stopped = threading.Event()

    def slow(job: Job) -> None:
        job.emit("piece", "a")
        while not job.cancelled.wait(0.01):  # a generation that would go on and on
            pass
        stopped.set()

    async def main() -> list[tuple[str, object]]:
        q = GenerationQueue(max_waiting=0)
        job = q.submit(slow)
        stats = {"timeouts": 0}
        t0 = time.perf_counter()
        out = [e async for e in _job_events(job, time.perf_counter() + 0.3, stats)]
        assert 0.25 < time.perf_counter() - t0 < 5
        assert stats["timeouts"] == 1
        q.shutdown()
        return out

    events = asyncio.run(main())
    assert events == [("piece", "a"), ("done", {"finish_reason": "length", "timed_out": True})]
    assert stopped.is_set()


def test_idle_work_yields_to_a_request_and_takes_no_place_in_line() -> None:
    """Idle work (prefilling the next prompt) runs when the line is empty, is not counted as a
    job, and sees busy() turn true as soon as a request arrives, so it can stop early."""
    chunks: list[int] = []
    started = threading.Event()

    def idle(busy) -> None:  # noqa: ANN001
        started.set()
        for i in range(200):  # up to 2 s of "chunks"
            if busy():
                return
            chunks.append(i)
            time.sleep(0.01)

    async def main() -> tuple[float, list[tuple[str, object]]]:
        q = GenerationQueue(max_waiting=0)
        q.idle(idle)
        await asyncio.to_thread(started.wait, 5)
        assert q.inflight == 0  # idle work holds no place: a request is still accepted
        t0 = time.perf_counter()
        job = q.submit(lambda j: j.emit("piece", "reply"))
        events = await _collect(job)
        waited = time.perf_counter() - t0
        q.shutdown()
        return waited, events

    waited, events = asyncio.run(main())
    assert events == [("piece", "reply")]
    assert waited < 0.5 and len(chunks) < 100  # the idle work stopped within a chunk or so


def test_shutdown_stops_idle_work() -> None:
    ran: list[int] = []

    def idle(busy) -> None:  # noqa: ANN001
        for i in range(300):
            if busy():
                return
            ran.append(i)
            time.sleep(0.01)

    q = GenerationQueue()
    q.idle(idle)
    time.sleep(0.05)
    t0 = time.perf_counter()
    q.shutdown()
    assert time.perf_counter() - t0 < 0.5 and len(ran) < 100
