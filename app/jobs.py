"""The job queue (transactional outbox) shared by the web app, the CLI and the worker.

- ``enqueue()`` adds a job inside the caller's transaction: the job exists if
  and only if the change that needs it was committed.
- ``claim()`` takes due jobs for one worker. On PostgreSQL the candidates are
  locked with ``FOR UPDATE SKIP LOCKED``; on SQLite the claim runs in a
  ``BEGIN IMMEDIATE`` transaction and the update is conditional on the state
  it read, so two workers never run the same job. A job whose worker died
  (lease expired) is claimed again.
- ``complete()`` / ``fail()`` end a claimed job; they only apply while the
  worker still holds the job (fencing on ``locked_by``), so a worker whose
  lease was taken over cannot overwrite the new owner's result.
- A failing job is retried with exponential backoff and jitter until its last
  try, then ends ``failed`` with its last error.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.db import utcnow, write_session
from app.models.jobs import Job

BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 3600.0


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class JobContext:
    """What a handler gets besides its payload: the engine and its own lease."""

    def __init__(
        self, engine: Engine, worker_id: str, job: ClaimedJob, lease_s: int, settings: Any
    ):
        self.engine = engine
        self.worker_id = worker_id
        self.job = job
        self.lease_s = lease_s
        self.settings = settings

    def extend_lease(self) -> bool:
        """Keep the job for another lease period; False if another worker took it over."""
        return extend_lease(self.engine, self.job.id, self.worker_id, self.lease_s)


class RetryLater(Exception):
    """Raised by a handler to be retried at a given time without it counting as an error."""

    def __init__(self, delay_s: float, reason: str = ""):
        super().__init__(reason or f"retry in {delay_s:.0f} s")
        self.delay_s = delay_s


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None] | None]
# Job kind -> the function that runs it; filled by ``app.domains.install`` from the domains' ``jobs``.
HANDLERS: dict[str, Handler] = {}


def register(handlers: Mapping[str, Handler]) -> None:
    """Add the functions that run jobs of the given kinds."""
    HANDLERS.update(handlers)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    run_at: datetime | None = None,
    max_attempts: int = 8,
    dedupe_key: str | None = None,
) -> Job:
    """Add a job in the caller's transaction (committed with the change that needs it).

    With a ``dedupe_key``, a second job with the same key is not added (the
    existing one is returned), so a replayed request never schedules twice.
    """
    if dedupe_key is not None:
        existing = session.scalars(select(Job).where(col(Job.dedupe_key) == dedupe_key)).first()
        if existing is not None:
            return existing
    job = Job(
        kind=kind,
        payload=json.dumps(payload or {}, separators=(",", ":"), default=str),
        run_at=run_at or utcnow(),
        max_attempts=max_attempts,
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None:
        session.add(job)
        session.flush()
        return job
    # Two transactions may plan the same job at once (two fan-outs adding to one person's digest):
    # on PostgreSQL the second insert meets the first's unique key; the job is then the one that won.
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        winner = session.scalars(select(Job).where(col(Job.dedupe_key) == dedupe_key)).first()
        if winner is None:
            raise
        return winner
    return job


def _due_ids(session: Session, now: datetime, limit: int, *, lock: bool) -> list[int | None]:
    """Ids of up to ``limit`` claimable jobs, read in index order: the cost follows the batch.

    Two queries, each a range read of its own index, instead of one ``OR`` that
    sorts the whole backlog: running jobs whose lease expired (``ix_jobs_lease``:
    status, lease_until) first, then queued jobs that are due (``ix_jobs_due``:
    status, run_at, id).
    """
    expired = (
        select(col(Job.id))
        .where(col(Job.status) == "running", col(Job.lease_until) < now)
        .order_by(col(Job.lease_until))
        .limit(limit)
    )
    if lock:
        expired = expired.with_for_update(skip_locked=True)
    ids = list(session.scalars(expired).all())
    if len(ids) < limit:
        queued = (
            select(col(Job.id))
            .where(col(Job.status) == "queued", col(Job.run_at) <= now)
            .order_by(col(Job.run_at), col(Job.id))
            .limit(limit - len(ids))
        )
        if lock:
            queued = queued.with_for_update(skip_locked=True)
        ids += session.scalars(queued).all()
    return ids


def claim(
    engine: Engine, worker_id: str, *, limit: int = 20, lease_s: int = 60
) -> list[ClaimedJob]:
    """Claim up to ``limit`` due jobs (queued and due, or running with an expired lease)."""
    if limit <= 0:
        return []
    now = utcnow()
    with write_session(engine) as session:
        # PostgreSQL: the candidates are row-locked (SKIP LOCKED), so concurrent
        # workers take different jobs; SQLite: BEGIN IMMEDIATE serialises claims.
        ids = _due_ids(session, now, limit, lock=engine.dialect.name == "postgresql")
        if not ids:
            return []
        stmt = (
            update(Job)
            # The rows read are still due: locked (PostgreSQL) or read in this write transaction (SQLite).
            # No OR of the due conditions here: SQLite would answer it from both indexes, whole ranges.
            .where(col(Job.id).in_(ids))
            .values(
                status="running",
                attempts=col(Job.attempts) + 1,
                locked_by=worker_id,
                lease_until=now + timedelta(seconds=lease_s),
                updated_at=now,
            )
            .returning(
                col(Job.id),
                col(Job.kind),
                col(Job.payload),
                col(Job.attempts),
                col(Job.max_attempts),
            )
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(stmt).all()
        claimed: list[ClaimedJob] = []
        for row in rows:
            if row.attempts > row.max_attempts:
                # Its worker died during the last try: it ends here, not run again.
                _finish(session, row.id, worker_id, "failed", "lease expired on the last attempt")
                continue
            claimed.append(
                ClaimedJob(
                    row.id, row.kind, json.loads(row.payload), row.attempts, row.max_attempts
                )
            )
    claimed.sort(key=lambda j: j.id)
    return claimed


def extend_lease(engine: Engine, job_id: int, worker_id: str, lease_s: int) -> bool:
    now = utcnow()
    with write_session(engine) as session:
        result = session.exec(
            update(Job)
            .where(
                col(Job.id) == job_id, col(Job.locked_by) == worker_id, col(Job.status) == "running"
            )
            .values(lease_until=now + timedelta(seconds=lease_s), updated_at=now)
        )
        return result.rowcount == 1


def _finish(session: Session, job_id: int, worker_id: str, status: str, error: str | None) -> bool:
    now = utcnow()
    result = session.exec(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.locked_by) == worker_id, col(Job.status) == "running")
        .values(status=status, last_error=error, finished_at=now, updated_at=now, lease_until=None)
    )
    return result.rowcount == 1


def complete(engine: Engine, job: ClaimedJob, worker_id: str) -> bool:
    with write_session(engine) as session:
        return _finish(session, job.id, worker_id, "done", None)


def backoff_seconds(attempts: int, *, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter in [0.5, 1.5) of the nominal delay."""
    nominal = min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2 ** max(0, attempts - 1)))
    return nominal * (0.5 + (rng or random).random())


def fail(
    engine: Engine,
    job: ClaimedJob,
    worker_id: str,
    error: str,
    *,
    delay_s: float | None = None,
    count_attempt: bool = True,
) -> str:
    """Record a failed try: retry later with backoff, or end ``failed`` after the last try.

    Returns the job's new state (``queued`` or ``failed``), or ``lost`` when
    the worker no longer held the job.
    """
    now = utcnow()
    error = error[:4000]
    with write_session(engine) as session:
        last = count_attempt and job.attempts >= job.max_attempts
        if last:
            return "failed" if _finish(session, job.id, worker_id, "failed", error) else "lost"
        delay = delay_s if delay_s is not None else backoff_seconds(job.attempts)
        values: dict[str, Any] = {
            "status": "queued",
            "last_error": error,
            "run_at": now + timedelta(seconds=delay),
            "lease_until": None,
            "locked_by": None,
            "updated_at": now,
        }
        if not count_attempt:
            values["attempts"] = col(Job.attempts) - 1
        result = session.exec(
            update(Job)
            .where(
                col(Job.id) == job.id, col(Job.locked_by) == worker_id, col(Job.status) == "running"
            )
            .values(**values)
        )
        return "queued" if result.rowcount == 1 else "lost"


HEARTBEAT_SECONDS = 5.0
# A worker whose last beat is older than this is reported dead by /healthz.
HEARTBEAT_STALE_SECONDS = 30.0


def beat(engine: Engine, worker_id: str, *, restarts: int = 0) -> None:
    """Record that ``worker_id`` is alive now (an upsert in a short transaction of its own)."""
    from app.models.jobs import WorkerHeartbeat

    now = utcnow()
    with write_session(engine) as session:
        row = session.get(WorkerHeartbeat, worker_id)
        if row is None:
            session.add(
                WorkerHeartbeat(worker_id=worker_id, started_at=now, beat_at=now, restarts=restarts)
            )
        else:
            row.beat_at = now
            row.restarts = restarts
        # Rows of workers dead for a day are forgotten.
        session.execute(
            delete(WorkerHeartbeat).where(col(WorkerHeartbeat.beat_at) < now - timedelta(days=1))
        )


def forget(engine: Engine, worker_id: str) -> None:
    """A worker stopping cleanly removes its heartbeat."""
    from app.models.jobs import WorkerHeartbeat

    with write_session(engine) as session:
        session.execute(delete(WorkerHeartbeat).where(col(WorkerHeartbeat.worker_id) == worker_id))


def worker_health(session: Session) -> dict[str, Any]:
    """``{"status": "ok"/"stale"/"none", "workers": n alive, "last_beat_s": age of the newest beat}``."""
    from app.models.jobs import WorkerHeartbeat

    rows = session.scalars(select(WorkerHeartbeat)).all()
    if not rows:
        return {"status": "none", "workers": 0}
    now = utcnow()
    ages = [(now - row.beat_at).total_seconds() for row in rows]
    alive = sum(1 for age in ages if age <= HEARTBEAT_STALE_SECONDS)
    return {
        "status": "ok" if alive else "stale",
        "workers": alive,
        "last_beat_s": round(min(ages), 1),
        "restarts": sum(row.restarts for row in rows),
    }


def counts(session: Session) -> dict[str, int]:
    """How many jobs are in each state (for /healthz and the staff pages)."""
    from sqlalchemy import func

    rows = session.execute(select(col(Job.status), func.count()).group_by(col(Job.status))).all()
    return {status: n for status, n in rows}


__all__ = [
    "HANDLERS",
    "ClaimedJob",
    "JobContext",
    "RetryLater",
    "claim",
    "complete",
    "counts",
    "enqueue",
    "fail",
    "register",
]
