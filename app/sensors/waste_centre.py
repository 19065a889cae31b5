"""Waste-centre waiting time: live estimate from counting gates, queueing model, forecast.

Pure logic shared by the web app (``/waste-centre``, the home page), the worker
(which ingests ``tele/sensor`` readings of kind ``waste_centre``) and the CLI:
values in, values out; no database and no I/O.

Live estimate
-------------
The gates report cumulative counters: *arrivals* (vehicles joining the queue at
the entrance), *admissions* (vehicles let into the site) and *exits*. From the
increase of each counter since opening (the site and the queue are empty then,
or the caller says how many were there):

* vehicles on site ``N = admissions − exits``;
* queue ``Q = arrivals − admissions``;
* service rate ``μ`` = admissions over the last 10–15 minutes, or exits when the
  site is full (then a vehicle gets in only when another leaves);
* wait ≈ ``Q / μ``.

Counters may restart from zero (gateway reboot, midnight reset): a reading lower
than the previous one is taken as a restart and counted from zero, as
monitoring systems do for counters. Readings may lack a counter (``None``) or
stop (stale data). When no vehicle was admitted over the window, or there is no
queue sensor, the estimate falls back to the M/M/c model (Erlang C) with the
site's bays and mean dwell time. Little's law (mean ``N`` = λ × dwell) gives a
cross-check of the dwell time used by the model.

Forecast
--------
Waiting times follow the week: the expected wait at an hour is the median, over
the past weeks, of each day's mean wait in that hour of the week, with
fallbacks to the same hour on the same kind of day, then on any day.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final, Literal, TypeAlias

UTC: Final = dt.UTC
DEFAULT_BAYS: Final = 12
DEFAULT_DWELL_MIN: Final = 15.0
DEFAULT_WINDOW_MIN: Final = 15.0
MIN_RATE_WINDOW_MIN: Final = 5.0
DEFAULT_STALE_AFTER_MIN: Final = 10.0


class Saturation(Enum):
    """Marker for a queue that grows without bound (arrivals ≥ service capacity)."""

    SATURATED = "saturated"


SATURATED: Final = Saturation.SATURATED
MmcWait: TypeAlias = float | Literal[Saturation.SATURATED]


def is_saturated(value: object) -> bool:
    """True for the :data:`SATURATED` marker."""
    return value is SATURATED


def _require_aware(value: dt.datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


# --------------------------------------------------------------------------- M/M/c


def erlang_c(offered_erlangs: float, servers: int) -> float:
    """Probability that an arrival has to wait (Erlang C), for load ``a = λ/μ`` < ``c``.

    Computed through the Erlang B recursion, which stays stable for many servers.
    """
    if servers < 1:
        raise ValueError("servers must be >= 1")
    if offered_erlangs < 0:
        raise ValueError("offered load must be >= 0")
    if offered_erlangs >= servers:
        return 1.0
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_erlangs * blocking / (k + offered_erlangs * blocking)
    rho = offered_erlangs / servers
    return blocking / (1.0 - rho * (1.0 - blocking))


def mmc_wait_minutes(
    arrivals_per_h: float, bays: int = DEFAULT_BAYS, dwell_min: float = DEFAULT_DWELL_MIN
) -> MmcWait:
    """Mean wait in the queue (minutes) of an M/M/c system, or :data:`SATURATED`.

    ``bays`` servers, each busy ``dwell_min`` minutes on average per vehicle;
    ``arrivals_per_h`` Poisson arrivals. ``Wq = C(c, a) / (cμ − λ)``. When
    ``λ ≥ cμ`` the queue grows without bound and the result is :data:`SATURATED`.
    """
    if isinstance(bays, bool) or not isinstance(bays, int) or bays < 1:
        raise ValueError("bays must be an integer >= 1")
    if not dwell_min > 0:
        raise ValueError("dwell_min must be > 0")
    if not arrivals_per_h >= 0 or math.isinf(arrivals_per_h):
        raise ValueError("arrivals_per_h must be a finite number >= 0")
    if arrivals_per_h == 0:
        return 0.0
    service_per_h = 60.0 / dwell_min
    capacity_per_h = bays * service_per_h
    if arrivals_per_h >= capacity_per_h:
        return SATURATED
    waiting = erlang_c(arrivals_per_h / service_per_h, bays)
    return waiting / (capacity_per_h - arrivals_per_h) * 60.0


# --------------------------------------------------------------------------- counters


@dataclass(frozen=True)
class GateReading:
    """One reading of the cumulative gate counters; ``None`` when a counter is missing."""

    ts: dt.datetime
    arrivals: int | None = None
    admissions: int | None = None
    exits: int | None = None

    def __post_init__(self) -> None:
        _require_aware(self.ts, "ts")


@dataclass(frozen=True)
class _Counter:
    """A counter's increase since its first reading, restarts absorbed (UTC times)."""

    times: tuple[dt.datetime, ...]
    increase: tuple[float, ...]
    resets: int

    @classmethod
    def build(cls, points: Iterable[tuple[dt.datetime, int]]) -> _Counter:
        times: list[dt.datetime] = []
        increase: list[float] = []
        resets = 0
        total = 0.0
        previous: int | None = None
        for moment, value in points:
            if isinstance(value, bool) or value < 0:
                continue  # a negative count is a gateway error, not data
            if previous is not None:
                if value >= previous:
                    total += value - previous
                else:
                    resets += 1
                    total += value  # the counter restarted from zero and counted `value`
            previous = value
            times.append(moment)
            increase.append(total)
        return cls(tuple(times), tuple(increase), resets)

    @property
    def empty(self) -> bool:
        return not self.times

    def _index(self, moment: dt.datetime) -> int:
        """Index of the last reading at or before ``moment`` (−1 when none)."""
        return bisect_right(self.times, moment) - 1

    def at(self, moment: dt.datetime) -> float | None:
        """Increase at the last reading at or before ``moment``."""
        index = self._index(moment)
        return self.increase[index] if index >= 0 else None

    def last_time(self, moment: dt.datetime) -> dt.datetime | None:
        """Time of the last reading at or before ``moment``."""
        index = self._index(moment)
        return self.times[index] if index >= 0 else None

    def rate_per_h(self, end: dt.datetime, window: dt.timedelta) -> float | None:
        """Counts per hour over the ``window`` before ``end``, from actual readings.

        Uses the reading at or just before ``end − window`` (or the first
        reading), and the last one at or before ``end``; None when the readings
        span less than five minutes.
        """
        index_end = self._index(end)
        if index_end < 0:
            return None
        index_start = max(0, self._index(end - window))
        span = self.times[index_end] - self.times[index_start]
        if span < dt.timedelta(minutes=MIN_RATE_WINDOW_MIN):
            return None
        counted = self.increase[index_end] - self.increase[index_start]
        return counted / (span.total_seconds() / 3600.0)


def _counters(readings: Iterable[GateReading]) -> tuple[_Counter, _Counter, _Counter]:
    ordered = sorted(readings, key=lambda reading: reading.ts.astimezone(UTC))
    series: dict[str, list[tuple[dt.datetime, int]]] = {
        "arrivals": [],
        "admissions": [],
        "exits": [],
    }
    for reading in ordered:
        moment = reading.ts.astimezone(UTC)
        for name, points in series.items():
            value = getattr(reading, name)
            if value is not None:
                points.append((moment, value))
    return (
        _Counter.build(series["arrivals"]),
        _Counter.build(series["admissions"]),
        _Counter.build(series["exits"]),
    )


# --------------------------------------------------------------------------- live estimate


Method: TypeAlias = Literal["queue", "mmc", "none"]


@dataclass(frozen=True)
class WaitEstimate:
    """The live waiting-time estimate and the figures behind it.

    ``method``: ``queue`` (Q / μ from the gates), ``mmc`` (Erlang C fallback) or
    ``none`` (no usable data: show the forecast instead). ``wait_min`` is None
    when unknown or when ``saturated``. ``stale`` is True when the newest data
    is older than the staleness limit.
    """

    at: dt.datetime
    wait_min: float | None
    method: Method
    on_site: int | None = None
    queue: int | None = None
    arrival_rate_per_h: float | None = None
    admission_rate_per_h: float | None = None
    exit_rate_per_h: float | None = None
    service_rate_per_h: float | None = None
    full: bool = False
    saturated: bool = False
    stale: bool = False
    resets: int = 0


def estimate_wait(
    readings: Sequence[GateReading],
    now: dt.datetime | None = None,
    *,
    bays: int = DEFAULT_BAYS,
    dwell_min: float = DEFAULT_DWELL_MIN,
    window_min: float = DEFAULT_WINDOW_MIN,
    stale_after_min: float = DEFAULT_STALE_AFTER_MIN,
    initial_on_site: int = 0,
    initial_queue: int = 0,
) -> WaitEstimate:
    """Estimate the wait for a vehicle arriving now from the day's gate readings.

    ``readings`` start at opening (site and queue empty, unless
    ``initial_on_site``/``initial_queue`` say otherwise). ``now`` defaults to
    the newest reading; readings after ``now`` are ignored. A counter whose
    newest reading is older than ``stale_after_min`` is treated as missing.

    * queue known and empty: wait 0;
    * queue known, vehicles admitted over the window: wait = Q / μ;
    * queue known, nobody admitted over the window (just opened, or a stuck
      gate): M/M/c wait at the arrival rate, but at least the time for the
      site's nominal capacity to absorb the queue (Q × dwell / bays);
    * no queue sensor: M/M/c wait at the admission rate (what gets in is what
      arrives while the site keeps up).
    """
    if bays < 1 or not dwell_min > 0 or not window_min > 0:
        raise ValueError("bays, dwell_min and window_min must be positive")
    if not readings:
        moment = now if now is not None else dt.datetime.now(UTC)
        _require_aware(moment, "now")
        return WaitEstimate(at=moment, wait_min=None, method="none", stale=True)
    newest = max(reading.ts.astimezone(UTC) for reading in readings)
    if now is None:
        now = newest
    _require_aware(now, "now")
    at = now.astimezone(UTC)
    arrivals, admissions, exits = _counters(r for r in readings if r.ts.astimezone(UTC) <= at)
    resets = arrivals.resets + admissions.resets + exits.resets
    stale_limit = at - dt.timedelta(minutes=stale_after_min)

    def fresh(counter: _Counter) -> bool:
        last = counter.last_time(at)
        return last is not None and last >= stale_limit

    has_arrivals, has_admissions, has_exits = fresh(arrivals), fresh(admissions), fresh(exits)
    if not (has_arrivals or has_admissions or has_exits):
        return WaitEstimate(at=now, wait_min=None, method="none", stale=True, resets=resets)

    window = dt.timedelta(minutes=window_min)
    arrival_rate = arrivals.rate_per_h(at, window) if has_arrivals else None
    admission_rate = admissions.rate_per_h(at, window) if has_admissions else None
    exit_rate = exits.rate_per_h(at, window) if has_exits else None

    on_site: int | None = None
    if has_admissions and has_exits:
        admitted, left = admissions.at(at), exits.at(at)
        assert admitted is not None and left is not None
        on_site = max(0, round(initial_on_site + admitted - left))
    queue: int | None = None
    if has_arrivals and has_admissions:
        arrived, admitted = arrivals.at(at), admissions.at(at)
        assert arrived is not None and admitted is not None
        queue = max(0, round(initial_queue + arrived - admitted))
    full = on_site is not None and on_site >= bays
    service_rate = exit_rate if full and exit_rate is not None else admission_rate
    capacity_per_h = bays * 60.0 / dwell_min
    demand = arrival_rate if arrival_rate is not None else admission_rate
    saturated = demand is not None and demand >= capacity_per_h

    base = WaitEstimate(
        at=now,
        wait_min=None,
        method="none",
        on_site=on_site,
        queue=queue,
        arrival_rate_per_h=arrival_rate,
        admission_rate_per_h=admission_rate,
        exit_rate_per_h=exit_rate,
        service_rate_per_h=service_rate,
        full=full,
        saturated=saturated,
        resets=resets,
    )
    if queue is not None:
        if queue == 0:
            return replace(base, wait_min=0.0, method="queue")
        if service_rate is not None and service_rate > 0:
            return replace(base, wait_min=queue / service_rate * 60.0, method="queue")
        # Nobody admitted over the window: the model, and at least the time the
        # site's nominal capacity needs to absorb the vehicles already waiting.
        absorb_min = queue * dwell_min / bays
        if arrival_rate is None:
            return replace(base, wait_min=absorb_min, method="mmc")
        model = mmc_wait_minutes(arrival_rate, bays, dwell_min)
        if model is SATURATED:
            return replace(base, method="mmc", saturated=True)
        return replace(base, wait_min=max(model, absorb_min), method="mmc")
    if admission_rate is not None:
        model = mmc_wait_minutes(admission_rate, bays, dwell_min)
        if model is SATURATED:
            return replace(base, method="mmc", saturated=True)
        return replace(base, wait_min=model, method="mmc")
    return base


@dataclass(frozen=True)
class LittleCheck:
    """Little's law over a period: ``dwell = mean N / λ``.

    ``throughput_per_h`` is λ, the admissions per hour; ``dwell_min`` is None
    when nobody was admitted. Compare ``dwell_min`` with the dwell time given to
    :func:`mmc_wait_minutes` to keep the model honest.
    """

    start: dt.datetime
    end: dt.datetime
    mean_on_site: float
    throughput_per_h: float
    dwell_min: float | None


def little_check(
    readings: Sequence[GateReading],
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    initial_on_site: int = 0,
) -> LittleCheck | None:
    """Mean vehicles on site, admissions per hour and implied dwell over [start, end].

    The on-site count is a step function between readings that carry both
    admissions and exits (the latest known value of each). None when the
    readings do not cover a period.
    """
    if start is not None:
        _require_aware(start, "start")
    if end is not None:
        _require_aware(end, "end")
    _, admissions, exits = _counters(readings)
    moments = sorted(set(admissions.times) | set(exits.times))
    moments = [m for m in moments if admissions.at(m) is not None and exits.at(m) is not None]
    if not moments:
        return None
    # N is unknown before the first reading that carries both counters.
    lo = max(start.astimezone(UTC), moments[0]) if start is not None else moments[0]
    hi = end.astimezone(UTC) if end is not None else moments[-1]
    if hi <= lo:
        return None

    def on_site(moment: dt.datetime) -> float:
        admitted, left = admissions.at(moment), exits.at(moment)
        assert admitted is not None and left is not None
        return max(0.0, initial_on_site + admitted - left)

    area = 0.0
    cursor, current = lo, on_site(lo)
    for moment in moments:
        if moment <= lo:
            continue
        if moment >= hi:
            break
        area += current * (moment - cursor).total_seconds()
        cursor, current = moment, on_site(moment)
    area += current * (hi - cursor).total_seconds()
    seconds = (hi - lo).total_seconds()
    mean_on_site = area / seconds
    admitted_lo, admitted_hi = admissions.at(lo), admissions.at(hi)
    assert admitted_lo is not None and admitted_hi is not None
    throughput = (admitted_hi - admitted_lo) / (seconds / 3600.0)
    dwell = mean_on_site / throughput * 60.0 if throughput > 0 else None
    return LittleCheck(
        start=lo,
        end=hi,
        mean_on_site=mean_on_site,
        throughput_per_h=throughput,
        dwell_min=dwell,
    )


# --------------------------------------------------------------------------- forecast


Basis: TypeAlias = Literal["hour_of_week", "day_type", "hour", "none"]


@dataclass(frozen=True)
class Forecast:
    """An expected wait and what it rests on.

    ``basis``: ``hour_of_week`` (same weekday and hour in past weeks),
    ``day_type`` (same hour on the same kind of day: weekday, Saturday,
    Sunday), ``hour`` (same hour, any day) or ``none``. ``days`` counts the past
    days that contributed.
    """

    at: dt.datetime
    wait_min: float | None
    basis: Basis
    days: int


def _day_type(day: dt.date) -> int:
    weekday = day.weekday()
    return weekday if weekday >= 5 else 0


class _HourlyHistory:
    """Past waits indexed by local (date, hour): each day's mean wait in that hour."""

    def __init__(self, history: Iterable[tuple[dt.datetime, float | None]], tz: dt.tzinfo) -> None:
        sums: dict[tuple[dt.date, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for moment, wait in history:
            _require_aware(moment, "history timestamp")
            if wait is None or not math.isfinite(wait) or wait < 0:
                continue
            local = moment.astimezone(tz)
            cell = sums[(local.date(), local.hour)]
            cell[0] += wait
            cell[1] += 1
        self.tz = tz
        self.means = {key: total / count for key, (total, count) in sums.items()}

    def forecast(self, at: dt.datetime, weeks: int) -> Forecast:
        _require_aware(at, "at")
        local = at.astimezone(self.tz)
        hour, today = local.hour, local.date()
        past_days = [today - dt.timedelta(days=offset) for offset in range(1, weeks * 7 + 1)]
        tiers: tuple[tuple[Basis, list[dt.date]], ...] = (
            ("hour_of_week", [d for d in past_days if d.weekday() == today.weekday()]),
            ("day_type", [d for d in past_days if _day_type(d) == _day_type(today)]),
            ("hour", past_days),
        )
        for basis, days in tiers:
            values = [self.means[(d, hour)] for d in days if (d, hour) in self.means]
            if values:
                return Forecast(at, statistics.median(values), basis, len(values))
        return Forecast(at, None, "none", 0)


def forecast_detail(
    history: Iterable[tuple[dt.datetime, float | None]],
    at: dt.datetime,
    *,
    weeks: int = 8,
    tz: dt.tzinfo,
) -> Forecast:
    """Expected wait at ``at`` from the ``weeks`` weeks of history before ``at``'s day.

    Hours are local (``tz``, the centre's territory's), so a DST change does not shift the pattern.
    Each past day's mean wait in the hour counts once; the median of those
    days resists one exceptional Saturday. Non-finite or negative waits are
    ignored.
    """
    if weeks < 1:
        raise ValueError("weeks must be >= 1")
    return _HourlyHistory(history, tz).forecast(at, weeks)


def forecast(
    history: Iterable[tuple[dt.datetime, float | None]],
    at: dt.datetime,
    *,
    weeks: int = 8,
    tz: dt.tzinfo,
) -> float | None:
    """Expected wait (minutes) at ``at``, or None without history (see :func:`forecast_detail`)."""
    return forecast_detail(history, at, weeks=weeks, tz=tz).wait_min


def best_hours(
    history: Iterable[tuple[dt.datetime, float | None]],
    day: dt.date,
    *,
    count: int = 3,
    now: dt.datetime | None = None,
    hours: Iterable[int] | None = None,
    weeks: int = 8,
    tz: dt.tzinfo,
) -> list[tuple[dt.datetime, float]]:
    """The quietest hours of ``day``: up to ``count`` (hour start, expected wait), quietest first.

    Only hours the history knows for that kind of day are offered (an hour
    never seen on a Sunday is taken as closed), and with ``now`` only hours
    that have not ended. ``hours`` restricts the candidates (opening hours).
    Ties go to the earlier hour.
    """
    if count < 1:
        return []
    zone = tz
    index = _HourlyHistory(history, zone)
    if now is not None:
        _require_aware(now, "now")
    candidates = sorted(set(hours)) if hours is not None else list(range(24))
    ranked: list[tuple[float, dt.datetime]] = []
    for hour in candidates:
        if not 0 <= hour <= 23:
            raise ValueError("hours must be between 0 and 23")
        start = dt.datetime.combine(day, dt.time(hour), tzinfo=zone)
        if now is not None and start + dt.timedelta(hours=1) <= now:
            continue
        expected = index.forecast(start, weeks)
        if expected.wait_min is None or expected.basis not in ("hour_of_week", "day_type"):
            continue
        ranked.append((expected.wait_min, start))
    ranked.sort(key=lambda item: (item[0], item[1].astimezone(UTC)))
    return [(start, wait) for wait, start in ranked[:count]]


__all__ = [
    "SATURATED",
    "Forecast",
    "GateReading",
    "LittleCheck",
    "MmcWait",
    "Saturation",
    "WaitEstimate",
    "best_hours",
    "erlang_c",
    "estimate_wait",
    "forecast",
    "forecast_detail",
    "is_saturated",
    "little_check",
    "mmc_wait_minutes",
]
