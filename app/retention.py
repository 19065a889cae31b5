"""Retention: tables that grow with every day lose what their period no longer needs.

Each rule names a table, the indexed column that says when a row ended, what
"finished" means for it (an open command, a pending delivery or a queued or
running job is never touched) and the setting that holds its period
(``ECLOR_RETENTION_*``, documented in the README). Rows are deleted in small
batches, one short write transaction each (``DELETE ... RETURNING`` on an
index-ordered range), so SQLite's write lock is released between batches;
what a batch removed from commands, deliveries and jobs is added to
``history_months`` (counts per month, kind and state) first, in the same
transaction. Expired sessions go at every run; e-mail files under
``var/mail`` after their period.

The worker runs it (``retention_service``, a core service in ``app.domains``) every
``retention_every_minutes``, then refreshes SQLite's planner statistics
(``PRAGMA optimize``). ``run()`` is also what the tests and benchmarks call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlmodel import col, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.db import is_sqlite, table_of, upsert, utcnow, write_session
from app.models.accounts import WebSession
from app.models.events import Event
from app.models.jobs import Job
from app.models.measures import MeasureHourly
from app.models.lighting import OPEN_COMMAND_STATES, LightAlarm, LightCommand, LightDaily
from app.models.push import PushDelivery
from app.models.retention import HistoryMonth
from app.models.sensors import SensorHourly, WasteCentreEstimate
from app.settings import Settings

log = logging.getLogger("eclor.retention")

OPEN_DELIVERY_STATES = ("pending", "retry", "sending", "held")
OPEN_JOB_STATES = ("queued", "running")
EVENTS_DAYS = 7.0
MEASURE_HOURS_DAYS = 90.0


@dataclass(frozen=True)
class Rule:
    """What one table keeps: rows whose ``ended`` is older than the period are deleted."""

    name: str
    table: Table
    ended: Any  # the indexed column that says when the row ended
    days: Callable[[Settings], float]
    finished: Callable[[], ColumnElement[bool]] | None = None  # only such rows are ever deleted
    fold: tuple[Any, ...] = ()  # columns that make the monthly key kept in history_months


RULES: tuple[Rule, ...] = (
    Rule(
        "light_commands",
        table_of(LightCommand),
        col(LightCommand.finished_at),
        lambda s: s.retention_commands_days,
        lambda: col(LightCommand.state).not_in(OPEN_COMMAND_STATES),
        (col(LightCommand.reason), col(LightCommand.state)),
    ),
    Rule(
        "push_deliveries",
        table_of(PushDelivery),
        col(PushDelivery.finished_at),
        lambda s: s.retention_deliveries_days,
        lambda: col(PushDelivery.status).not_in(OPEN_DELIVERY_STATES),
        (col(PushDelivery.status),),
    ),
    Rule(
        "jobs",
        table_of(Job),
        col(Job.finished_at),
        lambda s: s.retention_jobs_days,
        lambda: col(Job.status).not_in(OPEN_JOB_STATES),
        (col(Job.kind), col(Job.status)),
    ),
    Rule(
        "light_alarms",
        table_of(LightAlarm),
        col(LightAlarm.cleared_at),
        lambda s: s.retention_alarms_days,
    ),
    Rule(
        "waste_centre_estimates",
        table_of(WasteCentreEstimate),
        col(WasteCentreEstimate.ts),
        lambda s: s.retention_estimates_days,
    ),
    Rule(
        "light_daily", table_of(LightDaily), col(LightDaily.day), lambda s: s.retention_daily_days
    ),
    Rule(
        "sensor_hourly",
        table_of(SensorHourly),
        col(SensorHourly.hour),
        lambda s: s.retention_daily_days,
    ),
    # Live views resume within a week (Last-Event-ID); hours of measures are kept 90 days, their days stay.
    Rule("events", table_of(Event), col(Event.at), lambda s: EVENTS_DAYS),
    Rule(
        "measure_hourly",
        table_of(MeasureHourly),
        col(MeasureHourly.hour),
        lambda s: MEASURE_HOURS_DAYS,
    ),
    # Expired sessions go a minute after their expiry, whatever the settings.
    Rule("web_sessions", table_of(WebSession), col(WebSession.expires_at), lambda s: 1 / 1440),
)


@dataclass
class Report:
    deleted: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    mail_files: int = 0
    longest_batch_s: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _cut(rule: Rule, days: float, now: datetime) -> Any:
    cut = now - timedelta(days=days)
    if rule.name == "light_daily":
        return cut.date()
    return cut


def purge(
    engine: Engine,
    rule: Rule,
    now: datetime,
    days: float,
    *,
    batch: int,
    report: Report,
    pause_s: float = 0.0,
    max_batches: int | None = None,
) -> int:
    """Delete ``rule``'s rows that ended more than ``days`` ago, ``batch`` rows per transaction."""
    if days <= 0:
        return 0
    table = rule.table
    ended = table.c[rule.ended.key]
    conditions = [ended < _cut(rule, days, now)]
    if rule.finished is not None:
        conditions.append(rule.finished())
    fold = [table.c[c.key] for c in rule.fold]
    deleted = done = 0
    while max_batches is None or done < max_batches:
        oldest = select(table.c.id).where(*conditions).order_by(ended).limit(batch)
        stmt = table.delete().where(table.c.id.in_(oldest.scalar_subquery()))
        started = time.perf_counter()
        with write_session(engine) as session:
            if fold:
                rows = session.execute(stmt.returning(ended, *fold)).all()
                _fold(session, rule.name, rows)
                count = len(rows)
            else:
                count = int(session.exec(stmt).rowcount or 0)
        report.longest_batch_s = max(report.longest_batch_s, time.perf_counter() - started)
        report.batches += 1
        done += 1
        deleted += count
        if count < batch:
            break
        if pause_s:
            time.sleep(pause_s)  # let other writers take the lock
    if deleted:
        report.deleted[rule.name] = report.deleted.get(rule.name, 0) + deleted
    return deleted


def _fold(session: Any, source: str, rows: Sequence[Any]) -> None:
    """Add the deleted rows' counts per (month, key) to ``history_months``."""
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        month = row[0].strftime("%Y-%m")
        key = ":".join(str(v) for v in row[1:])[:80]
        counts[(month, key)] = counts.get((month, key), 0) + 1
    if not counts:
        return

    upsert(
        session,
        HistoryMonth,
        ["source", "month", "key"],
        [
            {"source": source, "month": month, "key": key, "count": n}
            for (month, key), n in counts.items()
        ],
        add=["count"],
    )


def purge_mail(mail_dir: Path, now: datetime, days: float) -> int:
    """Delete e-mail files written more than ``days`` ago (the outbox without SMTP)."""
    if days <= 0 or not mail_dir.is_dir():
        return 0
    cut = (now - timedelta(days=days)).timestamp()
    removed = 0
    for path in mail_dir.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cut:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another worker took it first
            continue
    return removed


def optimize(engine: Engine) -> None:
    """Refresh SQLite's planner statistics where they drifted (cheap; PostgreSQL's autovacuum does it there)."""
    if not is_sqlite(engine):
        return
    try:
        with engine.connect() as conn:
            # A writer from its BEGIN (IMMEDIATE): ANALYZE writes the statistics, and a deferred
            # transaction that read first could not take the lock once another writer had
            # committed (SQLite answers "database is locked" at once, without waiting).
            conn.execution_options(eclor_write=True)
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("PRAGMA optimize")
            conn.commit()
    except OperationalError as exc:  # the lock stayed taken past the timeout: next pass
        log.warning("planner statistics not refreshed", extra={"error": str(exc.orig)})


def run(
    engine: Engine,
    settings: Settings,
    now: datetime | None = None,
    *,
    pause_s: float = 0.0,
    max_batches: int | None = None,
) -> Report:
    """One retention pass over every rule, then the mail files and the planner statistics."""
    now = now or utcnow()
    report = Report()
    for rule in RULES:
        purge(
            engine,
            rule,
            now,
            float(rule.days(settings)),
            batch=max(1, settings.retention_batch),
            report=report,
            pause_s=pause_s,
            max_batches=max_batches,
        )
    report.mail_files = purge_mail(settings.mail_dir, now, settings.retention_mail_days)
    optimize(engine)
    return report


async def retention_service(rt: Any) -> None:
    """The worker service: a retention pass every ``retention_every_minutes``, in small batches."""
    settings = rt.settings
    while not rt.stop.is_set():
        try:
            report = await asyncio.to_thread(
                run, rt.engine, settings, pause_s=0.05, max_batches=200
            )
            if report.total or report.mail_files:
                log.info(
                    "retention",
                    extra={
                        "deleted": report.deleted,
                        "mail_files": report.mail_files,
                        "longest_batch_s": round(report.longest_batch_s, 3),
                    },
                )
        except Exception:  # a failed pass is retried at the next one, never fatal to the worker
            log.exception("retention failed")
        try:
            await asyncio.wait_for(
                rt.stop.wait(), timeout=max(1.0, settings.retention_every_minutes * 60)
            )
        except TimeoutError:
            pass
