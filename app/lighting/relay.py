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

The backend is an interface (:class:`LightingBackend`): :class:`MqttBackend`
speaks DESIGN.md's MQTT contract; a TALQ gateway (HTTP) backend implements the
same three members and feeds the same :class:`Inbound` messages.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.engine import Engine

from app import events, timeseries
from app.lighting import control
from app.db import utcnow, write_session
from app.sensors.ngsi_ld import urn as ngsi_urn
from app.models.lighting import (
    OPEN_COMMAND_STATES,
    LightCommand,
    LightEnergyMonth,
    LightHourly,
    LightReading,
    Streetlight,
)

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
    ingest_max: int = 10_000  # messages per ingestion transaction
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


# --------------------------------------------------------------------------- backend interface


@dataclass(frozen=True)
class OutgoingCommand:
    id: int
    command_id: str
    device_id: str
    level: int
    ramp_s: int
    reason: str
    issued_at: dt.datetime
    expires_at: dt.datetime

    def payload(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "issued_at": iso(self.issued_at),
            "expires_at": iso(self.expires_at),
            "kind": "setLevel",
            "level": self.level,
            "ramp_s": self.ramp_s,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Inbound:
    """A message from a device: ``kind`` is ``ack``, ``tele_light``, ``tele_sensor`` or ``status``."""

    kind: str
    device_id: str
    payload: Any
    received_at: dt.datetime


class BackendUnavailable(RuntimeError):
    """The backend cannot take a command now (broker or gateway down)."""


class LightingBackend(Protocol):
    """What the relay needs from a device backend (MQTT, a TALQ gateway over HTTP...)."""

    connected: asyncio.Event

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the link up until ``stop``; call the sink for every message from the devices."""

    async def send(self, command: OutgoingCommand) -> None:
        """Hand one command to the device; raise :class:`BackendUnavailable` when it cannot."""


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_ts(value: Any, default: dt.datetime) -> dt.datetime:
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = dt.datetime.fromisoformat(
                value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
            )
        except ValueError:
            return default
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return default


_DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class MqttBackend:
    """DESIGN.md's MQTT contract: commands on ``{p}/cmd/light/{id}``, answers and telemetry back.

    Subscriptions are shared (``$share/eclor-relay/...``) so several workers
    split the telemetry between them instead of each ingesting all of it.
    """

    def __init__(
        self,
        url: str,
        prefix: str,
        sink: Callable[[Inbound], None],
        *,
        client_id: str,
        share_group: str = "eclor-relay",
    ) -> None:
        from app.mqtt import MqttLink, Subscription

        self.prefix = prefix.rstrip("/")
        self.sink = sink
        self.invalid = 0
        base = f"$share/{share_group}/{self.prefix}" if share_group else self.prefix
        self._kinds = {"ack/light": "ack", "tele/light": "tele_light", "tele/sensor": "tele_sensor"}
        subs = [Subscription(f"{base}/{topic}/+", 1) for topic in self._kinds]
        subs.append(Subscription(f"{base}/status/+", 1))
        self.link = MqttLink(
            url, client_id=client_id, subscriptions=subs, on_message=self._on_message
        )
        self.connected = self.link.connected

    async def run(self, stop: asyncio.Event) -> None:
        await self.link.run(stop)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if not topic.startswith(self.prefix + "/"):
            return
        rest = topic[len(self.prefix) + 1 :]
        head, _, device_id = rest.rpartition("/")
        kind = self._kinds.get(head) or ("status" if head == "status" else None)
        if kind is None or not _DEVICE_ID.match(device_id):
            return
        try:
            data = json.loads(payload) if payload else None
        except (ValueError, UnicodeDecodeError):
            self.invalid += 1
            return
        self.sink(Inbound(kind, device_id, data, utcnow()))

    async def send(self, command: OutgoingCommand) -> None:
        from app.mqtt import MqttUnavailable

        remaining = (command.expires_at - utcnow()).total_seconds()
        if remaining <= 0:
            raise BackendUnavailable("expired")
        body = json.dumps(command.payload(), separators=(",", ":")).encode()
        try:
            await self.link.publish(
                f"{self.prefix}/cmd/light/{command.device_id}",
                body,
                qos=1,
                expiry_s=max(1, math.floor(remaining)),
            )
        except MqttUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc


# --------------------------------------------------------------------------- dispatch (database side)


def claim_due(
    engine: Engine, worker_id: str, now: dt.datetime, limit: int, lease_s: float
) -> list[OutgoingCommand]:
    """Take up to ``limit`` due commands (not expired) for this worker, for ``lease_s`` seconds."""
    if limit <= 0:
        return []
    with write_session(engine) as session:
        query = (
            select(
                LightCommand.id,
                LightCommand.command_id,
                LightCommand.device_id,
                LightCommand.level,
                LightCommand.ramp_s,
                LightCommand.reason,
                LightCommand.issued_at,
                LightCommand.expires_at,
            )
            .where(
                LightCommand.state.in_(OPEN_COMMAND_STATES),  # type: ignore[attr-defined]
                LightCommand.next_attempt_at <= now,
                LightCommand.expires_at > now + dt.timedelta(milliseconds=500),
            )
            .order_by(LightCommand.next_attempt_at, LightCommand.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        if not rows:
            return []
        lease_until = now + dt.timedelta(seconds=lease_s)
        table = LightCommand.__table__  # type: ignore[attr-defined]
        for part in control.chunks([row.id for row in rows]):
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
    table = LightCommand.__table__  # type: ignore[attr-defined]
    with write_session(engine) as session:
        if sent:
            attempts = (
                dict(
                    session.execute(
                        select(LightCommand.id, LightCommand.attempts).where(
                            LightCommand.id.in_([c.id for c in sent])
                        )  # type: ignore[attr-defined]
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


_ACK_RANK = {"accepted": 1, "applied": 2, "rejected": 2, "expired": 2}


def ingest(engine: Engine, items: Sequence[Inbound], now: dt.datetime | None = None) -> IngestStats:
    """Write one batch of device messages in one transaction."""
    from app.sensors import measures as sensor_logic

    now = now or utcnow()
    stats = IngestStats()
    acks = [i for i in items if i.kind == "ack"]
    lights = [i for i in items if i.kind == "tele_light"]
    sensor_items = [i for i in items if i.kind == "tele_sensor"]
    with write_session(engine) as session:
        if acks:
            _ingest_acks(session, acks, stats)
        if lights:
            _ingest_light_telemetry(session, lights, now, stats)
        if sensor_items:
            stats.sensor_readings += sensor_logic.ingest_sensor_telemetry(
                session, sensor_items, now
            )
    return stats


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
    for part in control.chunks(list(best)):
        rows.extend(
            session.execute(
                select(
                    LightCommand.id,
                    LightCommand.command_id,
                    LightCommand.light_id,
                    LightCommand.state,
                    LightCommand.level,
                    LightCommand.reason,
                ).where(LightCommand.command_id.in_(part))  # type: ignore[attr-defined]
            ).all()
        )
    table = LightCommand.__table__  # type: ignore[attr-defined]
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
    changes = [
        (
            "lights",
            e["b_id"],
            "applied",
            {
                "level": e["b_level"],
                "reason": e["b_reason"],
                "state": control.light_state(e["b_level"], "ok", False),
            },
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
        )
        for f in finished
        if f["b_state"] != "applied"
    ]
    events.publish_many(session, changes)
    if effects:
        lights = Streetlight.__table__  # type: ignore[attr-defined]
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


def _number(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if low <= value <= high else None


def light_samples(
    light: Any, ts: dt.datetime, level: float | None, power: float | None, energy_wh: float | None
) -> list[timeseries.Sample]:
    """A light reading as measures of the light, its group and its cabinet (NGSI-LD names and units)."""
    entities = [ngsi_urn("Streetlight", light.id)]
    if light.group_id:
        entities.append(ngsi_urn("StreetlightGroup", light.group_id))
    if light.cabinet_id:
        entities.append(ngsi_urn("StreetlightControlCabinet", light.cabinet_id))
    values = {
        "illuminanceLevel": None if level is None else level / 100,
        "powerConsumption": power,
        "energyConsumed": None if energy_wh is None else energy_wh / 1000,
    }
    return [
        timeseries.Sample(entity, name, ts, value)
        for entity in entities
        for name, value in values.items()
        if value is not None
    ]


def _ingest_light_telemetry(
    session: Any, items: Sequence[Inbound], now: dt.datetime, stats: IngestStats
) -> None:
    devices = sorted({i.device_id for i in items})
    known: dict[str, Any] = {}
    for part in control.chunks(devices):
        for row in session.execute(
            select(
                Streetlight.id,
                Streetlight.device_id,
                Streetlight.energy_wh,
                Streetlight.status,
                Streetlight.offline,
                Streetlight.actual_level,
                Streetlight.group_id,
                Streetlight.cabinet_id,
            ).where(Streetlight.device_id.in_(part))  # type: ignore[attr-defined]
        ).all():
            known[row.device_id] = row
    state: dict[str, dict[str, Any]] = {}
    samples: list[timeseries.Sample] = []
    raw: list[dict[str, Any]] = []
    hours: dict[tuple[str, dt.datetime], list[float]] = {}
    months: dict[tuple[str, str], float] = {}  # (local month, group) -> Wh, for the energy page
    zone = control.territory_position(session).tz
    ordered = sorted(items, key=lambda i: i.received_at)
    for item in ordered:
        light = known.get(item.device_id)
        data = item.payload
        if light is None:
            stats.unknown += 1
            continue
        if not isinstance(data, dict):
            stats.invalid += 1
            continue
        ts = parse_ts(data.get("ts"), item.received_at)
        level = _number(data.get("level"), 0, 100)
        power = _number(data.get("power_w"), 0, 100_000)
        energy = _number(data.get("energy_wh"), 0, 1e12)
        status = data.get("status") if isinstance(data.get("status"), str) else "ok"
        status = status[:20] or "ok"
        current = state.get(light.id)
        if current is None:
            current = state[light.id] = {
                "b_id": light.id,
                "device_id": light.device_id,
                "prev_status": light.status,
                "was_offline": light.offline,
                "b_energy": light.energy_wh,
                "b_level": light.actual_level,
                "prev_level": light.actual_level,
                "b_on": None,
                "b_off": None,
            }
        delta = 0.0
        if energy is not None:
            previous = current["b_energy"]
            if previous is not None:
                delta = energy - previous if energy >= previous else energy  # counter restart
            current["b_energy"] = energy
        if level is not None:
            before = current["b_level"]
            if (before is None or before == 0) and level > 0:
                current["b_on"] = ts
            if before is not None and before > 0 and level == 0:
                current["b_off"] = ts
            current["b_level"] = round(level)
        current["b_power"] = power
        current["b_status"] = status
        current["b_seen"] = item.received_at
        raw.append(
            {
                "light_id": light.id,
                "ts": ts,
                "level": None if level is None else round(level),
                "power_w": power,
                "energy_wh": energy,
                "status": status,
            }
        )
        hour = ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        cell = hours.setdefault((light.id, hour), [0, 0.0, 0.0, 0.0])
        cell[0] += 1
        cell[1] += level or 0.0
        cell[2] += power or 0.0
        cell[3] += max(0.0, delta)
        if delta > 0:
            month = (ts.astimezone(zone).strftime("%Y-%m"), light.group_id or "")
            months[month] = months.get(month, 0.0) + delta
        stats.light_readings += 1
        samples.extend(
            light_samples(light, ts, level, power, max(0.0, delta) if energy is not None else None)
        )
    if not raw:
        return
    timeseries.record(session, samples)
    conn = session.connection()
    conn.execute(LightReading.__table__.insert(), raw)  # type: ignore[attr-defined]
    control.upsert(
        session,
        LightHourly,
        ["light_id", "hour"],
        [
            {
                "light_id": light_id,
                "hour": hour,
                "samples": int(c[0]),
                "level_sum": c[1],
                "power_sum_w": c[2],
                "energy_wh": c[3],
            }
            for (light_id, hour), c in hours.items()
        ],
        add=["samples", "level_sum", "power_sum_w", "energy_wh"],
    )
    control.upsert(
        session,
        LightEnergyMonth,
        ["month", "group_id"],
        [
            {"month": month, "group_id": group_id, "energy_wh": wh}
            for (month, group_id), wh in months.items()
        ],
        add=["energy_wh"],
    )
    lights = Streetlight.__table__  # type: ignore[attr-defined]
    conn.execute(
        lights.update()
        .where(lights.c.id == bindparam("b_id"))
        .values(
            actual_level=bindparam("b_level"),
            power_w=bindparam("b_power"),
            energy_wh=bindparam("b_energy"),
            status=bindparam("b_status"),
            last_seen_at=bindparam("b_seen"),
            offline=False,
            last_switch_on_at=func.coalesce(bindparam("b_on"), lights.c.last_switch_on_at),
            last_switch_off_at=func.coalesce(bindparam("b_off"), lights.c.last_switch_off_at),
        ),
        [{k: v for k, v in s.items() if k.startswith("b_")} for s in state.values()],
    )
    events.publish_many(
        session,
        [
            (
                "lights",
                s["b_id"],
                "state",
                {
                    "level": s["b_level"],
                    "status": s["b_status"],
                    "power_w": s["b_power"],
                    "state": control.light_state(s["b_level"], s["b_status"], False),
                },
            )
            for s in state.values()
            if s["b_level"] != s["prev_level"]
            or s["b_status"] != s["prev_status"]
            or s["was_offline"]
        ],
    )
    back_online = [s["device_id"] for s in state.values() if s["was_offline"]]
    if back_online:
        control.clear_alarms(session, back_online, ["offline"], now)
    repaired = [
        s["device_id"] for s in state.values() if s["b_status"] == "ok" and s["prev_status"] != "ok"
    ]
    if repaired:
        control.clear_alarms(session, repaired, control.FAULT_STATUSES, now)
    for s in state.values():
        if s["b_status"] != "ok" and s["b_status"] != s["prev_status"]:
            control.raise_alarm(session, s["device_id"], s["b_status"], now)


# --------------------------------------------------------------------------- the service


@dataclass
class RelayStats:
    published: int = 0
    publish_failures: int = 0
    ingested: int = 0
    batches: int = 0
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

    def sink(self, item: Inbound) -> None:
        """Called by the backend for every message from a device."""
        if item.kind == "ack" and isinstance(item.payload, dict):
            self.outstanding.pop(str(item.payload.get("command_id")), None)
        if item.kind == "status":
            return  # presence is decided from data, not from retained status
        self.inbox.append(item)
        if len(self.inbox) >= self.config.ingest_max:
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
        batch, self.inbox = (
            self.inbox[: self.config.ingest_max],
            self.inbox[self.config.ingest_max :],
        )
        if not batch:
            return
        started = time.perf_counter()
        try:
            await asyncio.to_thread(ingest, self.engine, batch)
        except Exception:
            log.exception("ingesting device messages failed", extra={"messages": len(batch)})
            return
        self.stats.ingest_seconds += time.perf_counter() - started
        self.stats.ingested += len(batch)
        self.stats.batches += 1

    async def _ingest_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.inbox:
                await self._ingest_once()
            if len(self.inbox) < self.config.ingest_max:
                await self._sleep(stop, self._ingest_wake, self.config.ingest_interval_s)

    def housekeeping(self, now: dt.datetime, *, reconcile: bool, rollup: bool) -> None:
        with write_session(self.engine) as session:
            self.stats.expired += control.expire_commands(session, now)
            self.stats.offline += len(
                control.sweep_offline(session, now, self.config.offline_periods)
            )
        if reconcile:
            with write_session(self.engine) as session:
                self.stats.reconciled += control.reconcile(session, now)
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


async def relay_service(rt: Any) -> None:
    """The worker service (a service of the lighting domain in ``app.domains``): the MQTT relay for this worker."""
    settings = rt.settings
    url = settings.mqtt_url or f"mqtt://127.0.0.1:{settings.mqtt_embedded_port}"
    relay = mqtt_relay(
        rt.engine, url, settings.mqtt_prefix, worker_id=rt.worker_id, config=RelayConfig.from_env()
    )
    rt.state["lighting_relay"] = relay
    await relay.run(rt.stop)
