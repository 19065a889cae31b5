"""Sensors: ingestion of ``tele/sensor`` measures, the waste-centre waiting time, live views.

Shared by the worker (ingestion, inside the relay's batch transaction), the
public pages (``/waste-centre``, ``/traffic``, the home panel) and NGSI-LD.
The waiting-time estimate and forecast are ``app.sensors.waste_centre``'s; this module
feeds them from the database and keeps one estimate per minute as history.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.db import chunks, execute_rows, table_of, upsert
from app.device_alarms import clear_alarms
from app import events, timeseries
from app.i18n import gettext as _
from app.models.sensors import (
    Sensor,
    SensorHourly,
    SensorMeasure,
    WasteCentreEstimate,
    WasteWaitWatch,
)
from app.sensors import scope, waste_centre
from app.sensors.air_quality import air_quality_index  # noqa: F401  (the live views read it here)
from app.sensors.layers import layer_of
from app.sensors.ngsi_ld import SENSOR_TYPES
from app.sensors.ngsi_ld import urn as ngsi_urn
from app.territories import zones
from app.territories import zone as territory_zone

UTC = dt.UTC
MEASURES = {
    "waste_centre": ("arrivals", "admissions", "exits", "bays"),
    "traffic": ("intensity", "occupancy", "averageVehicleSpeed", "congested"),
    "air_quality": ("no2", "pm10", "pm25", "o3", "temperature"),
    "fill_level": ("fillingLevel",),
    # a solar site: power now (W), its production counter (Wh), the modules' temperature (°C) and,
    # where the site sells its surplus, its grid-export counter (Wh)
    "solar": ("power_w", "energy_wh", "temperature", "injected_wh"),
    # a building's water meter: its index (litres) and the flow now (litres an hour)
    "water_meter": ("volume_l", "flow"),
    # a building's electricity, gas or heat meter: its index (kWh) and the power now (W)
    "energy_meter": ("energy_kwh", "power_w"),
    # a counting device: what passed in the last period, per class and direction (only counts)
    "counter": tuple(
        f"{c}_{d}" for c in ("pedestrian", "bike", "car", "truck") for d in ("in", "out")
    ),
}
COUNT_CLASSES = ("pedestrian", "bike", "car", "truck")


# What each kind of sensor can physically report (cumulative counters, vehicles an hour,
# shares, km/h, µg/m³): a reading past these is a fault or a forgery, never a measure.
BOUNDS = {
    "arrivals": (0, 1e8),
    "admissions": (0, 1e8),
    "exits": (0, 1e8),
    "bays": (0, 1000),
    "intensity": (0, 50_000),
    "occupancy": (0, 1),
    "averageVehicleSpeed": (0, 300),
    "no2": (0, 5000),
    "pm10": (0, 5000),
    "pm25": (0, 5000),
    "o3": (0, 5000),
    "fillingLevel": (0, 1),
    "power_w": (0, 1e9),
    "energy_wh": (0, 1e13),
    "injected_wh": (0, 1e13),
    "temperature": (-60, 150),
    "volume_l": (0, 1e12),
    "flow": (0, 1e7),
    "energy_kwh": (0, 1e11),
    **{f"{c}_{d}": (0, 100_000) for c in COUNT_CLASSES for d in ("in", "out")},
}
INVALID: dict[str, Any] = {}  # a reading refused as a whole (see _clean)


def _flat_counts(data: dict[str, Any]) -> dict[str, Any]:
    """A counting device's ``{"counts": {"car": {"in": 3, "out": 5}, ...}}`` as ``car_in``, ``car_out``..."""
    counts = data.get("counts")
    if not isinstance(counts, dict):
        return data
    flat = dict(data)
    for name, ways in counts.items():
        if isinstance(ways, dict):
            for way, value in ways.items():
                flat[f"{name}_{way}"] = value
    return flat


def _clean(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The measures of the kind; ``INVALID`` when one of them is out of its physical bounds.

    Anything else the device sent (a picture, a licence plate, a free text) is not kept."""
    if kind == "counter":
        data = _flat_counts(data)
    out: dict[str, Any] = {}
    for name in MEASURES.get(kind, ()):
        value = data.get(name)
        if isinstance(value, bool):
            out[name] = value
        elif isinstance(value, int | float) and math.isfinite(value):
            low, high = BOUNDS.get(name, (-1e9, 1e9))
            if not low <= value <= high:
                return INVALID
            out[name] = value
    return out


def ingest_sensor_telemetry(
    session: Session, items: Sequence[Any], now: dt.datetime, stats: Any = None
) -> int:
    """Store sensor readings (raw and hourly), update each sensor's latest values; returns rows.

    A reading whose time is outside the window around its arrival or whose measures are
    out of bounds is dropped alone and counted in ``stats.invalid``.
    """

    ids = sorted({item.device_id for item in items})
    sensors: dict[str, Any] = {}  # id -> row (what ingestion reads of the sensor, no ORM object)
    for part in chunks(ids):
        for row in session.execute(
            sa.select(
                col(Sensor.id),
                col(Sensor.kind),
                col(Sensor.lat),
                col(Sensor.lon),
                col(Sensor.meta),
                col(Sensor.offline),
                col(Sensor.territory_id),
            ).where(col(Sensor.id).in_(part))
        ).all():
            sensors[row.id] = row
    raw: list[tuple[str, dt.datetime, str]] = []
    readings: list[tuple[str, dt.datetime, dict[str, Any]]] = []  # for the events
    samples: list[timeseries.Sample] = []
    hours: dict[tuple[str, dt.datetime], list[Any]] = {}
    latest: dict[str, tuple[str, dt.datetime]] = {}  # id -> (last values, seen), the batch's last
    touched_waste: set[str] = set()
    back: list[str] = []
    zone_of = zones(session).of  # each sensor's days are its territory's (a dict, no query)
    for item in sorted(items, key=lambda i: i.received_at):
        sensor = sensors.get(item.device_id)
        data = item.payload
        if sensor is None or not isinstance(data, dict):
            continue
        values = _clean(sensor.kind, data)
        ts = timeseries.reading_time(data.get("ts"), item.received_at)
        if values is INVALID or ts is None:
            if stats is not None:
                stats.invalid += 1
            continue
        if not values:
            continue
        if sensor.kind == "solar" and "power_w" in values:
            expected = _expected_w(sensor, ts)
            if expected is not None:
                values["expected_w"] = expected
        raw.append((sensor.id, ts, json.dumps(values)))
        readings.append((sensor.id, ts, values))
        entity = ngsi_urn(SENSOR_TYPES.get(sensor.kind, "Device"), sensor.id)
        zone = zone_of(sensor.territory_id)
        samples.extend(
            timeseries.Sample(entity, name, ts, float(value), zone)
            for name, value in values.items()
        )
        hour = ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        cell = hours.setdefault((sensor.id, hour), [0, {}])
        cell[0] += 1
        for name, value in values.items():
            cell[1][name] = cell[1].get(name, 0.0) + float(value)
        if sensor.offline and sensor.id not in latest:
            back.append(sensor.id)
        latest[sensor.id] = (json.dumps({**values, "ts": ts.isoformat()}), item.received_at)
        if sensor.kind == "waste_centre":
            touched_waste.add(sensor.id)
    if not raw:
        return 0
    # Thousands of rows per batch: compiled once, handed to the driver as tuples (app.db.execute_rows).
    execute_rows(
        session, "sensor_measures.insert", table_of(SensorMeasure).insert, RAW_COLUMNS, raw
    )
    timeseries.record(session, samples)
    _merge_hours(session, hours)
    execute_rows(
        session,
        "sensors.telemetry_state",
        _state_update,
        STATE_COLUMNS,
        sorted((sensor_id, *state) for sensor_id, state in latest.items()),  # same lock order
    )
    if back:
        clear_alarms(session, back, ["offline"], now)
    derived: dict[str, dict[str, Any]] = {}  # the waste centre's queue and wait, for rules
    for sensor_id in sorted(touched_waste):
        waste = session.get(Sensor, sensor_id)
        estimate = None if waste is None else record_estimate(session, waste, now)
        if estimate is not None:
            derived[sensor_id] = {"queue": estimate.queue, "wait_min": estimate.wait_min}
    events.publish_many(
        session,
        [
            (
                layer_of(sensors[sensor_id].kind),
                sensor_id,
                "reading",
                {"ts": ts.isoformat(), "values": {**values, **derived.get(sensor_id, {})}},
                sensors[sensor_id].territory_id,
            )
            for sensor_id, ts, values in readings
        ],
    )
    return len(raw)


RAW_COLUMNS = ("sensor_id", "ts", "values_json")
STATE_COLUMNS = ("b_id", "b_values", "b_seen")


def _state_update() -> Any:
    """A sensor's latest values after a batch's readings (it reported: it is online)."""
    table = table_of(Sensor)
    return (
        table.update()
        .where(table.c.id == sa.bindparam("b_id"))
        .values(
            last_values=sa.bindparam("b_values"), last_seen_at=sa.bindparam("b_seen"), offline=False
        )
    )


def _merge_hours(session: Session, hours: dict[tuple[str, dt.datetime], list[Any]]) -> None:
    """Add a batch's hourly counts and sums to ``sensor_hourly`` (JSON column: merged in Python).

    The rows the batch touches are read in one query per 500 sensors (locked on PostgreSQL, so
    two writers never lose each other's sums), updated in one statement, and the missing ones
    inserted in one."""
    if not hours:
        return
    table = table_of(SensorHourly)
    found: dict[tuple[str, dt.datetime], tuple[int, int, str]] = {}
    moments = sorted({hour for _sensor, hour in hours})
    for part in chunks(sorted({sensor_id for sensor_id, _hour in hours})):
        for row_id, sensor_id, hour, count, sums_json in session.execute(
            sa.select(
                table.c.id, table.c.sensor_id, table.c.hour, table.c.samples, table.c.sums_json
            )
            .where(table.c.sensor_id.in_(part), table.c.hour.in_(moments))
            .order_by(table.c.sensor_id, table.c.hour)
            .with_for_update()
        ).all():
            moment = hour.replace(tzinfo=UTC) if hour.tzinfo is None else hour.astimezone(UTC)
            found[(sensor_id, moment)] = (row_id, count, sums_json)
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for (sensor_id, hour), (count, sums) in sorted(hours.items()):
        known = found.get((sensor_id, hour))
        if known is None:
            inserts.append(
                {
                    "sensor_id": sensor_id,
                    "hour": hour,
                    "samples": count,
                    "sums_json": json.dumps(sums),
                }
            )
            continue
        row_id, before, sums_json = known
        merged = json.loads(sums_json)
        for name, value in sums.items():
            merged[name] = merged.get(name, 0.0) + value
        updates.append({"b_id": row_id, "b_samples": before + count, "b_sums": json.dumps(merged)})
    if updates:
        session.connection().execute(
            table.update()
            .where(table.c.id == sa.bindparam("b_id"))
            .values(samples=sa.bindparam("b_samples"), sums_json=sa.bindparam("b_sums")),
            updates,
        )
    upsert(session, SensorHourly, ["sensor_id", "hour"], inserts)


def warm_up() -> None:
    """Load pvlib and pandas (seconds on a busy machine) before the relay's first batch."""
    from app.sensors import solar  # noqa: F401


def _expected_w(sensor: Any, ts: dt.datetime) -> float | None:
    """The clear-sky power of a solar site at ``ts`` (pvlib); None when the site is not described or
    the sun is too low to expect anything worth judging."""
    from app.sensors import solar  # pvlib and pandas load with the first solar reading only

    try:
        site = solar.Site.of_text(sensor.lat, sensor.lon, sensor.meta)
    except solar.SiteError:
        return None
    expected = solar.expected_when_sunlit(site, ts)
    return None if expected is None else round(expected, 1)


# --------------------------------------------------------------------------- waste centre


def _meta(sensor: Sensor) -> dict[str, Any]:
    try:
        meta = json.loads(sensor.meta or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def gate_readings(
    session: Session, sensor_id: str, since: dt.datetime
) -> list[waste_centre.GateReading]:
    rows = session.execute(
        select(col(SensorMeasure.ts), col(SensorMeasure.values_json))
        .where(col(SensorMeasure.sensor_id) == sensor_id, col(SensorMeasure.ts) >= since)
        .order_by(col(SensorMeasure.ts))
    ).all()
    readings = []
    for ts, values_json in rows:
        values = json.loads(values_json)
        readings.append(
            waste_centre.GateReading(
                ts=ts,
                arrivals=_int(values.get("arrivals")),
                admissions=_int(values.get("admissions")),
                exits=_int(values.get("exits")),
            )
        )
    return readings


def _int(value: Any) -> int | None:
    return (
        int(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        else None
    )


def live_estimate(
    session: Session, sensor: Sensor, now: dt.datetime
) -> waste_centre.WaitEstimate | None:
    """The waiting time now, from the gate readings of the last 12 hours.

    The counters' increase is taken from the window's first reading, when the
    site and its queue are taken as empty (before opening, or a quiet hour).
    """
    readings = gate_readings(session, sensor.id, now - dt.timedelta(hours=12))
    if not readings:
        return None
    meta = _meta(sensor)
    bays = int(meta.get("bays") or waste_centre.DEFAULT_BAYS)
    dwell = float(meta.get("dwell_min") or waste_centre.DEFAULT_DWELL_MIN)
    return waste_centre.estimate_wait(readings, now, bays=bays, dwell_min=dwell)


def record_estimate(
    session: Session, sensor: Sensor, now: dt.datetime
) -> waste_centre.WaitEstimate | None:
    """Keep the estimate (one per minute) and tell the people who asked when it drops low enough."""

    estimate = live_estimate(session, sensor, now)
    if estimate is None:
        return None
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    upsert(
        session,
        WasteCentreEstimate,
        ["sensor_id", "ts"],
        [
            {
                "sensor_id": sensor.id,
                "ts": minute,
                "wait_min": estimate.wait_min,
                "method": estimate.method,
                "queue": estimate.queue,
                "on_site": estimate.on_site,
                "saturated": estimate.saturated,
            }
        ],
        replace=["wait_min", "method", "queue", "on_site", "saturated"],
    )
    if estimate.wait_min is not None and not estimate.stale:
        notify_watchers(session, sensor, estimate.wait_min, now)
    return estimate


def notify_watchers(session: Session, sensor: Sensor, wait_min: float, now: dt.datetime) -> int:
    """Push "the wait dropped under your threshold" once to each watcher whose threshold is met."""
    from app.notify import notify

    watches = session.scalars(
        select(WasteWaitWatch).where(
            col(WasteWaitWatch.sensor_id) == sensor.id,
            col(WasteWaitWatch.notified_at).is_(None),
            col(WasteWaitWatch.until) > now,
            col(WasteWaitWatch.threshold_min) >= wait_min,
        )
    ).all()
    for watch in watches:
        watch.notified_at = now
        notify(
            session,
            [watch.user_id],
            topic="waste_centre",
            title=_("Déchèterie : l'attente est de {minutes} min").format(minutes=round(wait_min)),
            body=_("L'attente est passée sous {threshold} min à {name}.").format(
                threshold=watch.threshold_min, name=sensor.name
            ),
            url="/waste-centre",
            email=False,
            urgency="normal",
            ttl_s=1800,
            dedupe=f"waste-wait:{watch.id}",
        )
    return len(watches)


def wait_history(
    session: Session, sensor_id: str, now: dt.datetime, weeks: int = 8
) -> list[tuple[dt.datetime, float | None]]:
    since = now - dt.timedelta(weeks=weeks, days=1)
    return [
        (ts, wait)
        for ts, wait in session.execute(
            select(col(WasteCentreEstimate.ts), col(WasteCentreEstimate.wait_min)).where(
                col(WasteCentreEstimate.sensor_id) == sensor_id,
                col(WasteCentreEstimate.ts) >= since,
            )
        ).all()
    ]


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WasteCentreInfo:
    """What a visitor needs besides the wait: address, opening hours and accepted waste (sensor meta)."""

    address: str
    opening: dict[str, list[tuple[dt.time, dt.time]]]  # "mon" -> [(09:00, 12:00), (13:30, 17:00)]
    accepted: list[str]
    zone: dt.tzinfo  # the centre's territory's: its opening hours are that wall clock

    def open_at(self, at: dt.datetime) -> bool:
        local = at.astimezone(self.zone)
        now = local.time()
        return any(start <= now < end for start, end in self.opening.get(DAYS[local.weekday()], []))

    def next_opening(self, at: dt.datetime) -> dt.datetime | None:
        local = at.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + dt.timedelta(days=offset)
            for start, _end in self.opening.get(DAYS[day.weekday()], []):
                moment = dt.datetime.combine(day, start, tzinfo=self.zone)
                if moment > local:
                    return moment
        return None

    def open_hours(self, day: dt.date) -> list[int]:
        """The hours (0–23) during which the centre is open on ``day``, for the quiet-hour advice."""
        hours: set[int] = set()
        for start, end in self.opening.get(DAYS[day.weekday()], []):
            hours.update(
                h for h in range(24) if dt.time(h) < end and (h + 1 == 24 or dt.time(h + 1) > start)
            )
        return sorted(hours)


def _clock(text: str) -> dt.time:
    hours, minutes = text.strip().split(":")
    return dt.time(int(hours), int(minutes))


def waste_centre_info(session: Session, sensor: Sensor) -> WasteCentreInfo | None:
    meta = _meta(sensor)
    opening: dict[str, list[tuple[dt.time, dt.time]]] = {}
    try:
        for day, ranges in (meta.get("opening") or {}).items():
            if day in DAYS:
                opening[day] = [(_clock(r.split("-")[0]), _clock(r.split("-")[1])) for r in ranges]
    except (ValueError, IndexError, AttributeError):
        opening = {}
    address = str(meta.get("address") or "")
    accepted = [str(a) for a in meta.get("accepted") or [] if isinstance(a, str)]
    if not (address or opening or accepted):
        return None
    return WasteCentreInfo(address, opening, accepted, territory_zone(session, sensor.territory_id))


@dataclass(frozen=True)
class WastePanel:
    sensor: Sensor
    estimate: waste_centre.WaitEstimate | None
    forecast_next: list[tuple[dt.datetime, float | None]]
    quiet_hours: list[tuple[dt.datetime, float]]
    quiet_day: dt.date
    info: WasteCentreInfo | None = None
    open_now: bool | None = None
    opens_at: dt.datetime | None = None
    quiet_when: str = "today"  # the quiet hours' day: "today", "tomorrow" or "later" (name the day)


def waste_panel(
    session: Session, now: dt.datetime, sensor_id: str | None = None
) -> WastePanel | None:
    """Live wait, the next hours' forecast and the quietest hours (today, else the next open day)."""
    query = scope.mine(session, select(Sensor).where(col(Sensor.kind) == "waste_centre"))
    if sensor_id:
        query = query.where(col(Sensor.id) == sensor_id)
    sensor = session.scalars(query.order_by(col(Sensor.id))).first()
    if sensor is None:
        return None
    estimate = live_estimate(session, sensor, now)
    history = wait_history(session, sensor.id, now)
    zone = territory_zone(session, sensor.territory_id)  # the centre's hours are its territory's
    local = now.astimezone(zone)
    forecast_next = []
    for step in range(1, 5):
        at = (local + dt.timedelta(hours=step)).replace(minute=0, second=0, microsecond=0)
        forecast_next.append((at, waste_centre.forecast(history, at, tz=zone)))
    info = waste_centre_info(session, sensor)
    quiet: list[tuple[dt.datetime, float]] = []
    day = local.date()
    for offset in range(7):
        day = local.date() + dt.timedelta(days=offset)
        hours = info.open_hours(day) if info and info.opening else None
        quiet = waste_centre.best_hours(
            history, day, count=3, now=now if offset == 0 else None, hours=hours, tz=zone
        )
        if quiet:
            break
    when = (
        "today"
        if day == local.date()
        else "tomorrow"
        if day == local.date() + dt.timedelta(days=1)
        else "later"
    )
    open_now = info.open_at(now) if info and info.opening else None
    opens_at = info.next_opening(now) if info and info.opening and not open_now else None
    return WastePanel(sensor, estimate, forecast_next, quiet, day, info, open_now, opens_at, when)


def latest_by_kind(session: Session, kind: str) -> list[tuple[Sensor, dict[str, Any]]]:
    out = []
    for sensor in session.scalars(
        scope.mine(session, select(Sensor).where(col(Sensor.kind) == kind)).order_by(col(Sensor.id))
    ).all():
        try:
            values = json.loads(sensor.last_values or "{}")
        except ValueError:
            values = {}
        out.append((sensor, values))
    return out


def sensor_meta(sensor: Sensor) -> dict[str, Any]:
    return _meta(sensor)


# --------------------------------------------------------------------------- personal data


def export_watches(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    """The person's "tell me when the wait drops" requests."""
    rows = session.scalars(
        select(WasteWaitWatch)
        .where(col(WasteWaitWatch.user_id) == user_id)
        .order_by(col(WasteWaitWatch.id))
    ).all()
    return [
        {
            "sensor": w.sensor_id,
            "threshold_min": w.threshold_min,
            "created_at": w.created_at.isoformat(),
            "until": w.until.isoformat(),
            "notified_at": w.notified_at.isoformat() if w.notified_at else None,
        }
        for w in rows
    ], []


def erase_watches(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    for watch in session.scalars(
        select(WasteWaitWatch).where(col(WasteWaitWatch.user_id) == user_id)
    ).all():
        session.delete(watch)
    return []
