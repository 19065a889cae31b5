"""Light telemetry into the database: checked, then stored (one batch, one transaction).

Called by :func:`app.lighting.relay.ingest` inside the relay's batch transaction.
Every reading is checked before use (:mod:`app.lighting.messages`): a time
outside the window around its arrival, or a power or energy the lamp's rating
cannot produce, drops that reading alone and counts it ``invalid``; the rest of
the batch is stored.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, func
from sqlmodel import col

from app.db import chunks, execute_rows, insert_or_update, table_of, upsert
from app.device_alarms import clear_alarms, raise_alarm
from app import events, timeseries
from app.lighting import control
from app.lighting.messages import light_bounds, reading_time
from app.models.lighting import LightEnergyMonth, LightHourly, LightReading, Streetlight
from app.ngsi import urn as ngsi_urn
from app.territories import zones

UTC = dt.UTC


_OUT_OF_BOUNDS: Any = object()


def _number(value: Any, low: float, high: float) -> Any:
    """A number in [low, high]; None when there is no number; ``_OUT_OF_BOUNDS`` past the bounds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value) if low <= value <= high else _OUT_OF_BOUNDS


def _hours(since: dt.datetime, until: dt.datetime) -> float:
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return (until - since).total_seconds() / 3600.0


def light_entities(light: Any) -> list[str]:
    """The NGSI-LD entities a light's readings count for: the light, its group, its cabinet."""
    entities = [ngsi_urn("Streetlight", light.id)]
    if light.group_id:
        entities.append(ngsi_urn("StreetlightGroup", light.group_id))
    if light.cabinet_id:
        entities.append(ngsi_urn("StreetlightControlCabinet", light.cabinet_id))
    return entities


def light_samples(
    light: Any,
    ts: dt.datetime,
    level: float | None,
    power: float | None,
    energy_wh: float | None,
    entities: list[str] | None = None,
    zone: dt.tzinfo | None = None,
) -> list[timeseries.Sample]:
    """A light reading as measures of the light, its group and its cabinet (NGSI-LD names and units),
    counted in the days of ``zone`` (the light's territory's)."""
    if entities is None:
        entities = light_entities(light)
    values = {
        "illuminanceLevel": None if level is None else level / 100,
        "powerConsumption": power,
        "energyConsumed": None if energy_wh is None else energy_wh / 1000,
    }
    return [
        timeseries.Sample(entity, name, ts, value, zone)
        for entity in entities
        for name, value in values.items()
        if value is not None
    ]


RAW_COLUMNS = ("light_id", "ts", "level", "power_w", "energy_wh", "status")
HOURLY_COLUMNS = ("light_id", "hour", "samples", "level_sum", "power_sum_w", "energy_wh")
STATE_COLUMNS = ("b_id", "b_level", "b_power", "b_energy", "b_status", "b_seen", "b_on", "b_off")


def _hourly_upsert(session: Any) -> Any:
    """``light_hourly``: a batch's counts and sums added to the hour's row."""
    table = table_of(LightHourly)
    stmt = insert_or_update(session, table)
    return stmt.on_conflict_do_update(
        index_elements=["light_id", "hour"],
        set_={name: table.c[name] + stmt.excluded[name] for name in HOURLY_COLUMNS[2:]},
    )


def _state_update() -> Any:
    """A light's state after a batch's readings."""
    lights = table_of(Streetlight)
    return (
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
        )
    )


SEEN_COLUMNS = ("b_id", "b_power", "b_energy", "b_seen")


def _seen_update(session: Any) -> Any:
    """A light's state after a batch whose readings kept its level, status and presence."""
    lights = table_of(Streetlight)
    values: dict[str, Any] = {
        "power_w": bindparam("b_power"),
        "energy_wh": bindparam("b_energy"),
        "last_seen_at": bindparam("b_seen"),
    }
    if session.get_bind().dialect.name != "sqlite":
        # The offline sweep may have marked the light offline since the batch read it (on SQLite
        # the batch holds the write lock from its first read): it reported, so it is online.
        values["offline"] = False
    return lights.update().where(lights.c.id == bindparam("b_id")).values(**values)


def _changes_indexed(s: dict[str, Any]) -> bool:
    """Whether a batch's readings changed a light's level or status, brought it back online or
    switched it (the columns :func:`_state_update` writes beyond :func:`_seen_update`'s)."""
    return (
        s["was_offline"]
        or s["b_level"] != s["prev_level"]
        or s["b_status"] != s["prev_status"]
        or s["b_on"] is not None
        or s["b_off"] is not None
    )


def ingest_light_telemetry(
    session: Any, items: Sequence[Any], now: dt.datetime, stats: Any
) -> None:
    """Store light readings: raw, hourly, monthly energy, the lights' state, alarms and events."""
    devices = sorted({i.device_id for i in items})
    known: dict[str, Any] = {}
    for part in chunks(devices):
        for row in session.execute(
            sa.select(
                col(Streetlight.id),
                col(Streetlight.device_id),
                col(Streetlight.energy_wh),
                col(Streetlight.status),
                col(Streetlight.offline),
                col(Streetlight.actual_level),
                col(Streetlight.group_id),
                col(Streetlight.cabinet_id),
                col(Streetlight.nominal_w),
                col(Streetlight.last_seen_at),
                col(Streetlight.territory_id),
            ).where(col(Streetlight.device_id).in_(part))
        ).all():
            known[row.device_id] = row
    state: dict[str, dict[str, Any]] = {}
    samples: list[timeseries.Sample] = []
    raw: list[tuple[Any, ...]] = []
    hours: dict[tuple[str, dt.datetime], list[float]] = {}
    months: dict[tuple[str, str], float] = {}  # (local month, group) -> Wh, for the energy page
    zone_of = zones(
        session
    ).of  # each light's months and days are its territory's (a dict, no query)
    entities_of: dict[str, list[str]] = {}  # a light's NGSI-LD entities, made once per batch
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
        ts = reading_time(data.get("ts"), item.received_at)
        bounds = light_bounds(light.nominal_w)
        level = _number(data.get("level"), 0, 100)
        power = _number(data.get("power_w"), 0, bounds.max_power_w)
        energy = _number(data.get("energy_wh"), 0, bounds.max_energy_wh)
        current = state.get(light.id)
        previous = light.energy_wh if current is None else current["b_energy"]
        since = light.last_seen_at if current is None else current["b_seen"]
        delta = 0.0
        if energy is not None and previous is not None:
            delta = energy - previous if energy >= previous else energy  # counter restart
        if (
            ts is None
            or level is _OUT_OF_BOUNDS
            or power is _OUT_OF_BOUNDS
            or energy is _OUT_OF_BOUNDS
            or (
                energy is not None
                and since is not None
                and not bounds.energy_possible(delta, _hours(since, ts))
            )
        ):
            stats.invalid += 1  # this reading alone: the rest of the batch goes on
            continue
        given = data.get("status")
        status = given if isinstance(given, str) else "ok"
        status = status[:20] or "ok"
        if current is None:
            current = state[light.id] = {
                "b_id": light.id,
                "device_id": light.device_id,
                "territory_id": light.territory_id,
                "prev_status": light.status,
                "was_offline": light.offline,
                "b_energy": light.energy_wh,
                "b_level": light.actual_level,
                "prev_level": light.actual_level,
                "b_on": None,
                "b_off": None,
            }
        if energy is not None:
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
        raw.append((light.id, ts, None if level is None else round(level), power, energy, status))
        hour = ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        cell = hours.setdefault((light.id, hour), [0, 0.0, 0.0, 0.0])
        cell[0] += 1
        cell[1] += level or 0.0
        cell[2] += power or 0.0
        cell[3] += max(0.0, delta)
        if delta > 0:
            month = (
                ts.astimezone(zone_of(light.territory_id)).strftime("%Y-%m"),
                light.group_id or "",
            )
            months[month] = months.get(month, 0.0) + delta
        stats.light_readings += 1
        entities = entities_of.get(light.id)
        if entities is None:
            entities = entities_of[light.id] = light_entities(light)
        samples.extend(
            light_samples(
                light,
                ts,
                level,
                power,
                max(0.0, delta) if energy is not None else None,
                entities,
                zone_of(light.territory_id),
            )
        )
    if not raw:
        return
    timeseries.record(session, samples)
    # Thousands of rows per batch: compiled once, handed to the driver as tuples (app.db.execute_rows).
    execute_rows(session, "light_readings.insert", table_of(LightReading).insert, RAW_COLUMNS, raw)
    execute_rows(
        session,
        "light_hourly.upsert",
        lambda: _hourly_upsert(session),
        HOURLY_COLUMNS,
        sorted(
            (light_id, hour, int(c[0]), c[1], c[2], c[3]) for (light_id, hour), c in hours.items()
        ),  # same lock order in every writer
    )
    upsert(
        session,
        LightEnergyMonth,
        ["month", "group_id"],
        [
            {"month": month, "group_id": group_id, "energy_wh": wh}
            for (month, group_id), wh in months.items()
        ],
        add=["energy_wh"],
    )
    # Most readings leave a light's level, status and presence as they were: those rows are written
    # without touching the columns of ix_streetlights_commune_state, whose entries SQLite would
    # otherwise delete and insert again (a page of the index written per batch for each few lights).
    changed = [s for s in state.values() if _changes_indexed(s)]
    quiet = [s for s in state.values() if not _changes_indexed(s)]
    execute_rows(
        session,
        "streetlights.telemetry_state",
        _state_update,
        STATE_COLUMNS,
        [tuple(s[name] for name in STATE_COLUMNS) for s in changed],
    )
    execute_rows(
        session,
        "streetlights.telemetry_seen",
        lambda: _seen_update(session),
        SEEN_COLUMNS,
        [tuple(s[name] for name in SEEN_COLUMNS) for s in quiet],
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
                s["territory_id"],
            )
            for s in state.values()
            if s["b_level"] != s["prev_level"]
            or s["b_status"] != s["prev_status"]
            or s["was_offline"]
        ],
    )
    back_online = [s["device_id"] for s in state.values() if s["was_offline"]]
    if back_online:
        clear_alarms(session, back_online, ["offline"], now)
    repaired = [
        s["device_id"] for s in state.values() if s["b_status"] == "ok" and s["prev_status"] != "ok"
    ]
    if repaired:
        clear_alarms(session, repaired, control.FAULT_STATUSES, now)
    for s in state.values():
        if s["b_status"] != "ok" and s["b_status"] != s["prev_status"]:
            raise_alarm(session, s["device_id"], s["b_status"], now)
