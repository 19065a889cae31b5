"""Database engine and sessions.

SQLite (the embedded default) runs in WAL mode with a busy timeout and
foreign keys on. Transactions that write take the database lock up front
(``BEGIN IMMEDIATE``), so two writers never deadlock on a lock upgrade and no
row is lost; read-only transactions stay deferred so readers never wait.
PostgreSQL (production) uses its defaults, but for a lock timeout and no parallel workers
(``_configure_postgresql``).
"""

from __future__ import annotations

import gc
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Table, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, create_engine

LOCK_TIMEOUT_MS = 15_000
POOL_SIZE = 10
MAX_OVERFLOW = 10
POOL_TIMEOUT_S = 3.0

# How constraints and indexes are named when a model does not name them (set on
# SQLModel.metadata by app.models, used by Alembic): SQLite batch migrations can
# only drop or alter a constraint that has a name. Check constraints are always
# named by hand (``ck_<table>_<what>``).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def saved_id(row: _Row) -> int:
    """The primary key of a row read from the database or flushed, where it is never None."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id before it is flushed")
    return row.id


def insert_or_update(session: Session, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say ON CONFLICT (``excluded``, ``on_conflict_do_update``), in the
    session's dialect: PostgreSQL's or SQLite's, which share that interface."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a SQLModel table class (SQLModel declares no ``__table__`` to type checkers)."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (how Eclor stores and compares times)."""
    return datetime.now(UTC)


def make_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = POOL_SIZE,
    max_overflow: int = MAX_OVERFLOW,
    pool_timeout: float = POOL_TIMEOUT_S,
    lock_timeout_ms: int = LOCK_TIMEOUT_MS,
    pooled: bool = True,
) -> Engine:
    """An engine whose pool is bounded: a caller waits ``pool_timeout`` at most for a connection.

    A statement waits ``lock_timeout_ms`` at most for a lock (SQLite's busy
    timeout, PostgreSQL's ``lock_timeout``); past either
    bound the caller gets an error it can answer (503), never an endless wait.
    ``pooled=False`` opens a connection per use and keeps none (the health probes).
    """
    pool: dict[str, Any] = (
        {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
        if pooled
        else {"poolclass": NullPool}
    )
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": lock_timeout_ms / 1000},
            **pool,
        )
        _configure_sqlite(engine, lock_timeout_ms)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=pooled, **pool)
        _configure_postgresql(engine, lock_timeout_ms)
    _track_writes(engine)
    return engine


_WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class CollectorPause:
    """Python's cyclic garbage collector waits while a write transaction holds its locks.

    A full collection of a worker's or web process's heap takes 0.1–0.3 s; run inside a write
    transaction it holds SQLite's write lock (or PostgreSQL's row locks) that long while every other
    writer waits. The collector is paused from the moment a transaction holds the lock to its COMMIT
    or ROLLBACK and runs after it. Transactions of several threads may overlap: the collector comes
    back when the last one ends, or once it has waited ``longest_s`` whatever is open, so a stream of
    overlapping writers never starves it.
    """

    def __init__(self, longest_s: float = 1.0) -> None:
        self.longest_s = longest_s
        self._lock = threading.Lock()
        self._holders = 0
        self._paused_at: float | None = None  # when this pause disabled the collector

    def enter(self) -> None:
        with self._lock:
            self._holders += 1
            if self._paused_at is None:
                if self._holders == 1 and gc.isenabled():
                    gc.disable()
                    self._paused_at = time.monotonic()
            elif time.monotonic() - self._paused_at > self.longest_s:
                self._resume()

    def leave(self) -> None:
        with self._lock:
            self._holders = max(0, self._holders - 1)
            if self._holders == 0 and self._paused_at is not None:
                self._resume()

    def _resume(self) -> None:
        self._paused_at = None
        gc.enable()


COLLECTOR_PAUSE = CollectorPause()
_HOLDS = (
    "eclor_holds_lock"  # on the connection (its pool record): this transaction paused the collector
)


def _track_writes(engine: Engine) -> None:
    """Each connection knows whether its transaction has written yet (see :func:`wrote_nothing`),
    and the garbage collector waits while it holds the write lock (:class:`CollectorPause`)."""

    def hold(info: dict[str, Any]) -> None:
        if not info.get(_HOLDS):
            info[_HOLDS] = True
            COLLECTOR_PAUSE.enter()

    def release(info: dict[str, Any]) -> None:
        if info.pop(_HOLDS, False):
            COLLECTOR_PAUSE.leave()

    # Registered after the dialect's own "begin" listener: BEGIN IMMEDIATE has the lock here.
    @event.listens_for(engine, "begin")
    def _began(conn) -> None:
        conn.info["eclor_wrote"] = False
        if conn.get_execution_options().get("eclor_write"):
            hold(conn.info)

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn, _cursor, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:7].upper().startswith(_WRITE_STATEMENTS):
            conn.info["eclor_wrote"] = True
            if conn.in_transaction():
                hold(conn.info)

    @event.listens_for(engine, "commit")
    def _committed(conn) -> None:
        release(conn.info)

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn) -> None:
        release(conn.info)

    @event.listens_for(engine, "checkin")
    def _given_back(_dbapi_conn, record) -> None:
        release(record.info)  # ended without a COMMIT or ROLLBACK event (the pool's reset)


def wrote_nothing(session: Session) -> bool:
    """Whether the session's open transaction has written nothing and has no change to flush."""
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return False
    return session.connection().info.get("eclor_wrote") is False


def _configure_postgresql(engine: Engine, lock_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        if lock_timeout_ms:
            # A statement waiting longer than this for a lock fails (answered 503) instead of hanging.
            cur.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
        # No parallel workers: Eclor's statements are short and run side by side from its pools;
        # starting and gathering workers cost a busy carpool search (bitmap scan of its grid
        # cells, 200,000 ads) more than they saved: p99 53 ms with them, 39 ms without.
        cur.execute("SET max_parallel_workers_per_gather = 0")
        cur.close()
        dbapi_conn.commit()


def engine_for(settings: Any) -> Engine:
    """The engine for Eclor's settings (pool size, overflow, timeouts from ``ECLOR_DB_*``)."""
    return make_engine(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        lock_timeout_ms=settings.db_lock_timeout_ms,
    )


def _sqrt(value: float | None) -> float | None:
    return None if value is None else math.sqrt(value)


def _configure_sqlite(engine: Engine, lock_timeout_ms: int = LOCK_TIMEOUT_MS) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Switching to WAL waits for the write lock: only the first connection ever needs to.
        if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(lock_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        try:  # SQLite's math functions (3.35+, when compiled in): the carpool ranking needs sqrt
            cur.execute("SELECT sqrt(4.0)")
        except sqlite3.OperationalError:
            dbapi_conn.create_function("sqrt", 1, _sqrt, deterministic=True)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        if conn.get_execution_options().get("eclor_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def read_session(engine: Engine | Connection) -> Iterator[Session]:
    """A session for reading; it never takes the write lock."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(engine: Engine | Connection) -> Iterator[Session]:
    """A session whose transaction takes the write lock up front and commits on success."""
    with Session(engine, expire_on_commit=False) as session:
        begin_write(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (BEGIN IMMEDIATE on SQLite)."""
    session.connection(execution_options={"eclor_write": True})


def chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    """``items`` in slices of ``size`` (SQL parameter lists stay under the databases' limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert(
    session: Session,
    model: Any,
    keys: list[str],
    rows: list[dict[str, Any]],
    *,
    add: Sequence[str] = (),
    replace: Sequence[str] = (),
) -> None:
    """Insert rows; on a key conflict add the ``add`` columns and overwrite the ``replace`` ones."""
    if not rows:
        return
    table = table_of(model)
    stmt = insert_or_update(session, table)
    values = {name: table.c[name] + stmt.excluded[name] for name in add}
    values.update({name: stmt.excluded[name] for name in replace})
    stmt = (
        stmt.on_conflict_do_update(index_elements=keys, set_=values)
        if values
        else stmt.on_conflict_do_nothing(index_elements=keys)
    )
    for part in chunks(rows, 1000):
        session.execute(stmt, list(part))


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the statement's parameters, in its order when positional
    positional: bool
    fixed: dict[str, Any]  # parameters the statement carries itself (``values(offline=False)``)
    convert: dict[str, Callable[[Any], Any]]  # each parameter's bind processor, where it has one


_COMPILED: dict[tuple[str, str, str, str], _Compiled] = {}


def execute_rows(
    session: Session,
    key: str,
    build: Callable[[], Any],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    size: int = 1000,
) -> None:
    """Execute ``build()`` once per row of ``rows`` (values of ``columns``), as SQLAlchemy would, but
    compiled once per dialect and ``key``, each value converted by its parameter's bind processor
    once per distinct value (a batch holds a few times, levels, statuses) and the rows handed to the
    driver as they are: batches of thousands of rows skip SQLAlchemy's processing of each parameter.
    """
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    cache_key = (dialect.name, dialect.driver, dialect.paramstyle, key)
    compiled = _COMPILED.get(cache_key)
    if compiled is None:
        stmt = build()
        done = stmt.compile(dialect=dialect, column_keys=list(columns))
        names = tuple(done.positiontup or ()) if done.positional else tuple(done.binds)
        fixed, convert = {}, {}
        for name in names:
            bind = done.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                convert[name] = processor
            if name not in columns:
                if bind.callable is not None or bind.value is None:
                    raise RuntimeError(f"{key}: parameter {name!r} has no value of its own")
                value = bind.effective_value
                fixed[name] = value if processor is None else processor(value)
        missing = set(columns) - set(names)
        if missing:
            raise RuntimeError(f"{key}: parameters not in the statement: {sorted(missing)}")
        compiled = _COMPILED[cache_key] = _Compiled(
            str(done), names, bool(done.positional), fixed, convert
        )
    index = {name: i for i, name in enumerate(columns)}
    converters = [compiled.convert.get(name) for name in columns]
    seen: list[dict[Any, Any]] = [{} for _ in columns]
    values: list[list[Any]] = []
    for row in rows:
        out = list(row)
        for i, processor in enumerate(converters):
            if processor is not None:
                value = out[i]
                cache = seen[i]
                try:
                    out[i] = cache[value]
                except KeyError:
                    out[i] = cache[value] = processor(value)
                except TypeError:  # not hashable
                    out[i] = processor(value)
        values.append(out)
    params: list[Any]
    if compiled.positional:
        order = [
            (index[name], None) if name in index else (-1, compiled.fixed[name])
            for name in compiled.names
        ]
        params = [tuple(v[i] if i >= 0 else fixed for i, fixed in order) for v in values]
    else:
        params = [{**compiled.fixed, **dict(zip(columns, v, strict=True))} for v in values]
    for start in range(0, len(params), size):
        conn.exec_driver_sql(compiled.sql, params[start : start + size])
