"""The worker queue: a job is written in the same transaction as the change that needs it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import utcnow

JOB_STATES = ("queued", "running", "done", "failed")


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        # The claim reads due jobs and expired leases in index order (app.jobs.claim);
        # retention reads finished jobs by their end (app.retention).
        Index("ix_jobs_due", "status", "run_at", "id"),
        Index("ix_jobs_lease", "status", "lease_until"),
        Index("ix_jobs_finished", "finished_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="queued", max_length=16)
    attempts: int = Field(default=0)
    max_attempts: int = Field(default=8)
    run_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    locked_by: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class WorkerHeartbeat(SQLModel, table=True):
    """The last sign of life of each running worker (``/healthz`` reports it).

    A worker beats every few seconds; a worker that stops cleanly removes its
    row, so a stale row means a worker died or hangs.
    """

    __tablename__ = "worker_heartbeats"

    worker_id: str = Field(primary_key=True, max_length=64)
    started_at: datetime = Field(default_factory=utcnow)
    beat_at: datetime = Field(default_factory=utcnow)
    restarts: int = Field(default=0)  # loops the supervisor restarted after a crash
