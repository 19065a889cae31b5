"""The garbage collector waits while a write transaction holds the lock (app.db.CollectorPause).

A full collection of a large process heap takes 0.1–0.3 s; inside a write transaction it would hold
SQLite's write lock that long (tests/test_write_lock_relay.py saw 275–790 ms transactions of 50 ms
of work before the pause). On SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import gc
import time

from sqlalchemy import text

from app.db import CollectorPause, read_session, write_session
from app.models.territory import Territory


def test_the_collector_waits_while_a_writer_holds_the_lock_and_runs_after(engine):
    assert gc.isenabled()
    with write_session(engine) as session:
        assert not gc.isenabled()  # BEGIN IMMEDIATE (SQLite) / a writer's transaction
        session.execute(text("SELECT 1"))
    assert gc.isenabled()
    with read_session(engine) as session:
        session.execute(text("SELECT 1"))
        assert gc.isenabled()  # a reader holds no write lock


def test_a_deferred_transaction_pauses_the_collector_from_its_first_write(engine):
    with read_session(engine) as session:
        session.execute(text("SELECT count(*) FROM territories"))
        assert gc.isenabled()
        session.execute(text("UPDATE territories SET name = name WHERE id = -1"))
        assert not gc.isenabled()
        session.rollback()
    assert gc.isenabled()


def test_a_failed_writer_and_a_connection_given_back_unended_resume_the_collector(engine):
    try:
        with write_session(engine) as session:
            session.add(Territory(slug="x", name="x", lat=0, lon=0, timezone="Europe/Paris"))
            raise RuntimeError("the handler failed")
    except RuntimeError:
        pass
    assert gc.isenabled()
    with engine.connect() as conn:  # closed without COMMIT or ROLLBACK: the pool resets it
        conn.execute(text("UPDATE territories SET name = name WHERE id = -1"))
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_writers_never_starve_the_collector():
    pause = CollectorPause(longest_s=0.05)
    pause.enter()
    assert not gc.isenabled()
    pause.enter()  # a second writer, still within the bound: the collector keeps waiting
    assert not gc.isenabled()
    pause.leave()
    time.sleep(0.06)
    pause.enter()  # another writer arrives past the bound while one is still open
    assert gc.isenabled()
    pause.leave()
    pause.leave()
    assert gc.isenabled()
