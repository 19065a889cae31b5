"""Job handlers used by the queue tests (given to the job queue only in test processes)."""

from __future__ import annotations

import os
import time
from typing import Any

from app import jobs
from app.jobs import JobContext


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def record(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Write "job_id worker_id" to a shared file: how many times each job really ran."""
    time.sleep(payload.get("sleep", 0))
    _append(payload["file"], f"{ctx.job.id} {ctx.worker_id}\n")


def always_fail(ctx: JobContext, payload: dict[str, Any]) -> None:
    raise RuntimeError(f"boom on attempt {ctx.job.attempts}")


def hang(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Mark that the job started, then run far longer than the test waits (the worker is killed)."""
    _append(payload["file"], f"started {ctx.job.id} {ctx.worker_id}\n")
    if payload.get("hang_for_worker") == ctx.worker_id:
        time.sleep(3600)
    _append(payload["file"], f"finished {ctx.job.id} {ctx.worker_id}\n")


jobs.register({"test.record": record, "test.fail": always_fail, "test.hang": hang})
