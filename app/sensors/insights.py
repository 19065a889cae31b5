"""What the sensors contribute to the decision-support pages, per month and commune.

From the daily rows of the one time-series store (``measure_daily``): visits to
the waste centres (the admissions counted at the gates each day), vehicles at
the border crossings (the day's mean hourly flow × 24) and the mean NO₂ and
PM10 concentrations; and, for the mobility page, each crossing's vehicles by
hour of the day (``sensor_hourly``), for its peak hours. The sensors are the session's territory's
(``app.sensors.scope.mine``; an unbound session's, the whole install's).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app import months
from app.interfaces import MonthlyFigure, Trip, TripSource
from app.models.measures import MeasureDaily
from app.models.sensors import Sensor, SensorHourly
from app.ngsi import urn
from app.sensors import scope
from app.sensors.ngsi_ld import SENSOR_TYPES
from app.territories import zone

N_ = str  # marks a string for extraction; translated where it is shown


def _entities(session: Session, kind: str) -> dict[str, str]:
    """Entity URN -> commune INSEE of the sensors of a kind."""
    return {
        urn(SENSOR_TYPES.get(kind, "Device"), sensor_id): insee or ""
        for sensor_id, insee in session.execute(
            scope.mine(
                session,
                select(col(Sensor.id), col(Sensor.commune_insee)).where(col(Sensor.kind) == kind),
            )
        ).all()
    }


def _daily(
    session: Session, kind: str, measure: str, first: str, last: str
) -> list[tuple[Any, ...]]:
    entities = _entities(session, kind)
    if not entities:
        return []
    # The daily rows are already the sensors' local days (app.sensors.measures): months by date.
    low = dt.date.fromisoformat(first + "-01")
    high = dt.date.fromisoformat(months.shift(last, 1) + "-01")
    rows = session.execute(
        sa.select(
            col(MeasureDaily.entity),
            col(MeasureDaily.day),
            col(MeasureDaily.count),
            col(MeasureDaily.total),
            col(MeasureDaily.low),
            col(MeasureDaily.high),
        ).where(
            col(MeasureDaily.measure) == measure,
            col(MeasureDaily.entity).in_(list(entities)),
            col(MeasureDaily.day) >= low,
            col(MeasureDaily.day) < high,
        )
    ).all()
    return [
        (entities[e], day.isoformat()[:7], n, total, lo, hi) for e, day, n, total, lo, hi in rows
    ]


def waste_visits(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = defaultdict(float)
    for insee, month, _n, _total, low, high in _daily(
        session, "waste_centre", "admissions", first, last
    ):
        if month >= first and low is not None and high is not None:
            out[(month, insee)] += max(high - low, 0.0)
    return out


def crossing_vehicles(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = defaultdict(float)
    for insee, month, n, total, _low, _high in _daily(session, "traffic", "intensity", first, last):
        if month >= first and n:
            out[(month, insee)] += total / n * 24
    return out


def _mean_of(measure: str) -> Any:
    def load(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
        sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for insee, month, n, total, _low, _high in _daily(
            session, "air_quality", measure, first, last
        ):
            if month >= first:
                for key in ((month, insee), (month, "")):
                    sums[key][0] += total
                    sums[key][1] += n
        out = {key: total / n for key, (total, n) in sums.items() if n}
        return out

    return load


def crossings(session: Session, first: str, last: str) -> Iterator[Trip]:
    """Vehicles per crossing, month and local hour of the day (from the hourly rows)."""
    sensors = {
        s.id: s
        for s in session.scalars(
            scope.mine(session, select(Sensor).where(col(Sensor.kind) == "traffic"))
        )
        if s.lat is not None and s.lon is not None
    }
    if not sensors:
        return
    local_zone = zone(session)
    low, high = months.bounds(first, last, local_zone)
    rows = session.execute(
        select(
            col(SensorHourly.sensor_id),
            col(SensorHourly.hour),
            col(SensorHourly.samples),
            col(SensorHourly.sums_json),
        ).where(
            col(SensorHourly.sensor_id).in_(list(sensors)),
            col(SensorHourly.hour) >= low,
            col(SensorHourly.hour) < high,
        )
    ).all()
    counts: dict[tuple[str, str, int], float] = defaultdict(float)
    for sensor_id, hour, samples, sums in rows:
        if not samples:
            continue
        intensity = json.loads(sums or "{}").get("intensity")
        if intensity is None:
            continue
        moment = hour if hour.tzinfo else hour.replace(tzinfo=UTC)
        local = moment.astimezone(local_zone)
        counts[(sensor_id, local.strftime("%Y-%m"), local.hour)] += float(intensity) / samples
    for (sensor_id, month, hour), vehicles in counts.items():
        s = sensors[sensor_id]
        assert s.lat is not None and s.lon is not None
        yield Trip(
            month,
            "crossing",
            s.lat,
            s.lon,
            "FR",
            s.lat,
            s.lon,
            "LU",
            round(vehicles),
            hour=hour,
            label=s.name,
        )


FIGURES = (
    MonthlyFigure(
        "waste_visits", "waste", N_("Passages à la déchèterie"), "", 40, waste_visits, kind="amount"
    ),
    MonthlyFigure(
        "crossing_vehicles",
        "mobility",
        N_("Véhicules aux passages frontaliers"),
        "",
        32,
        crossing_vehicles,
        kind="amount",
        per_resident=False,
    ),
    MonthlyFigure(
        "air_no2",
        "air",
        N_("Dioxyde d'azote (NO₂), moyenne"),
        "µg/m³",
        50,
        _mean_of("no2"),
        kind="mean",
        better="down",
    ),
    MonthlyFigure(
        "air_pm10",
        "air",
        N_("Particules PM10, moyenne"),
        "µg/m³",
        51,
        _mean_of("pm10"),
        kind="mean",
        better="down",
    ),
)
TRIP_SOURCES = (TripSource("crossings", crossings),)
