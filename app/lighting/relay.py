"""The lighting relay: the worker service that talks to the territory's devices.

It runs beside the job claim loop of ``eclor worker`` (a service of the lighting domain in ``app.domains``)
and does four things:

* **dispatch**: claims due commands from ``light_commands`` (several workers can
  run: a claim is a short lease written in the database), publishes each one
  through the backend and records it ``sent``; a command without an answer is
  published again with exponential backoff (same ``command_id``: devices
  deduplicate) until it is applied or its ``expires_at`` passes. A command
  is never published after its expiry (the claim skips it, and the MQTT 5
  message expiry makes the broker drop it if it was queued);
* **answers and telemetry**: acks move commands through ``accepted → applied``
  (or ``failed`` / ``expired``) and set the light's command in effect; light and
  sensor telemetry are ingested in batches (one transaction per batch);
* **health**: devices without data for N reporting periods become offline
  (an alarm), faults reported in telemetry raise alarms, expired commands are
  closed;
* **programs**: every ``reconcile_s`` seconds, targets are brought in line with
  overrides, calendars and programs (:func:`app.lighting.control.reconcile`).

Nothing lives only in memory: a worker killed at any point loses nothing, the
next one finds the commands in the database (a claimed but unsent command is
claimed again when its lease ends). While the broker is down, commands wait in
the database and go out after the reconnect.

The backend is an interface (:class:`LightingBackend`, in ``app.lighting.backend``): :class:`MqttBackend`
speaks DESIGN.md's MQTT contract; a TALQ gateway (HTTP) backend implements the
same three members and feeds the same :class:`Inbound` messages.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import os
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, case, func, or_
from sqlmodel import col, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app.db import chunks, read_session, table_of, utcnow, write_session
from app import events, telemetry_sinks
from app.lighting import control
from app.lighting.backend import (
    BackendUnavailable,
    Inbound,
    LightingBackend,
    MqttBackend,
    OutgoingCommand,
    parse_ts,
)
from app.lighting.telemetry import ingest_light_telemetry
from app.mqtt_auth import RELAY_USERNAME
from app.models.lighting import OPEN_COMMAND_STATES, LightCommand, Streetlight

log = logging.getLogger("eclor.lighting.relay")
UTC = dt.UTC


# --------------------------------------------------------------------------- configuration


@dataclass
class RelayConfig:
    """Tuning of the relay; each value can be set with ``ECLOR_LIGHTING_<NAME>`` (e.g. ``..._RETRY_INITIAL_S``)."""

    batch: int = 500  # commands claimed per round
    window: int = 500  # commands published and not answered yet, at most (brokers queue a
    # bounded number per subscriber: Mosquitto drops beyond 1,000)
    poll_s: float = 0.2  # how often due commands are looked for
    retry_initial_s: float = 5.0  # first retry of an unanswered command
    retry_max_s: float = 120.0
    lease_s: float = 30.0  # a claim not followed by "sent" is released after this
    ingest_max: int = 10_000  # messages per ingestion transaction, at most
    # How long an ingestion transaction may hold the write lock: the relay sizes its batches from the
    # time per message its last batch took (more, shorter transactions on a slow or loaded machine),
    # so pages and staff actions never wait long behind a burst of telemetry.
    ingest_hold_s: float = 0.1
    ingest_interval_s: float = 0.2
    housekeeping_s: float = 5.0  # expiry, offline sweep
    reconcile_s: float = 30.0  # programs and overrides → commands
    rollup_s: float = 3600.0  # downsampling of the history
    offline_periods: int = 3
    max_rate: float = 0.0  # commands published per second at most (0: no limit)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RelayConfig:
        env = os.environ if environ is None else environ
        config = cls()
        for f in fields(cls):
            raw = env.get(f"ECLOR_LIGHTING_{f.name.upper()}")
            if raw:
                setattr(config, f.name, type(getattr(config, f.name))(raw))
        return config


# --------------------------------------------------------------------------- dispatch (database side)


def claim_due(
    engine: Engine, worker_id: str, now: dt.datetime, limit: int, lease_s: float
) -> list[OutgoingCommand]:
    """Take up to ``limit`` due commands (not expired) for this worker, for ``lease_s`` seconds."""
    if limit <= 0:
        return []
    due = (
        col(LightCommand.state).in_(OPEN_COMMAND_STATES),
        col(LightCommand.next_attempt_at) <= now,
        col(LightCommand.expires_at) > now + dt.timedelta(milliseconds=500),
    )
    # Nothing due (most rounds): a read answers without taking SQLite's write lock, which would
    # wait behind an ingestion batch and hold the next one back every ``poll_s``.
    with read_session(engine) as session:
        if session.execute(sa.select(col(LightCommand.id)).where(*due).limit(1)).first() is None:
            return []
    with write_session(engine) as session:
        query = (
            sa.select(
                col(LightCommand.id),
                col(LightCommand.command_id),
                col(LightCommand.device_id),
                col(LightCommand.level),
                col(LightCommand.ramp_s),
                col(LightCommand.reason),
                col(LightCommand.issued_at),
                col(LightCommand.expires_at),
                col(LightCommand.override_id),
            )
            .where(*due)
            .order_by(col(LightCommand.next_attempt_at), col(LightCommand.id))
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        if not rows:
            return []
        lease_until = now + dt.timedelta(seconds=lease_s)
        table = table_of(LightCommand)
        for part in chunks([row.id for row in rows]):
            session.execute(
                table.update()
                .where(table.c.id.in_(part))
                .values(next_attempt_at=lease_until, claimed_by=worker_id[:64])
            )
        return [OutgoingCommand(*row) for row in rows]


def _state_in(column: Any, states: Sequence[str]) -> Any:
    """``column IN (...)`` spelled as ORs, which executemany accepts."""
    return or_(*(column == state for state in states))


def backoff_s(attempts: int, config: RelayConfig) -> float:
    """Delay before publishing an unanswered command again, after ``attempts`` publications."""
    delay = min(config.retry_max_s, config.retry_initial_s * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.9, 1.1)


def record_sent(
    engine: Engine,
    sent: Sequence[OutgoingCommand],
    unsent: Sequence[OutgoingCommand],
    now: dt.datetime,
    config: RelayConfig,
) -> None:
    """After publishing: ``queued → sent``, one more attempt, next retry; release what failed."""
    table = table_of(LightCommand)
    with write_session(engine) as session:
        if sent:
            attempts = (
                dict(
                    session.execute(
                        select(col(LightCommand.id), col(LightCommand.attempts)).where(
                            col(LightCommand.id).in_([c.id for c in sent])
                        )
                    ).all()
                )
                if len(sent) <= 30_000
                else {}
            )
            stmt = (
                table.update()
                .where(table.c.id == bindparam("b_id"))  # the answer may already have closed it
                .values(
                    attempts=table.c.attempts + 1,
                    state=case((table.c.state == "queued", "sent"), else_=table.c.state),
                    sent_at=func.coalesce(table.c.sent_at, bindparam("b_now")),
                    next_attempt_at=bindparam("b_next"),
                    claimed_by=None,
                )
            )
            session.connection().execute(
                stmt,
                [
                    {
                        "b_id": c.id,
                        "b_now": now,
                        "b_next": now
                        + dt.timedelta(seconds=backoff_s(attempts.get(c.id, 0) + 1, config)),
                    }
                    for c in sent
                ],
            )
        if unsent:
            session.execute(
                table.update()
                .where(
                    table.c.id.in_([c.id for c in unsent]), table.c.state.in_(OPEN_COMMAND_STATES)
                )
                .values(next_attempt_at=now, claimed_by=None)
            )


# --------------------------------------------------------------------------- ingestion (database side)


@dataclass
class IngestStats:
    acks: int = 0
    light_readings: int = 0
    sensor_readings: int = 0
    unknown: int = 0
    invalid: int = 0
    held_s: float = 0.0  # from the transaction's first statement to its commit


_ACK_RANK = {"accepted": 1, "applied": 2, "rejected": 2, "expired": 2}


def ingest(engine: Engine, items: Sequence[Inbound], now: dt.datetime | None = None) -> IngestStats:
    """Write one batch of device messages in one transaction."""
    now = now or utcnow()
    stats = IngestStats()
    acks = [i for i in items if i.kind == "ack"]
    lights = [i for i in items if i.kind == "tele_light"]
    sensor_items = [i for i in items if i.kind == "tele_sensor"]
    if sensor_items:  # what the sensors' store loads with its first message, before the write lock
        telemetry_sinks.warm_up()
    began = 0.0
    with write_session(engine) as session:
        began = time.perf_counter()  # the lock is held from here (BEGIN IMMEDIATE on SQLite)
        if acks:
            _ingest_acks(session, acks, stats)
        if lights:
            ingest_light_telemetry(session, lights, now, stats)
        if sensor_items:
            store = telemetry_sinks.sink("tele_sensor")  # the sensors domain's
            stats.sensor_readings += store(session, sensor_items, now, stats)
    stats.held_s = time.perf_counter() - began
    return stats


INGEST_FIRST = 50  # messages in the first batch, before the relay knows this machine's pace: few,
# so that even a slow, loaded machine (3 ms a message) holds the lock well under 250 ms; the
# size doubles a batch while the pace allows
INGEST_LEAST = 20


def next_batch_size(size: int, messages: int, held_s: float, config: RelayConfig) -> int:
    """The batch size that holds the write lock about ``config.ingest_hold_s``, from the last batch
    (``messages`` in ``held_s``): shrinks at once, grows at most twofold a batch."""
    if messages <= 0 or held_s <= 0:
        return size
    fitting = int(config.ingest_hold_s * messages / held_s)
    return max(INGEST_LEAST, min(config.ingest_max, fitting, size * 2))


def _ingest_acks(session: Any, acks: Sequence[Inbound], stats: IngestStats) -> None:
    best: dict[str, tuple[str, int | None, dt.datetime]] = {}
    for item in acks:
        data = item.payload
        if not isinstance(data, dict):
            stats.invalid += 1
            continue
        command_id, status = data.get("command_id"), data.get("status")
        if not isinstance(command_id, str) or len(command_id) > 40 or status not in _ACK_RANK:
            stats.invalid += 1
            continue
        level = data.get("actual_level")
        level = (
            int(level)
            if isinstance(level, int | float) and not isinstance(level, bool) and 0 <= level <= 100
            else None
        )
        ts = parse_ts(data.get("ts"), item.received_at)
        previous = best.get(command_id)
        if previous is None or _ACK_RANK[status] >= _ACK_RANK[previous[0]]:
            best[command_id] = (status, level, ts)
    if not best:
        return
    rows = []
    for part in chunks(list(best)):
        rows.extend(
            session.execute(
                sa.select(
                    col(LightCommand.id),
                    col(LightCommand.command_id),
                    col(LightCommand.light_id),
                    col(LightCommand.state),
                    col(LightCommand.level),
                    col(LightCommand.reason),
                    col(Streetlight.territory_id),
                )
                .outerjoin(Streetlight, col(Streetlight.id) == col(LightCommand.light_id))
                .where(col(LightCommand.command_id).in_(part))
            ).all()
        )
    table = table_of(LightCommand)
    accepted, finished, effects = [], [], []
    for row in rows:
        status, level, ts = best[row.command_id]
        if row.state not in OPEN_COMMAND_STATES:
            continue  # a duplicate or late answer: the command already ended
        stats.acks += 1
        if status == "accepted":
            if row.state in ("queued", "sent"):
                accepted.append({"b_id": row.id, "b_ts": ts})
            continue
        new_state = {"applied": "applied", "rejected": "failed", "expired": "expired"}[status]
        finished.append(
            {
                "b_id": row.id,
                "b_state": new_state,
                "b_ts": ts,
                "b_level": level,
                "b_error": f"device answered {status}" if status != "applied" else None,
            }
        )
        if status == "applied":
            effects.append(
                {
                    "b_id": row.light_id,
                    "b_level": row.level if level is None else level,
                    "b_reason": row.reason,
                    "b_ts": ts,
                }
            )
    conn = session.connection()
    if accepted:
        conn.execute(
            table.update()
            .where(table.c.id == bindparam("b_id"), _state_in(table.c.state, ("queued", "sent")))
            .values(state="accepted", accepted_at=bindparam("b_ts")),
            accepted,
        )
    if finished:
        conn.execute(
            table.update()
            .where(table.c.id == bindparam("b_id"), _state_in(table.c.state, OPEN_COMMAND_STATES))
            .values(
                state=bindparam("b_state"),
                finished_at=bindparam("b_ts"),
                actual_level=bindparam("b_level"),
                last_error=bindparam("b_error"),
            ),
            finished,
        )
    owner = {
        row.light_id: row.territory_id for row in rows
    }  # each event is its light's territory's
    changes: list[events.Item] = [
        (
            "lights",
            e["b_id"],
            "applied",
            {
                "level": e["b_level"],
                "reason": e["b_reason"],
                "state": control.light_state(e["b_level"], "ok", False),
            },
            owner.get(e["b_id"]),
        )
        for e in effects
    ]
    failed_lights = {row.id: row.light_id for row in rows}
    changes += [
        (
            "lights",
            failed_lights[f["b_id"]],
            "command_failed",
            {"state": f["b_state"], "error": f["b_error"]},
            owner.get(failed_lights[f["b_id"]]),
        )
        for f in finished
        if f["b_state"] != "applied"
    ]
    events.publish_many(session, changes)
    if effects:
        lights = table_of(Streetlight)
        conn.execute(
            lights.update()
            .where(lights.c.id == bindparam("b_id"))
            .values(
                effect_level=bindparam("b_level"),
                effect_reason=bindparam("b_reason"),
                effect_at=bindparam("b_ts"),
            ),
            effects,
        )


# --------------------------------------------------------------------------- the service


@dataclass
class RelayStats:
    published: int = 0
    publish_failures: int = 0
    ingested: int = 0
    batches: int = 0
    invalid: int = 0  # device messages refused (bad time, out of bounds, unreadable)
    dropped: int = 0  # device messages dropped while the database stayed away
    ingest_seconds: float = 0.0
    reconciled: int = 0
    expired: int = 0
    offline: int = 0
    started_at: float = field(default_factory=time.monotonic)


class Relay:
    """Dispatch, ingestion and health checks of the lighting and sensor fleet (one per worker)."""

    def __init__(
        self,
        engine: Engine,
        *,
        worker_id: str,
        config: RelayConfig | None = None,
        backend: LightingBackend | None = None,
    ) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.config = config or RelayConfig()
        self.backend: LightingBackend | None = backend
        self.inbox: list[Inbound] = []
        self.outstanding: dict[str, float] = {}
        self.stats = RelayStats()
        self._wake = asyncio.Event()
        self._ingest_wake = asyncio.Event()
        self.ingest_size = min(INGEST_FIRST, self.config.ingest_max)  # see next_batch_size

    def sink(self, item: Inbound) -> None:
        """Called by the backend for every message from a device."""
        if item.kind == "ack" and isinstance(item.payload, dict):
            self.outstanding.pop(str(item.payload.get("command_id")), None)
        if item.kind == "status":
            return  # presence is decided from data, not from retained status
        self.inbox.append(item)
        if len(self.inbox) >= self.ingest_size:
            self._ingest_wake.set()

    def wake(self) -> None:
        """Look for due commands now (after a staff action in the same process)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        assert self.backend is not None, "Relay needs a backend"
        tasks = [
            asyncio.create_task(self.backend.run(stop), name="relay-backend"),
            asyncio.create_task(self._dispatch_loop(stop), name="relay-dispatch"),
            asyncio.create_task(self._ingest_loop(stop), name="relay-ingest"),
            asyncio.create_task(self._housekeeping_loop(stop), name="relay-housekeeping"),
        ]
        try:
            await stop.wait()
        finally:
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.inbox:  # what arrived before the stop is written, not dropped
                await self._ingest_once()

    async def _sleep(
        self, stop: asyncio.Event, event: asyncio.Event, seconds: float, clear: bool = True
    ) -> None:
        """Wait for ``stop``, ``event`` or ``seconds``; then clear ``event`` unless told not to."""
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(event.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if clear:
            event.clear()

    async def _dispatch_loop(self, stop: asyncio.Event) -> None:
        backend = self.backend
        assert backend is not None
        config = self.config
        while not stop.is_set():
            if not backend.connected.is_set():
                await self._sleep(stop, backend.connected, 1.0, clear=False)
                continue
            horizon = time.monotonic() - config.retry_initial_s
            self.outstanding = {k: v for k, v in self.outstanding.items() if v > horizon}
            free = min(config.batch, config.window - len(self.outstanding))
            if not getattr(backend, "windowed", True):  # an answered request per round (HTTP)
                free = config.batch
            try:
                commands = (
                    await asyncio.to_thread(
                        claim_due, self.engine, self.worker_id, utcnow(), free, config.lease_s
                    )
                    if free > 0
                    else []
                )
            except Exception:
                log.exception("claiming lighting commands failed")
                commands = []
            if not commands:
                await self._sleep(stop, self._wake, config.poll_s)
                continue
            results = await asyncio.gather(
                *(backend.send(c) for c in commands), return_exceptions=True
            )
            sent = [c for c, r in zip(commands, results, strict=True) if r is None]
            unsent = [c for c, r in zip(commands, results, strict=True) if r is not None]
            for result in results:
                if isinstance(result, Exception) and not isinstance(result, BackendUnavailable):
                    log.error("publishing a lighting command failed", exc_info=result)
            stamp = time.monotonic()
            for c in sent:
                self.outstanding[c.command_id] = stamp
            self.stats.published += len(sent)
            self.stats.publish_failures += len(unsent)
            try:
                await asyncio.to_thread(record_sent, self.engine, sent, unsent, utcnow(), config)
            except Exception:  # the leases end and the commands are claimed again
                log.exception("recording published lighting commands failed")
            if config.max_rate > 0 and sent:
                await self._sleep(stop, asyncio.Event(), len(sent) / config.max_rate)

    async def _ingest_once(self) -> None:
        batch, self.inbox = self.inbox[: self.ingest_size], self.inbox[self.ingest_size :]
        if not batch:
            return
        started = time.perf_counter()
        try:
            await self._ingest_alone(batch)
        except OperationalError:
            # The database is locked or away: the batch waits for the next round (bounded).
            log.warning("ingestion postponed: database unavailable", extra={"messages": len(batch)})
            self.inbox[:0] = batch
            excess = len(self.inbox) - self.config.ingest_max * 10
            if excess > 0:
                del self.inbox[:excess]
                self.stats.dropped += excess
            return
        self.stats.ingest_seconds += time.perf_counter() - started
        self.stats.batches += 1

    async def _ingest_alone(self, batch: list[Inbound]) -> None:
        """Ingest ``batch``; when it fails for a reason of its own, halve it until the
        message at fault is alone, and drop that one only (counted ``invalid``)."""
        try:
            stats = await asyncio.to_thread(ingest, self.engine, batch)
        except OperationalError:
            raise
        except Exception:
            if len(batch) == 1:
                log.exception("a device message could not be ingested; dropped")
                self.stats.invalid += 1
                return
            middle = len(batch) // 2
            await self._ingest_alone(batch[:middle])
            await self._ingest_alone(batch[middle:])
            return
        self.stats.ingested += len(batch) - stats.invalid
        self.stats.invalid += stats.invalid
        self.ingest_size = next_batch_size(self.ingest_size, len(batch), stats.held_s, self.config)

    async def _ingest_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.inbox:
                await self._ingest_once()
            if len(self.inbox) < self.ingest_size:
                await self._sleep(stop, self._ingest_wake, self.config.ingest_interval_s)

    def housekeeping(self, now: dt.datetime, *, reconcile: bool, rollup: bool) -> None:
        with write_session(self.engine) as session:
            self.stats.expired += control.expire_commands(session, now)
            self.stats.offline += len(
                control.sweep_offline(session, now, self.config.offline_periods)
            )
        if reconcile:  # in short transactions: readings are ingested in between
            self.stats.reconciled += control.reconcile_in_batches(self.engine, now, pause_s=0.005)
        if rollup:
            control.roll_up_all(self.engine, now, pause_s=0.02)

    async def _housekeeping_loop(self, stop: asyncio.Event) -> None:
        last_reconcile = last_rollup = -math.inf
        while not stop.is_set():
            tick = time.monotonic()
            reconcile = tick - last_reconcile >= self.config.reconcile_s
            rollup = tick - last_rollup >= self.config.rollup_s
            try:
                await asyncio.to_thread(
                    self.housekeeping, utcnow(), reconcile=reconcile, rollup=rollup
                )
            except Exception:
                log.exception("lighting housekeeping failed")
            if reconcile:
                last_reconcile = tick
                self._wake.set()
            if rollup:
                last_rollup = tick
            await self._sleep(stop, asyncio.Event(), self.config.housekeeping_s)


def mqtt_relay(
    engine: Engine, url: str, prefix: str, *, worker_id: str, config: RelayConfig | None = None
) -> Relay:
    """A relay over MQTT (the default backend)."""
    relay = Relay(engine, worker_id=worker_id, config=config)
    client_id = "eclor-relay-" + re.sub(r"[^A-Za-z0-9_-]", "-", worker_id)[:40]
    relay.backend = MqttBackend(url, prefix, relay.sink, client_id=client_id)
    return relay


def talq_relay(
    engine: Engine, link: Any, *, worker_id: str, config: RelayConfig | None = None
) -> Relay:
    """A relay whose devices sit behind a TALQ gateway (``app.lighting.talq_backend``)."""
    from app.lighting.talq_backend import TalqBackend

    relay = Relay(engine, worker_id=worker_id, config=config)
    relay.backend = TalqBackend(link, engine, relay.sink)
    return relay


async def relay_service(rt: Any) -> None:
    """The worker service (a service of the lighting domain in ``app.domains``): the relay for this
    worker, over MQTT or, with ``lighting_backend = "talq"``, through a TALQ gateway."""
    settings = rt.settings
    if settings.lighting_backend == "talq":
        from app.lighting.talq_backend import talq_link

        relay = talq_relay(
            rt.engine, talq_link(settings), worker_id=rt.worker_id, config=RelayConfig.from_env()
        )
    else:
        url = settings.mqtt_client_url(RELAY_USERNAME)
        relay = mqtt_relay(
            rt.engine,
            url,
            settings.mqtt_prefix,
            worker_id=rt.worker_id,
            config=RelayConfig.from_env(),
        )
    rt.state["lighting_relay"] = relay
    await relay.run(rt.stop)
