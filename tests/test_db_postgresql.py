"""How Eclor's PostgreSQL connections are set up (app.db.make_engine)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.db import is_sqlite, read_session


def test_postgresql_connections_run_statements_without_parallel_workers(engine):
    if is_sqlite(engine):
        pytest.skip("a PostgreSQL setting")
    with read_session(engine) as session:
        workers = session.connection().execute(text("SHOW max_parallel_workers_per_gather"))
        assert workers.scalar_one() == "0"
        assert session.connection().execute(text("SHOW lock_timeout")).scalar_one() != "0"
