"""The worker: claims due jobs from the database and runs their handlers.

Several workers (on one or more machines) can run against one database; a
job is never run by two of them at once. SIGTERM and SIGINT stop the worker
cleanly: it claims nothing more, lets the jobs in hand finish, and exits.
Long-running services of the worker (the MQTT relay) run beside the claim
loop and are stopped with it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import signal
import socket
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app import domains, jobs
from app.settings import Settings

log = logging.getLogger("eclor.worker")

# The database is busy or briefly away (locked, pool full, connection lost): wait and try again.
DATABASE_BUSY = (DBAPIError, PoolTimeout)


@dataclass
class WorkerRuntime:
    settings: Settings
    engine: Engine
    worker_id: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    state: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0  # loops restarted by the supervisor after a crash


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def load_handlers() -> None:
    """Give the job queue the domains' job handlers (``app.domains``)."""
    domains.install()


async def _record(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Write a job's result, retrying while the database is busy (locked, pool full).

    If it still cannot be written, the job's lease runs out and it is claimed
    again: nothing is lost, the worker goes on.
    """
    delay = 0.2
    for attempt in range(6):
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except DATABASE_BUSY as exc:
            if attempt == 5:
                log.error("could not record a job result", extra={"what": what, "error": str(exc)})
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    return None


async def _run_job(rt: WorkerRuntime, job: jobs.ClaimedJob) -> None:
    handler = jobs.HANDLERS.get(job.kind)
    lease_s = rt.settings.worker_lease_seconds
    if handler is None:
        await _record(
            "fail", jobs.fail, rt.engine, job, rt.worker_id, f"no handler for job kind {job.kind!r}"
        )
        log.error("job without handler", extra={"job_id": job.id, "kind": job.kind})
        return
    ctx = jobs.JobContext(rt.engine, rt.worker_id, job, lease_s, rt.settings)

    async def keep_lease() -> None:
        while True:
            await asyncio.sleep(max(1.0, lease_s / 3))
            try:
                await asyncio.to_thread(ctx.extend_lease)
            except DATABASE_BUSY as exc:  # tried again at the next tick, well before the lease ends
                log.warning("lease not extended", extra={"job_id": job.id, "error": str(exc)})

    keeper = asyncio.create_task(keep_lease())
    try:
        if inspect.iscoroutinefunction(handler):
            await handler(ctx, job.payload)
        else:
            await asyncio.to_thread(handler, ctx, job.payload)
    except jobs.RetryLater as exc:
        state = await _record(
            "defer",
            jobs.fail,
            rt.engine,
            job,
            rt.worker_id,
            str(exc),
            delay_s=exc.delay_s,
            count_attempt=False,
        )
        log.info("job deferred", extra={"job_id": job.id, "kind": job.kind, "state": state})
    except Exception as exc:  # a handler's failure is recorded on its job, never fatal
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        state = await _record("fail", jobs.fail, rt.engine, job, rt.worker_id, error)
        log.warning(
            "job failed",
            extra={"job_id": job.id, "kind": job.kind, "state": state, "error": str(exc)},
        )
    else:
        await _record("complete", jobs.complete, rt.engine, job, rt.worker_id)
        log.info("job done", extra={"job_id": job.id, "kind": job.kind})
    finally:
        keeper.cancel()


async def _heartbeat(rt: WorkerRuntime) -> None:
    """Tell /healthz this worker is alive, every few seconds, whatever the database does."""
    while not rt.stop.is_set():
        try:
            await asyncio.to_thread(jobs.beat, rt.engine, rt.worker_id, restarts=rt.restarts)
        except Exception as exc:  # a missed beat is not fatal; a long run of them shows on /healthz
            log.warning("heartbeat not written", extra={"error": str(exc)})
        try:
            await asyncio.wait_for(rt.stop.wait(), timeout=jobs.HEARTBEAT_SECONDS)
        except TimeoutError:
            pass


async def supervise(
    name: str, rt: WorkerRuntime, start: Callable[[], Awaitable[Any]], *, max_delay_s: float = 30.0
) -> None:
    """Run ``start()`` until the worker stops; restart it (with backoff) whenever it dies."""
    delay = 0.5
    while not rt.stop.is_set():
        began = time.monotonic()
        try:
            await start()
            return  # it ended on its own (stopped, or nothing to do here): not a crash

        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "loop died; restarting",
                extra={"loop": name, "error": f"{type(exc).__name__}: {exc}"},
                exc_info=exc,
            )
        rt.restarts += 1
        if time.monotonic() - began > 60:
            delay = 0.5  # it had been running well: restart at once
        try:
            await asyncio.wait_for(rt.stop.wait(), timeout=delay)
        except TimeoutError:
            pass
        delay = min(delay * 2, max_delay_s)


async def run(
    settings: Settings,
    engine: Engine,
    *,
    once: bool = False,
    worker_id: str | None = None,
    stop: asyncio.Event | None = None,
    install_signals: bool = True,
    services: bool = True,
) -> int:
    """Run the claim loop until stopped (or, with ``once``, until nothing is due). Returns jobs run."""
    load_handlers()
    rt = WorkerRuntime(settings, engine, worker_id or default_worker_id(), stop or asyncio.Event())
    loop = asyncio.get_running_loop()
    if install_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, rt.stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
    service_tasks = (
        [
            asyncio.create_task(
                supervise(getattr(svc, "__name__", "service"), rt, functools.partial(svc, rt))
            )
            for svc in domains.services()
        ]
        if services and not once
        else []
    )
    if not once:
        service_tasks.append(asyncio.create_task(_heartbeat(rt)))
    running: set[asyncio.Task[None]] = set()
    rt.state["ran"] = 0
    log.info("worker started", extra={"worker_id": rt.worker_id, "once": once})
    try:
        if once:
            await _claim_loop(rt, running, once=True)
        else:
            await supervise("claim", rt, lambda: _claim_loop(rt, running, once=False))
    finally:
        if running:
            await asyncio.wait(running)
        for task in service_tasks:
            task.cancel()
        await asyncio.gather(*service_tasks, return_exceptions=True)
        if not once:
            try:
                await asyncio.to_thread(jobs.forget, engine, rt.worker_id)
            except Exception as exc:  # its heartbeat then goes stale, which is the truth
                log.warning("heartbeat not removed", extra={"error": str(exc)})
        log.info("worker stopped", extra={"worker_id": rt.worker_id, "jobs_run": rt.state["ran"]})
    return int(rt.state["ran"])


async def _claim_loop(rt: WorkerRuntime, running: set[asyncio.Task[None]], *, once: bool) -> None:
    """Claim due jobs and start them, until stopped (or, with ``once``, until nothing is due).

    A busy database (locked, pool full) is waited out with backoff; any other
    error ends the loop, and the supervisor starts it again.
    """
    settings, engine = rt.settings, rt.engine
    busy_delay = settings.worker_poll_seconds
    while not rt.stop.is_set():
        free = settings.worker_batch - len(running)
        try:
            claimed = (
                await asyncio.to_thread(
                    claim_jobs,
                    engine,
                    rt.worker_id,
                    limit=max(free, 0),
                    lease_s=settings.worker_lease_seconds,
                )
                if free > 0
                else []
            )
        except DATABASE_BUSY as exc:
            log.warning("claim postponed: database busy", extra={"error": str(exc)[:200]})
            try:
                await asyncio.wait_for(rt.stop.wait(), timeout=busy_delay)
            except TimeoutError:
                pass
            busy_delay = min(busy_delay * 2, 5.0)
            continue
        busy_delay = settings.worker_poll_seconds
        for job in claimed:
            task = asyncio.create_task(_run_job(rt, job))
            running.add(task)
            task.add_done_callback(running.discard)
            rt.state["ran"] += 1
        if claimed:
            continue
        if running and not once:
            # Wait for a slot or for a job to finish before claiming again.
            await asyncio.wait(
                running, timeout=settings.worker_poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            continue
        if once:
            if running:
                await asyncio.wait(running)
                continue
            break
        try:
            await asyncio.wait_for(rt.stop.wait(), timeout=settings.worker_poll_seconds)
        except TimeoutError:
            pass


def claim_jobs(
    engine: Engine, worker_id: str, *, limit: int, lease_s: int
) -> list[jobs.ClaimedJob]:
    """The claim the loop makes (one name to find in a traceback)."""
    return jobs.claim(engine, worker_id, limit=limit, lease_s=lease_s)


async def run_forever(
    settings: Settings,
    engine: Engine,
    stop: asyncio.Event,
    *,
    worker_id: str | None = None,
    install_signals: bool = False,
) -> None:
    """The worker under a supervisor: if ``run`` itself dies, it is started again until ``stop``.

    ``eclor serve --with-worker`` runs this in its background thread.
    """
    delay = 0.5
    restarts = 0
    while not stop.is_set():
        try:
            await run(
                settings, engine, stop=stop, worker_id=worker_id, install_signals=install_signals
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            restarts += 1
            log.error(
                "worker died; restarting",
                extra={"restarts": restarts, "error": str(exc)},
                exc_info=exc,
            )
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, 30.0)
