"""Another process holding the database locks a test wants Eclor to meet.

On SQLite that is the one write lock (`BEGIN IMMEDIATE`); on PostgreSQL the
named tables, locked in the given mode, inside a transaction left open until
the block ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.db import engine_for
from tests.conftest import using_postgres


@contextmanager
def database_locked(
    settings: Any, pg_tables: str, pg_mode: str = "ACCESS EXCLUSIVE"
) -> Iterator[None]:
    engine = engine_for(settings)
    conn = engine.connect()
    if using_postgres():
        conn.exec_driver_sql("BEGIN")
        conn.exec_driver_sql(f"LOCK TABLE {pg_tables} IN {pg_mode} MODE")
    else:
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.connection.driver_connection.rollback()
        conn.close()
        engine.dispose()
