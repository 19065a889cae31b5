"""The event outbox: live views of Eclor follow changes through the database.

Interface (domains and live views use only this):

- ``publish(session, layer, feature_id, kind, payload, territory_id=...)``: write
  one event in the caller's write transaction, as late as possible in it. The
  event carries the territory of what changed (given, else the territory bound
  to the session, else none: an install-wide event, which only the default
  territory's live views are shown). It exists if and
  only if the change commits. On PostgreSQL it takes a transaction advisory
  lock so that ids grow in commit order (a reader that saw id N never misses a
  later commit with a smaller id), and sends ``NOTIFY eclor_events`` (delivered
  at commit). On SQLite writers are serialised anyway.
- ``read_since(engine, after_id, limit)``: the events after an id, in order.
- ``EventRecord.seen_by(territory)``: whether a territory's live views are shown the event.
- ``latest_id(engine)``: the newest id (0 when there is none).
- ``hub(app_state, engine)`` and ``EventHub.follow(after_id)``: one waker per
  process (PostgreSQL ``LISTEN``, a short poll on SQLite) that feeds every
  follower of that process from memory, falling back to the database when a
  follower resumes from further back (``Last-Event-ID``).

Used by the operations centre's stream (``/staff/ops/stream``) and open-data streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.db import read_session, table_of, utcnow
from app.models.events import Event
from app.territories import Branding, bound

CHANNEL = "eclor_events"
_LOCK_KEY = 0x45434C4F  # "ECLO": one advisory lock for the outbox
SQLITE_POLL_S = 0.2
PG_FALLBACK_POLL_S = 2.0
KEEPALIVE_S = 15.0
MEMORY = 5000  # events each process keeps for its followers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventRecord:
    id: int
    at: datetime
    layer: str
    feature_id: str
    kind: str
    payload: dict[str, Any]
    territory_id: int | None = None  # None: an install-wide event

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "territory_id": self.territory_id,
            "layer": self.layer,
            "feature_id": self.feature_id,
            "kind": self.kind,
            "payload": self.payload,
        }

    def seen_by(self, territory: Branding) -> bool:
        """Whether that territory's live views are shown the event: its own, and the install-wide
        ones on the default territory only."""
        if self.territory_id is None:
            return territory.is_default
        return self.territory_id == territory.id


def hold(session: Session) -> None:
    """Take the outbox's lock now rather than at the first ``publish`` (PostgreSQL; kept to the end
    of the transaction, as ``publish`` keeps it).

    A transaction that will change many rows and publish each change takes it before its first
    change: it then never waits for the lock while holding rows (or the counts their triggers
    keep) that the lock's holder needs next, the deadlock two such transactions would otherwise
    run into.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def publish(
    session: Session,
    layer: str,
    feature_id: str,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
    territory_id: int | None = None,
) -> None:
    """Record one change in the caller's (write) transaction, as a change of ``territory_id``
    (by default the territory bound to the session, if any)."""
    publish_many(
        session, [(layer, feature_id, kind, payload or {})], at=at, territory_id=territory_id
    )


Item = tuple[str, str, str, dict[str, Any]] | tuple[str, str, str, dict[str, Any], int | None]
"""(layer, feature id, kind, payload) or (layer, feature id, kind, payload, territory id)."""


def publish_many(
    session: Session,
    items: Sequence[Item],
    *,
    at: datetime | None = None,
    territory_id: int | None = None,
) -> None:
    """Record several changes at once (a telemetry batch): one insert, one notification. An item
    of five carries its own territory; the others are ``territory_id``'s (by default the territory
    bound to the session, if any)."""
    if not items:
        return
    if territory_id is None:
        territory = bound(session)
        territory_id = territory.id if territory is not None and territory.id else None
    conn = session.connection()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    moment = at or utcnow()
    conn.execute(
        table_of(Event).insert(),
        [
            {
                "at": moment,
                "territory_id": (item[4] if len(item) > 4 else None) or territory_id,
                "layer": item[0][:40],
                "feature_id": str(item[1])[:120],
                "kind": item[2][:40],
                "payload": json.dumps(item[3], separators=(",", ":"), default=str),
            }
            for item in items
        ],
    )
    if postgres:
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


def _record(row: Any) -> EventRecord:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {}
    return EventRecord(
        row.id, row.at, row.layer, row.feature_id, row.kind, payload, row.territory_id
    )


def read_since(engine: Engine, after_id: int, limit: int = 500) -> list[EventRecord]:
    with read_session(engine) as session:
        rows = session.execute(
            sa.select(
                col(Event.id),
                col(Event.at),
                col(Event.layer),
                col(Event.feature_id),
                col(Event.kind),
                col(Event.payload),
                col(Event.territory_id),
            )
            .where(col(Event.id) > after_id)
            .order_by(col(Event.id))
            .limit(limit)
        ).all()
    return [_record(row) for row in rows]


def latest_id(engine: Engine) -> int:
    with read_session(engine) as session:
        return int(session.scalar(select(func.max(col(Event.id)))) or 0)


def prune(session: Session, before: datetime) -> int:
    """Forget events older than ``before`` (followers resume within the retention)."""
    table = table_of(Event)
    return session.exec(table.delete().where(table.c.at < before)).rowcount or 0


class EventHub:
    """Wakes this process's followers when events arrive and serves them from memory."""

    def __init__(self, engine: Engine, *, poll_s: float | None = None) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.poll_s = poll_s or (PG_FALLBACK_POLL_S if self.postgres else SQLITE_POLL_S)
        self.recent: deque[EventRecord] = deque(maxlen=MEMORY)
        self.floor = 0  # every event with an id in (floor, last_id] is in ``recent``
        self.last_id = 0
        self._tick = asyncio.Event()
        self._nudge = asyncio.Event()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._tasks:
            self._tasks.append(asyncio.create_task(self._run()))
            if self.postgres:
                self._tasks.append(asyncio.create_task(self._listen()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _run(self) -> None:
        self.last_id = self.floor = await asyncio.to_thread(latest_id, self.engine)
        self._ready.set()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudge.wait(), self.poll_s)
            self._nudge.clear()
            try:
                await self._load()
            except Exception:  # a database hiccup: try again at the next poll
                log.warning("event hub could not read the outbox", exc_info=True)

    async def _load(self) -> None:
        while True:
            batch = await asyncio.to_thread(read_since, self.engine, self.last_id, 1000)
            if not batch:
                return
            for event in batch:
                if len(self.recent) == self.recent.maxlen:
                    self.floor = self.recent[0].id
                self.recent.append(event)
            self.last_id = batch[-1].id
            tick, self._tick = self._tick, asyncio.Event()
            tick.set()
            if len(batch) < 1000:
                return

    async def _listen(self) -> None:
        import psycopg

        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        dsn = dsn.split("?", 1)[0]  # query options (search_path...) do not matter to LISTEN
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.5
                    self._nudge.set()  # catch up with anything sent while not listening
                    async for _ in conn.notifies():
                        self._nudge.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # the poll keeps followers served meanwhile
                log.warning("event hub lost its LISTEN connection", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def position(self) -> int:
        """The id a new follower starts after: everything committed from now on reaches it."""
        self.start()
        await self._ready.wait()
        return self.last_id

    async def follow(
        self, after_id: int, *, keepalive_s: float = KEEPALIVE_S, limit: int = 500
    ) -> AsyncIterator[list[EventRecord]]:
        """Batches of events after ``after_id``, forever; an empty batch is a keep-alive."""
        self.start()
        await self._ready.wait()
        cursor = after_id
        while True:
            tick = self._tick
            if cursor >= self.floor:
                batch = [e for e in self.recent if e.id > cursor][:limit]
            else:
                batch = await asyncio.to_thread(read_since, self.engine, cursor, limit)
            if batch:
                cursor = batch[-1].id
                yield batch
                continue
            try:
                await asyncio.wait_for(tick.wait(), keepalive_s)
            except TimeoutError:
                yield []


def hub(state: Any, engine: Engine) -> EventHub:
    """This app's hub (one per process and app), started on first use."""
    existing = getattr(state, "event_hub", None)
    if existing is None:
        existing = EventHub(engine)
        state.event_hub = existing
    existing.start()
    return existing


async def stop_hub(app: Any) -> None:
    """On the app's shutdown: stop its hub's tasks."""
    existing = getattr(app.state, "event_hub", None)
    if existing is not None:
        await existing.stop()
        app.state.event_hub = None
