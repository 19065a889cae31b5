"""How long each write transaction holds the database's write lock, recorded from engine events.

A transaction opened as a writer (``begin_write``: ``BEGIN IMMEDIATE`` on SQLite) holds the lock
from its BEGIN; any other transaction from its first writing statement (a deferred SQLite
transaction takes the lock there). Either way the time ends at COMMIT or ROLLBACK. This is the
held time of the transaction itself, not of the request around it: what another writer waits for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "TRUNCATE")
_BEGAN = "eclor_write_began"
_FIRST = "eclor_write_first"


@dataclass(frozen=True)
class Held:
    seconds: float
    first_statement: (
        str  # the first writing statement, or BEGIN for a transaction opened as a writer
    )


class WriteLocks:
    """How long each write transaction held the lock (seconds); ``held`` is cleared by the caller."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.transactions: list[Held] = []

    @property
    def held(self) -> list[float]:
        return [t.seconds for t in self.transactions]

    def clear(self) -> None:
        self.transactions.clear()

    def longest(self) -> Held | None:
        return max(self.transactions, key=lambda t: t.seconds, default=None)

    def _begin(self, conn: Any) -> None:
        # Runs after app.db's own "begin" listener has issued BEGIN IMMEDIATE (lock obtained).
        if conn.get_execution_options().get("eclor_write"):
            conn.info[_BEGAN] = time.perf_counter()
            conn.info[_FIRST] = "BEGIN (writer)"

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _BEGAN in conn.info or not conn.in_transaction():
            return
        if statement.lstrip().upper().startswith(_WRITES):
            conn.info[_BEGAN] = time.perf_counter()
            conn.info[_FIRST] = " ".join(statement.split())[:160]

    def _end(self, conn: Any) -> None:
        began = conn.info.pop(_BEGAN, None)
        first = conn.info.pop(_FIRST, "")
        if began is not None:
            self.transactions.append(Held(time.perf_counter() - began, first))

    def _checkin(self, _dbapi_conn: Any, record: Any) -> None:
        # A connection given back without COMMIT or ROLLBACK event (the pool's reset) starts clean.
        record.info.pop(_BEGAN, None)
        record.info.pop(_FIRST, None)

    def __enter__(self) -> WriteLocks:
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._end)
        event.listen(self.engine, "rollback", self._end)
        # Listened on the engine, which keeps it on the new pool of a dispose() (the app's shutdown).
        event.listen(self.engine, "checkin", self._checkin)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._end)
        event.remove(self.engine, "rollback", self._end)
        event.remove(self.engine, "checkin", self._checkin)
