"""The one time-series store: record measures from any domain, read them back aggregated over any period.

- ``record(session, samples)``: in the caller's transaction, fold samples into
  the hourly and daily rows (count, sum, min, max) of ``app.models.measures``. A day is the local
  day of the entity's territory (each sample carries its territory's time zone: a sensor in
  Cayenne counts its day from Cayenne's midnight); an hour is a UTC hour.
  Lights (with their group and cabinet) and sensors feed it at ingestion; the
  next domains feed it the same way and appear in history and NGSI-LD.
- ``aggregate(session, entity, measures, start, end, period)``: buckets of
  ``period`` (an ISO 8601 duration: ``PT1H``, ``P1D``, ``P1W``, ``P1M``...)
  from ``start``, each with count, sum, min, max and mean, from the hourly
  rows (periods under a day) or the daily rows (read as days of ``zone``, the entity's territory's).
- ``prune(session, before)``: drop hourly rows older than ``before`` (days stay).

Used by the history pages and CSV (operations centre), the NGSI-LD temporal API and the benchmarks.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db import insert_or_update, table_of
from app.models.measures import MeasureDaily, MeasureHourly

# A device's reading is believed when its time is at most this old / this far ahead of its arrival.
MAX_READING_AGE = dt.timedelta(days=2)
MAX_READING_AHEAD = dt.timedelta(minutes=5)


def parse_time(value: Any) -> dt.datetime:
    """ISO 8601 (``Z`` or an offset; naive means UTC) or epoch seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("not a time")
    if isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError) as exc:
            raise ValueError("time out of range") from exc
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("not a time")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def reading_time(value: Any, received_at: dt.datetime) -> dt.datetime | None:
    """The time of a device's reading, or None when it is not one to believe.

    No time at all means "now" (the arrival); a time that does not parse, or one
    outside [arrival - 2 days, arrival + 5 minutes], is refused, so a clock gone
    wrong (year 1, year 9999) never reaches the history or a time-zone conversion.
    """
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=dt.UTC)
    if value is None:
        return received_at
    try:
        moment = parse_time(value)
    except ValueError:
        return None
    try:
        if not received_at - MAX_READING_AGE <= moment <= received_at + MAX_READING_AHEAD:
            return None
    except OverflowError:
        return None
    return moment


UTC = dt.UTC
_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
MAX_BUCKETS = 20_000


class Sample(NamedTuple):
    """One measure of one entity at one time (a tuple: ingestion makes up to nine per reading)."""

    entity: str  # an NGSI-LD URN
    measure: str  # an attribute name
    ts: dt.datetime
    value: float
    # The time zone of the entity's territory (``app.territories.zone``): the daily row is its local
    # day. None: the UTC day.
    zone: dt.tzinfo | None = None


@dataclass(frozen=True)
class Period:
    """An ISO 8601 duration as calendar months plus seconds."""

    months: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _DURATION.match(text or "")
        if not match or text in ("P", "PT") or text.endswith("T"):
            raise ValueError(f"not an ISO 8601 duration: {text!r}")
        n = {k: int(v or 0) for k, v in match.groupdict().items()}
        period = cls(
            n["years"] * 12 + n["months"],
            ((n["weeks"] * 7 + n["days"]) * 24 + n["hours"]) * 3600
            + n["minutes"] * 60
            + n["seconds"],
        )
        if period.months == 0 and period.seconds < 3600:
            raise ValueError("the shortest period kept is one hour (PT1H)")
        return period

    @property
    def daily(self) -> bool:
        return self.months > 0 or self.seconds % 86400 == 0

    def after(self, moment: dt.datetime) -> dt.datetime:
        if self.months:
            month = moment.month - 1 + self.months
            year = moment.year + month // 12
            moment = moment.replace(year=year, month=month % 12 + 1)
        return moment + dt.timedelta(seconds=self.seconds)


@dataclass
class Bucket:
    start: dt.datetime
    end: dt.datetime
    count: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def add(self, count: int, total: float, low: float | None, high: float | None) -> None:
        self.count += count
        self.total += total
        if low is not None:
            self.low = low if self.low is None else min(self.low, low)
        if high is not None:
            self.high = high if self.high is None else max(self.high, high)

    def value(self, method: str) -> float | int | None:
        """The bucket's value for an NGSI-LD aggregation method."""
        if self.count == 0:
            return None
        return {
            "avg": self.mean,
            "sum": self.total,
            "min": self.low,
            "max": self.high,
            "totalCount": self.count,
        }.get(method)


# A bucket being folded: [count, total, low, high] (a list, not an object: ingestion folds
# thousands of them per batch).
_Cell = list[Any]


def _fold(
    samples: Iterable[Sample],
) -> tuple[dict[tuple[str, str, dt.datetime], _Cell], dict[tuple[str, str, dt.date], _Cell]]:
    hours: dict[tuple[str, str, dt.datetime], _Cell] = {}
    days: dict[tuple[str, str, dt.date], _Cell] = {}
    # A batch's readings share a few times (a telemetry round) and a territory or two: each time's
    # hour and day are worked out once per time zone.
    by_zone: dict[dt.tzinfo | None, dict[dt.datetime, tuple[dt.datetime, dt.date]]] = {}
    zone_now: dt.tzinfo | None = None
    slots = by_zone.setdefault(None, {})
    isfinite = math.isfinite
    for entity, measure, ts, value, zone in samples:
        if not isfinite(value):
            continue
        if zone is not zone_now:
            zone_now = zone
            slots = by_zone.setdefault(zone, {})
        slot = slots.get(ts)
        if slot is None:
            moment = ts.astimezone(UTC)
            day = moment.date() if zone is None else moment.astimezone(zone).date()
            slot = slots[ts] = (moment.replace(minute=0, second=0, microsecond=0), day)
        pairs: tuple[tuple[dict[Any, _Cell], tuple[str, str, Any]], ...] = (
            (hours, (entity, measure, slot[0])),
            (days, (entity, measure, slot[1])),
        )
        for cells, key in pairs:
            cell = cells.get(key)
            if cell is None:
                cells[key] = [1, 0.0 + value, value, value]
                continue
            cell[0] += 1
            cell[1] += value
            if value < cell[2]:
                cell[2] = value
            if value > cell[3]:
                cell[3] = value
    return hours, days


_COLUMNS = ("entity", "measure", "{slot}", "count", "total", "low", "high")


@dataclass(frozen=True)
class _Prepared:
    sql: str
    columns: tuple[str, ...]  # the row's columns, named for this table's slot
    order: tuple[int, ...] | None  # positional drivers: the row's values in the SQL's order
    # the slot column's conversion by its type as this dialect stores it (hour, day): SQLite's
    # text, exactly as every other write and every query's bound parameters write it
    convert: Callable[[Any], Any] | None


# Each measure table's upsert compiled once per dialect (see _upsert).
_PREPARED: dict[tuple[str, str, str, str], _Prepared] = {}


def _prepared(session: Session, model: Any, slot: str) -> _Prepared:
    dialect = session.connection().dialect
    key = (dialect.name, dialect.driver, dialect.paramstyle, model.__name__)
    prepared = _PREPARED.get(key)
    if prepared is not None:
        return prepared
    table = table_of(model)
    stmt = insert_or_update(session, table)
    least: Callable[..., Any]
    greatest: Callable[..., Any]
    if dialect.name == "postgresql":
        least, greatest = func.least, func.greatest
    else:
        least, greatest = func.min, func.max  # SQLite's scalar min()/max() of two values
    stmt = stmt.on_conflict_do_update(
        index_elements=["entity", "measure", slot],
        set_={
            "count": table.c.count + stmt.excluded.count,
            "total": table.c.total + stmt.excluded.total,
            "low": least(func.coalesce(table.c.low, stmt.excluded.low), stmt.excluded.low),
            "high": greatest(func.coalesce(table.c.high, stmt.excluded.high), stmt.excluded.high),
        },
    )
    columns = tuple(c.format(slot=slot) for c in _COLUMNS)
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    if sorted(names) != sorted(columns):
        raise RuntimeError(f"unexpected parameters in the {model.__name__} upsert: {names}")
    order = tuple(columns.index(name) for name in names) if compiled.positional else None
    prepared = _Prepared(
        str(compiled),
        columns,
        order,
        compiled.binds[slot].type.dialect_impl(dialect).bind_processor(dialect),
    )
    _PREPARED[key] = prepared
    return prepared


def _upsert(session: Session, model: Any, slot: str, rows: list[tuple[Any, ...]]) -> None:
    """Add ``rows`` (entity, measure, hour or day, count, total, low, high) to the table's buckets.

    A batch brings thousands of rows: the statement is compiled once per dialect and the rows go
    to the driver as they are, the slot converted by its column type once per distinct value (a
    batch holds a few hours), instead of SQLAlchemy processing each parameter of each row."""
    if not rows:
        return
    prepared = _prepared(session, model, slot)
    convert, order = prepared.convert, prepared.order
    rows.sort(key=lambda r: r[:3])  # same lock order in every writer
    converted: dict[Any, Any] = {}
    params: list[Any] = []
    for entity, measure, when, count, total, low, high in rows:
        value = converted.get(when)
        if value is None:
            value = converted[when] = when if convert is None else convert(when)
        row = (entity, measure, value, int(count), float(total), float(low), float(high))
        if order is None:
            params.append(dict(zip(prepared.columns, row, strict=True)))
        else:
            params.append(row if order == (0, 1, 2, 3, 4, 5, 6) else tuple(row[i] for i in order))
    conn = session.connection()
    for start in range(0, len(params), 1000):
        conn.exec_driver_sql(prepared.sql, params[start : start + 1000])


def record(session: Session, samples: Iterable[Sample], *, daily_only: bool = False) -> int:
    """Fold samples into the hourly and daily rows; returns how many samples were kept.

    ``daily_only``: samples that each stand for a whole day (imported history) go to the daily rows only.
    """
    hours, days = _fold(samples)
    if daily_only:
        hours = {}
    _upsert(session, MeasureHourly, "hour", [(*key, *c) for key, c in hours.items()])
    _upsert(session, MeasureDaily, "day", [(*key, *c) for key, c in days.items()])
    return sum(c[0] for c in days.values())


def measures_of(session: Session, entity: str) -> list[str]:
    """The measures the store holds for an entity."""
    return list(
        session.scalars(
            select(col(MeasureDaily.measure))
            .where(col(MeasureDaily.entity) == entity)
            .group_by(col(MeasureDaily.measure))
            .order_by(col(MeasureDaily.measure))
        ).all()
    )


def aggregate(
    session: Session,
    entity: str,
    measures: Sequence[str],
    start: dt.datetime,
    end: dt.datetime,
    period: Period,
    zone: dt.tzinfo = UTC,
) -> dict[str, list[Bucket]]:
    """Per measure, the buckets of ``period`` from ``start`` to ``end`` (the last one may be shorter);
    the daily rows are the days of ``zone`` (the time zone of the entity's territory)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    first_day = start.astimezone(zone).date()
    edges = [start]
    while edges[-1] < end:
        if len(edges) > MAX_BUCKETS:
            raise ValueError("too many periods in that range")
        edges.append(min(period.after(edges[-1]), end))
    out = {m: [Bucket(a, b) for a, b in zip(edges, edges[1:], strict=False)] for m in measures}
    if not measures or len(edges) < 2:
        return out
    if period.daily:
        slot: Any = col(MeasureDaily.day)
        query = sa.select(
            col(MeasureDaily.measure),
            col(MeasureDaily.day),
            col(MeasureDaily.count),
            col(MeasureDaily.total),
            col(MeasureDaily.low),
            col(MeasureDaily.high),
        ).where(
            col(MeasureDaily.entity) == entity,
            col(MeasureDaily.measure).in_(list(measures)),
            col(MeasureDaily.day) >= first_day,
            col(MeasureDaily.day) < (end.astimezone(zone) + dt.timedelta(days=1)).date(),
        )
    else:
        slot = col(MeasureHourly.hour)
        query = sa.select(
            col(MeasureHourly.measure),
            col(MeasureHourly.hour),
            col(MeasureHourly.count),
            col(MeasureHourly.total),
            col(MeasureHourly.low),
            col(MeasureHourly.high),
        ).where(
            col(MeasureHourly.entity) == entity,
            col(MeasureHourly.measure).in_(list(measures)),
            col(MeasureHourly.hour) >= start.replace(minute=0, second=0, microsecond=0),
            col(MeasureHourly.hour) < end,
        )
    for measure, when, count, total, low, high in session.execute(query.order_by(slot)).all():
        if isinstance(when, dt.datetime):
            moment = when.astimezone(UTC)
        else:  # a local day: its midnight in the entity's time zone
            if when < first_day:
                continue
            moment = dt.datetime.combine(when, dt.time(0), tzinfo=zone).astimezone(UTC)
        index = max(0, bisect.bisect_right(edges, moment) - 1)
        if index < len(edges) - 1 and moment < end:
            out[measure][index].add(count, total, low, high)
    return out


def prune(session: Session, before: dt.datetime) -> int:
    """Forget hourly rows older than ``before``; the daily rows keep the long history."""
    table = table_of(MeasureHourly)
    return session.exec(table.delete().where(table.c.hour < before)).rowcount or 0
