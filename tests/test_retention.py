"""Retention: what grows with every day is deleted after its period, in small batches, never what is open."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import uuid

import pytest

from sqlalchemy import func, select

from app import auth, retention
from app.lighting import control
from app.db import is_sqlite, make_engine, read_session, utcnow, write_session
from app.lighting.relay import Inbound, ingest
from app.models.accounts import WebSession
from app.models.jobs import Job
from app.models.lighting import LightAlarm, LightCommand, LightReading
from app.models.push import PushDelivery
from app.models.retention import HistoryMonth
from app.models.sensors import WasteCentreEstimate
from tests.lighting_helpers import seed_lights
from tests.write_locks import WriteLocks

NOW = utcnow()


def ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def _command(
    light: str,
    state: str,
    issued: dt.datetime,
    finished: dt.datetime | None,
    reason: str = "program",
) -> dict:
    return {
        "command_id": uuid.uuid4().hex,
        "light_id": light,
        "device_id": light,
        "level": 50,
        "ramp_s": 0,
        "reason": reason,
        "state": state,
        "issued_at": issued,
        "expires_at": issued + dt.timedelta(minutes=15),
        "attempts": 1,
        "next_attempt_at": issued,
        "finished_at": finished,
    }


def _seed_history(engine, staff_id: int) -> None:
    light = seed_lights(engine, 1)[0]
    with write_session(engine) as session:
        session.execute(
            LightCommand.__table__.insert(),
            [
                _command(light, "applied", ago(120), ago(120)),  # old and finished: goes
                _command(light, "superseded", ago(95), ago(95)),  # old and finished: goes
                _command(light, "applied", ago(80), ago(80)),  # within 90 days: stays
                _command(light, "queued", ago(200), None),  # open, however old: stays
                _command(light, "sent", ago(200), ago(150)),  # open state even with an end: stays
            ],
        )
        session.execute(
            Job.__table__.insert(),
            [
                {
                    "kind": "mail.send",
                    "payload": "{}",
                    "status": "done",
                    "attempts": 1,
                    "max_attempts": 8,
                    "run_at": ago(100),
                    "created_at": ago(100),
                    "updated_at": ago(100),
                    "finished_at": ago(100),
                },
                {
                    "kind": "mail.send",
                    "payload": "{}",
                    "status": "failed",
                    "attempts": 8,
                    "max_attempts": 8,
                    "run_at": ago(91),
                    "created_at": ago(91),
                    "updated_at": ago(91),
                    "finished_at": ago(91),
                },
                {
                    "kind": "mail.send",
                    "payload": "{}",
                    "status": "done",
                    "attempts": 1,
                    "max_attempts": 8,
                    "run_at": ago(10),
                    "created_at": ago(10),
                    "updated_at": ago(10),
                    "finished_at": ago(10),
                },
                {
                    "kind": "notify.user",
                    "payload": "{}",
                    "status": "queued",
                    "attempts": 0,
                    "max_attempts": 8,
                    "run_at": ago(300),
                    "created_at": ago(300),
                    "updated_at": ago(300),
                    "finished_at": None,
                },
                {
                    "kind": "notify.user",
                    "payload": "{}",
                    "status": "running",
                    "attempts": 1,
                    "max_attempts": 8,
                    "run_at": ago(300),
                    "created_at": ago(300),
                    "updated_at": ago(300),
                    "finished_at": ago(200),
                    "lease_until": ago(1),
                },
            ],
        )
        session.execute(
            PushDelivery.__table__.insert(),
            [
                {
                    "message_key": "alert:1",
                    "status": "sent",
                    "attempts": 1,
                    "next_at": ago(100),
                    "detail": "",
                    "created_at": ago(100),
                    "finished_at": ago(100),
                },
                {
                    "message_key": "alert:2",
                    "status": "sent",
                    "attempts": 1,
                    "next_at": ago(5),
                    "detail": "",
                    "created_at": ago(5),
                    "finished_at": ago(5),
                },
                {
                    "message_key": "alert:3",
                    "status": "retry",
                    "attempts": 2,
                    "next_at": ago(100),
                    "detail": "",
                    "created_at": ago(100),
                    "finished_at": ago(100),
                },
            ],
        )
        session.execute(
            LightAlarm.__table__.insert(),
            [
                {
                    "device_id": light,
                    "device_kind": "light",
                    "kind": "offline",
                    "severity": "major",
                    "raised_at": ago(420),
                    "cleared_at": ago(400),
                },
                {
                    "device_id": light,
                    "device_kind": "light",
                    "kind": "offline",
                    "severity": "major",
                    "raised_at": ago(310),
                    "cleared_at": ago(300),
                },
                {
                    "device_id": light,
                    "device_kind": "light",
                    "kind": "defectiveLamp",
                    "severity": "major",
                    "raised_at": ago(500),
                    "cleared_at": None,
                },
            ],
        )
        session.execute(
            WasteCentreEstimate.__table__.insert(),
            [
                {"sensor_id": "WC-1", "ts": ago(100), "method": "queue", "saturated": False},
                {"sensor_id": "WC-1", "ts": ago(10), "method": "queue", "saturated": False},
            ],
        )
        session.execute(
            WebSession.__table__.insert(),
            [
                {
                    "id": "expired" + "0" * 57,
                    "user_id": staff_id,
                    "created_at": ago(31),
                    "last_seen_at": ago(2),
                    "expires_at": ago(1),
                    "user_agent": "",
                },
                {
                    "id": "valid" + "0" * 59,
                    "user_id": staff_id,
                    "created_at": ago(1),
                    "last_seen_at": ago(0),
                    "expires_at": NOW + dt.timedelta(days=29),
                    "user_agent": "",
                },
            ],
        )


def test_retention_deletes_only_what_its_period_allows_and_never_an_open_command_or_a_pending_job(
    engine, settings
):
    with write_session(engine) as session:
        staff_id = auth.create_user(
            session, "agent@eclor.test", role="staff", display_name="Nadia"
        ).id
    _seed_history(engine, staff_id)
    settings.mail_dir.mkdir(parents=True, exist_ok=True)
    old_mail, new_mail = settings.mail_dir / "old.eml", settings.mail_dir / "new.eml"
    for path, days in ((old_mail, 31), (new_mail, 29)):
        path.write_text("Subject: test\n\nbody\n")
        os.utime(path, (ago(days).timestamp(), ago(days).timestamp()))
    settings.retention_batch = 1  # one row per transaction: the write lock is released between rows

    report = retention.run(engine, settings, NOW)

    assert report.deleted == {
        "light_commands": 2,
        "jobs": 2,
        "push_deliveries": 1,
        "light_alarms": 1,
        "waste_centre_estimates": 1,
        "web_sessions": 1,
    }
    assert report.batches >= report.total  # one row per batch
    assert report.mail_files == 1 and new_mail.exists() and not old_mail.exists()
    with read_session(engine) as session:
        assert sorted(session.scalars(select(LightCommand.state)).all()) == [
            "applied",
            "queued",
            "sent",
        ]
        assert sorted(session.scalars(select(Job.status)).all()) == ["done", "queued", "running"]
        assert sorted(session.scalars(select(PushDelivery.message_key)).all()) == [
            "alert:2",
            "alert:3",
        ]
        alarms = session.scalars(select(LightAlarm)).all()
        assert sorted((a.kind, a.cleared_at is None) for a in alarms) == [
            ("defectiveLamp", True),
            ("offline", False),
        ]
        assert session.scalar(select(func.count()).select_from(WasteCentreEstimate)) == 1
        assert [s.id[:5] for s in session.scalars(select(WebSession)).all()] == ["valid"]
        kept = {
            (h.source, h.month, h.key): h.count for h in session.scalars(select(HistoryMonth)).all()
        }
    assert kept == {
        ("light_commands", ago(120).strftime("%Y-%m"), "program:applied"): 1,
        ("light_commands", ago(95).strftime("%Y-%m"), "program:superseded"): 1,
        ("jobs", ago(100).strftime("%Y-%m"), "mail.send:done"): 1,
        ("jobs", ago(91).strftime("%Y-%m"), "mail.send:failed"): 1,
        ("push_deliveries", ago(100).strftime("%Y-%m"), "sent"): 1,
    }

    again = retention.run(engine, settings, NOW)
    assert again.total == 0  # nothing left that its period allows


def test_a_period_of_zero_keeps_rows_forever_and_a_longer_period_keeps_more(engine, settings):
    with write_session(engine) as session:
        staff_id = auth.create_user(
            session, "agent@eclor.test", role="staff", display_name="Nadia"
        ).id
    _seed_history(engine, staff_id)
    settings.retention_commands_days = 0
    settings.retention_jobs_days = 95
    settings.retention_alarms_days = 0

    report = retention.run(engine, settings, NOW)

    assert "light_commands" not in report.deleted and "light_alarms" not in report.deleted
    assert (
        report.deleted["jobs"] == 1
    )  # the job done 100 days ago; the one failed 91 days ago stays
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(LightCommand)) == 5
        assert session.scalar(select(func.count()).select_from(LightAlarm)) == 3


def test_the_roll_up_drops_old_readings_in_bounded_steps_and_keeps_their_days(engine):
    light = seed_lights(engine, 1)[0]
    old = utcnow() - dt.timedelta(days=40)
    batch = [
        Inbound(
            "tele_light",
            light,
            {
                "ts": (old + dt.timedelta(minutes=10 * i)).isoformat(),
                "level": 100,
                "power_w": 40.0,
                "energy_wh": 100.0 + 5 * i,
                "status": "ok",
            },
            old + dt.timedelta(minutes=10 * i),
        )
        for i in range(12)
    ]
    ingest(engine, batch, now=old)

    dropped, folded = control.roll_up_all(engine, utcnow(), limit=5)

    assert dropped == 12 and folded >= 2
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(LightReading)) == 0


def test_the_worker_runs_retention_beside_its_claim_loop():
    from app import domains

    assert retention.retention_service in domains.services()


def test_the_planner_statistics_are_refreshed_by_a_writer_from_its_begin(engine):
    """``PRAGMA optimize`` may write (ANALYZE): its transaction takes SQLite's lock at BEGIN, so it
    waits for another writer instead of failing at once ("database is locked": a deferred
    transaction that read first cannot take the lock after another writer committed, which a
    fresh install's demo load and first telemetry made it do at the worker's first pass)."""
    if not is_sqlite(engine):
        pytest.skip("planner statistics are PostgreSQL's autovacuum's job there")
    with WriteLocks(engine) as locks:
        retention.optimize(engine)
    assert [held.first_statement for held in locks.transactions] == ["BEGIN (writer)"]


def test_the_planner_statistics_wait_for_the_next_pass_when_the_lock_stays_taken(settings, caplog):
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    engine = make_engine(settings.resolved_database_url, lock_timeout_ms=200)
    holder = sqlite3.connect(engine.url.database, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.WARNING, logger="eclor.retention"):
            retention.optimize(engine)  # no exception: a warning, and the next pass tries again
        assert "planner statistics not refreshed" in caplog.text
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
