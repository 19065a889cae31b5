"""The worker: claims due jobs from the database and runs their handlers.

Several workers (on one or more machines) can run against one database; a
job is never run by two of them at once. SIGTERM and SIGINT stop the worker
cleanly: it claims nothing more, lets the jobs in hand finish, and exits.
Long-running services of the worker (the MQTT relay) run beside the claim
loop and are stopped with it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
import traceback
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from app import domains, jobs
from app.settings import Settings

log = logging.getLogger("eclor.worker")



@dataclass
class WorkerRuntime:
    settings: Settings
    engine: Engine
    worker_id: str
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    state: dict[str, Any] = field(default_factory=dict)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def load_handlers() -> None:
    """Give the job queue the domains' job handlers (``app.domains``)."""
    domains.install()


async def _run_job(rt: WorkerRuntime, job: jobs.ClaimedJob) -> None:
    handler = jobs.HANDLERS.get(job.kind)
    lease_s = rt.settings.worker_lease_seconds
    if handler is None:
        await asyncio.to_thread(jobs.fail, rt.engine, job, rt.worker_id, f"no handler for job kind {job.kind!r}")
        log.error("job without handler", extra={"job_id": job.id, "kind": job.kind})
        return
    ctx = jobs.JobContext(rt.engine, rt.worker_id, job, lease_s, rt.settings)

    async def keep_lease() -> None:
        while True:
            await asyncio.sleep(max(1.0, lease_s / 3))
            await asyncio.to_thread(ctx.extend_lease)

    keeper = asyncio.create_task(keep_lease())
    try:
        if inspect.iscoroutinefunction(handler):
            await handler(ctx, job.payload)
        else:
            await asyncio.to_thread(handler, ctx, job.payload)
    except jobs.RetryLater as exc:
        state = await asyncio.to_thread(
            jobs.fail, rt.engine, job, rt.worker_id, str(exc), delay_s=exc.delay_s, count_attempt=False
        )
        log.info("job deferred", extra={"job_id": job.id, "kind": job.kind, "state": state})
    except Exception as exc:  # a handler's failure is recorded on its job, never fatal
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
        state = await asyncio.to_thread(jobs.fail, rt.engine, job, rt.worker_id, error)
        log.warning("job failed", extra={"job_id": job.id, "kind": job.kind, "state": state, "error": str(exc)})
    else:
        await asyncio.to_thread(jobs.complete, rt.engine, job, rt.worker_id)
        log.info("job done", extra={"job_id": job.id, "kind": job.kind})
    finally:
        keeper.cancel()


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
    service_tasks = [asyncio.create_task(svc(rt)) for svc in domains.services()] if services and not once else []
    running: set[asyncio.Task[None]] = set()
    ran = 0
    log.info("worker started", extra={"worker_id": rt.worker_id, "once": once})
    try:
        while not rt.stop.is_set():
            free = settings.worker_batch - len(running)
            claimed = await asyncio.to_thread(
                jobs.claim, engine, rt.worker_id, limit=max(free, 0), lease_s=settings.worker_lease_seconds
            ) if free > 0 else []
            for job in claimed:
                task = asyncio.create_task(_run_job(rt, job))
                running.add(task)
                task.add_done_callback(running.discard)
                ran += 1
            if claimed:
                continue
            if running and not once:
                # Wait for a slot or for a job to finish before claiming again.
                await asyncio.wait(running, timeout=settings.worker_poll_seconds,
                                   return_when=asyncio.FIRST_COMPLETED)
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
    finally:
        if running:
            await asyncio.wait(running)
        rt.stop.set()
        for task in service_tasks:
            task.cancel()
        await asyncio.gather(*service_tasks, return_exceptions=True)
        log.info("worker stopped", extra={"worker_id": rt.worker_id, "jobs_run": ran})
    return ran
