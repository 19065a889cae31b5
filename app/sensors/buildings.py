"""Public buildings' meters: CSV import of readings, consumption per m² and per degree-day.

A meter is a sensor of kind ``water_meter`` (index ``volume_l`` in litres, ``flow`` in l/h) or
``energy_meter`` (index ``energy_kwh``, ``power_w``); its ``meta`` names its ``building``, the
building's heated floor area ``area_m2`` and, for an energy meter, its ``medium`` (electricity,
gas, heat). Readings arrive over MQTT like every sensor's, or from a CSV file (``eclor meters
import FILE``, the staff page): both go through the same ingestion (``measures.ingest_sensor_telemetry``),
so history, rules and open data see them alike.

Degree-days (heating, base 18 °C, the method of the French energy observatories) come from the
daily mean of a temperature series of the time-series store: the ``temperature`` of the sensor the
meter's ``meta.temperature_sensor`` names, else of any sensor of the same commune reporting one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app import timeseries
from app.i18n import gettext as _
from app.models.measures import MeasureDaily
from app.sensors import scope
from app.models.sensors import Sensor
from app.sensors.ngsi_ld import SENSOR_TYPES, urn
from app.territories import zone as territory_zone

METER_KINDS = ("water_meter", "energy_meter")
INDEX = {"water_meter": "volume_l", "energy_meter": "energy_kwh"}
UNITS = {"water_meter": "L", "energy_meter": "kWh"}
N_ = str
MEDIA = {
    "electricity": N_("Électricité"),
    "gas": N_("Gaz"),
    "heat": N_("Chaleur"),
    "water": N_("Eau"),
}
HEATING_BASE_C = 18.0
MAX_ROWS = 200_000


MAX_ERRORS = 20


class MeterImportError(ValueError):
    """A CSV that cannot be imported as a whole: its French messages, one a bad line."""

    def __init__(self, messages: str | list[str], more: int = 0) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.more = more  # bad lines past the ones listed
        super().__init__(" ".join(self.messages))


@dataclass(frozen=True)
class Reading:
    """A reading as the ingestion reads it (the relay's messages have the same four fields)."""

    kind: str
    device_id: str
    payload: dict[str, Any]
    received_at: dt.datetime


def _rows(text: str) -> list[list[str]]:
    """The file's rows, separated by commas or, as a spreadsheet saves them in French, semicolons."""
    first = text.lstrip().split("\n", 1)[0]
    return list(csv.reader(io.StringIO(text), delimiter=";" if ";" in first else ","))


def _number(cell: str) -> float:
    """A number as typed (spaces between thousands, a decimal comma); NaN when it is not one."""
    try:
        return float(cell.strip().replace("\u202f", "").replace(" ", "").replace(",", "."))
    except ValueError:
        return math.nan


def _moment(cell: str, zone: ZoneInfo) -> dt.datetime | None:
    """ISO 8601 (naive: UTC), or ``31/01/2026 08:00`` as a spreadsheet writes it (local time: of
    ``zone``, the territory's)."""
    text = cell.strip()
    for pattern in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=zone).astimezone(dt.UTC)
        except ValueError:
            continue
    try:
        return timeseries.parse_time(text)
    except ValueError:
        return None


def parse_csv(session: Session, text: str, now: dt.datetime) -> list[Reading]:
    """Rows ``meter,ts,index[,flow_or_power]`` as readings; every line checked before any is kept.

    ``ts`` is ISO 8601 (naive: UTC) or ``31/01/2026 08:00`` (the territory's time); ``index`` the meter's counter (litres or kWh), which may not go
    back between two readings of the file. Commas or semicolons separate the cells, and numbers may
    have a decimal comma. MeterImportError lists the bad lines (the first ``MAX_ERRORS``).
    """
    from app.sensors.measures import BOUNDS

    rows = _rows(text)
    header = bool(rows and rows[0] and rows[0][0].strip().lower() in ("meter", "compteur"))
    if header:
        rows = rows[1:]
    if not any(any(cell.strip() for cell in row) for row in rows):
        raise MeterImportError(_("Le fichier ne contient aucun relevé."))
    if len(rows) > MAX_ROWS:
        raise MeterImportError(_("Au plus 200 000 relevés par fichier."))
    ids = sorted({row[0].strip() for row in rows if row})
    kinds = dict(
        session.execute(
            scope.mine(
                session,
                select(col(Sensor.id), col(Sensor.kind)).where(
                    col(Sensor.id).in_(ids), col(Sensor.kind).in_(METER_KINDS)
                ),
            )
        ).all()
    )
    zone = territory_zone(session)  # the territory whose meters they are (scope.mine)
    errors: list[tuple[int, str]] = []
    out: list[Reading] = []
    seen: dict[tuple[str, dt.datetime], int] = {}
    for number, row in enumerate(rows, start=2 if header else 1):
        if not row or not any(cell.strip() for cell in row):
            continue
        message = None
        if len(row) < 3:
            message = _("Ligne %(n)d : il faut le compteur, la date et l'index.") % {"n": number}
        elif kinds.get(row[0].strip()) is None:
            message = _("Ligne %(n)d : compteur inconnu « %(m)s ».") % {
                "n": number,
                "m": row[0].strip()[:64],
            }
        if message is None:
            meter, kind = row[0].strip(), kinds[row[0].strip()]
            second_name = "flow" if kind == "water_meter" else "power_w"
            ts = _moment(row[1], zone)
            value = _number(row[2])
            second = _number(row[3]) if len(row) > 3 and row[3].strip() else None
            if ts is None:
                message = _(
                    "Ligne %(n)d : date illisible « %(d)s » (attendu : 2026-01-31T08:00:00Z ou 31/01/2026 08:00)."
                ) % {
                    "n": number,
                    "d": row[1].strip()[:40],
                }
            elif not (
                dt.datetime(2000, 1, 1, tzinfo=dt.UTC) <= ts <= now + dt.timedelta(minutes=5)
            ):
                message = _("Ligne %(n)d : la date doit être passée (après 2000).") % {"n": number}
            elif not math.isfinite(value) or not (
                BOUNDS[INDEX[kind]][0] <= value <= BOUNDS[INDEX[kind]][1]
            ):
                message = _("Ligne %(n)d : l'index « %(v)s » n'est pas un nombre positif.") % {
                    "n": number,
                    "v": row[2].strip()[:40],
                }
            elif second is not None and not (
                math.isfinite(second) and BOUNDS[second_name][0] <= second <= BOUNDS[second_name][1]
            ):
                message = _(
                    "Ligne %(n)d : le débit ou la puissance « %(v)s » n'est pas un nombre positif plausible."
                ) % {
                    "n": number,
                    "v": row[3].strip()[:40],
                }
            elif (meter, ts) in seen:
                message = _(
                    "Ligne %(n)d : relevé en double du compteur %(m)s (déjà ligne %(k)d)."
                ) % {
                    "n": number,
                    "m": meter,
                    "k": seen[(meter, ts)],
                }
            else:
                seen[(meter, ts)] = number
                payload: dict[str, Any] = {"ts": ts.isoformat(), "kind": kind, INDEX[kind]: value}
                if second is not None:
                    payload[second_name] = second
                out.append(Reading("tele_sensor", meter, payload, ts))
        if message is not None:
            errors.append((number, message))
    errors.extend(_backwards(out, seen, zone))
    if errors:
        errors.sort(key=lambda e: e[0])
        raise MeterImportError(
            [m for _n, m in errors[:MAX_ERRORS]], more=max(0, len(errors) - MAX_ERRORS)
        )
    return out


def _backwards(
    readings: list[Reading], lines: dict[tuple[str, dt.datetime], int], zone: ZoneInfo
) -> list[tuple[int, str]]:
    """A meter's index that goes back in time order within the file (a typing slip or a swapped meter)."""
    out = []
    last: dict[str, Reading] = {}
    for reading in sorted(readings, key=lambda r: (r.device_id, r.received_at)):
        before = last.get(reading.device_id)
        name = INDEX[reading.payload["kind"]]
        if before is not None and reading.payload[name] < before.payload[name]:
            number = lines[(reading.device_id, reading.received_at)]
            out.append(
                (
                    number,
                    _("Ligne %(n)d : l'index de %(m)s baisse (%(v)s après %(b)s le %(d)s).")
                    % {
                        "n": number,
                        "m": reading.device_id,
                        "v": f"{reading.payload[name]:g}",
                        "b": f"{before.payload[name]:g}",
                        "d": before.received_at.astimezone(zone).strftime("%d/%m/%Y %H:%M"),
                    },
                )
            )
        last[reading.device_id] = reading
    return out


def degree_days(daily_means: Sequence[float | None], base: float = HEATING_BASE_C) -> float:
    """Heating degree-days: for each day with a mean temperature, how far it was under ``base``."""
    return round(sum(max(0.0, base - t) for t in daily_means if t is not None), 1)


@dataclass(frozen=True)
class Consumption:
    sensor: Sensor
    building: str
    medium: str
    area_m2: float | None
    used: float | None  # litres or kWh over the period
    unit: str
    degree_days: float | None

    @property
    def per_m2(self) -> float | None:
        if self.used is None or not self.area_m2:
            return None
        return self.used / self.area_m2

    @property
    def per_degree_day(self) -> float | None:
        if self.used is None or not self.degree_days or self.medium not in ("gas", "heat"):
            return None
        return self.used / self.degree_days


def _meta(sensor: Sensor) -> dict[str, Any]:
    try:
        meta = json.loads(sensor.meta or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _used(
    session: Session, entity: str, measure: str, start: dt.date, end: dt.date
) -> float | None:
    """How much an index moved from ``start`` to ``end`` (days, end excluded): its highest less its lowest."""
    low, high = session.execute(
        sa.select(sa.func.min(col(MeasureDaily.low)), sa.func.max(col(MeasureDaily.high))).where(
            col(MeasureDaily.entity) == entity,
            col(MeasureDaily.measure) == measure,
            col(MeasureDaily.day) >= start,
            col(MeasureDaily.day) < end,
        )
    ).one()
    return None if low is None or high is None else max(0.0, high - low)


def _temperature_entity(session: Session, sensor: Sensor, meta: dict[str, Any]) -> str | None:
    chosen = meta.get("temperature_sensor")
    query = select(Sensor)
    if isinstance(chosen, str) and chosen:
        query = query.where(col(Sensor.id) == chosen)
    else:
        query = query.where(
            col(Sensor.commune_insee) == sensor.commune_insee, col(Sensor.id) != sensor.id
        )
    for other in session.scalars(query.order_by(col(Sensor.id))).all():
        entity = urn(SENSOR_TYPES.get(other.kind, "Device"), other.id)
        if "temperature" in timeseries.measures_of(session, entity):
            return entity
    return None


def heating_degree_days(
    session: Session, entity: str, start: dt.date, end: dt.date, zone: ZoneInfo
) -> float | None:
    """Degree-days from ``start`` to ``end`` (end excluded) from the daily means of ``temperature``
    (days of ``zone``, the territory's)."""
    buckets = timeseries.aggregate(
        session,
        entity,
        ["temperature"],
        dt.datetime.combine(start, dt.time(0), tzinfo=zone),
        dt.datetime.combine(end, dt.time(0), tzinfo=zone),
        timeseries.Period.parse("P1D"),
        zone,
    )["temperature"]
    means = [b.mean for b in buckets]
    return degree_days(means) if any(m is not None for m in means) else None


def consumption(session: Session, start: dt.date, end: dt.date) -> list[Consumption]:
    """Every meter's consumption from ``start`` to ``end``, per m² and, for heating, per degree-day."""
    out = []
    for sensor in session.scalars(
        scope.mine(session, select(Sensor).where(col(Sensor.kind).in_(METER_KINDS))).order_by(
            col(Sensor.id)
        )
    ).all():
        meta = _meta(sensor)
        entity = urn(SENSOR_TYPES.get(sensor.kind, "Device"), sensor.id)
        medium = "water" if sensor.kind == "water_meter" else str(meta.get("medium", "electricity"))
        area = meta.get("area_m2")
        weather = _temperature_entity(session, sensor, meta) if medium in ("gas", "heat") else None
        out.append(
            Consumption(
                sensor=sensor,
                building=str(meta.get("building") or sensor.name),
                medium=medium if medium in MEDIA else "electricity",
                area_m2=float(area) if isinstance(area, int | float) and area > 0 else None,
                used=_used(session, entity, INDEX[sensor.kind], start, end),
                unit=UNITS[sensor.kind],
                degree_days=(
                    heating_degree_days(
                        session, weather, start, end, territory_zone(session, sensor.territory_id)
                    )
                    if weather
                    else None
                ),
            )
        )
    return out


class _Counts:
    invalid = 0


def import_csv(session: Session, text: str, now: dt.datetime) -> int:
    """Check the whole file, then ingest its readings in the caller's transaction; readings kept."""
    from app.sensors.measures import ingest_sensor_telemetry

    readings = parse_csv(session, text, now)
    return ingest_sensor_telemetry(session, readings, now, _Counts())
