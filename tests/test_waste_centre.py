"""Waste-centre waiting time: gates, Erlang C, Little's law, forecast (app/sensors/waste_centre.py)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from app.sensors.waste_centre import (
    SATURATED,
    GateReading,
    best_hours,
    estimate_wait,
    forecast,
    forecast_detail,
    is_saturated,
    little_check,
    mmc_wait_minutes,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC
OPENING = dt.datetime(2026, 11, 21, 9, 0, tzinfo=PARIS)  # a Saturday


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def readings_every_5_min(
    until_min: int, arrivals_per_5: int, admissions_per_5: int, exits_per_5: int
) -> list[GateReading]:
    return [
        GateReading(
            ts=OPENING + minutes(t),
            arrivals=arrivals_per_5 * t // 5,
            admissions=admissions_per_5 * t // 5,
            exits=exits_per_5 * t // 5,
        )
        for t in range(0, until_min + 1, 5)
    ]


# ----------------------------------------------------------------------- Erlang C


@pytest.mark.parametrize(
    ("arrivals_per_h", "expected_min", "digits"),
    [(30, 0.3, 1), (40, 3.4, 1), (44, 10.4, 1), (46, 25, 0)],
)
def test_erlang_c_reproduces_the_reference_waiting_times(
    arrivals_per_h: float, expected_min: float, digits: int
) -> None:
    wait = mmc_wait_minutes(arrivals_per_h, bays=12, dwell_min=15)
    assert not is_saturated(wait)
    assert isinstance(wait, float)
    assert round(wait, digits) == expected_min


def test_an_unstable_queue_is_reported_as_saturated() -> None:
    assert mmc_wait_minutes(48) is SATURATED  # λ = cμ = 12 × 4 per hour
    assert mmc_wait_minutes(60) is SATURATED
    assert mmc_wait_minutes(0) == 0.0
    assert mmc_wait_minutes(47.9) != SATURATED
    with pytest.raises(ValueError):
        mmc_wait_minutes(-1)
    with pytest.raises(ValueError):
        mmc_wait_minutes(30, bays=0)


# ----------------------------------------------------------------------- live estimate


def test_the_wait_is_the_queue_over_the_admission_rate() -> None:
    readings = readings_every_5_min(30, arrivals_per_5=10, admissions_per_5=5, exits_per_5=4)
    estimate = estimate_wait(readings)
    # After 30 min: 60 arrived, 30 admitted, 24 left; 15 admitted over the last 15 min.
    assert (estimate.on_site, estimate.queue) == (6, 30)
    assert estimate.admission_rate_per_h == pytest.approx(60)
    assert estimate.method == "queue"
    assert estimate.wait_min == pytest.approx(30 / 60 * 60)
    assert estimate.arrival_rate_per_h == pytest.approx(120)
    assert estimate.saturated  # 120 veh/h against a capacity of 48 veh/h: the queue grows


def test_an_empty_queue_means_no_wait() -> None:
    readings = readings_every_5_min(30, arrivals_per_5=3, admissions_per_5=3, exits_per_5=2)
    estimate = estimate_wait(readings)
    assert (estimate.queue, estimate.wait_min, estimate.method) == (0, 0.0, "queue")
    assert not estimate.saturated


def test_a_full_site_admits_at_the_exit_rate() -> None:
    readings = [
        GateReading(ts=OPENING + minutes(t), arrivals=a, admissions=b, exits=c)
        for t, a, b, c in [(0, 0, 0, 0), (15, 40, 20, 10), (30, 60, 30, 18)]
    ]
    estimate = estimate_wait(readings, bays=12)
    assert estimate.on_site == 12
    assert estimate.full
    assert estimate.admission_rate_per_h == pytest.approx(40)
    assert estimate.exit_rate_per_h == pytest.approx(32)
    assert estimate.service_rate_per_h == pytest.approx(32)
    assert estimate.wait_min == pytest.approx(30 / 32 * 60)


def test_a_counter_reset_is_counted_from_zero() -> None:
    clean = readings_every_5_min(30, arrivals_per_5=10, admissions_per_5=5, exits_per_5=4)
    # The admissions counter had reached 1000 before opening, and the gateway
    # rebooted at 09:20: it restarts from zero.
    shifted = []
    for reading in clean:
        elapsed = (reading.ts - OPENING).total_seconds() / 60
        assert reading.admissions is not None
        if elapsed < 20:
            admissions = 1000 + reading.admissions
        else:
            admissions = reading.admissions - 20 + 5  # 5 counted since the restart at 09:17
        shifted.append(GateReading(reading.ts, reading.arrivals, admissions, reading.exits))
    expected = estimate_wait(clean)
    estimate = estimate_wait(shifted)
    assert estimate.resets == 1
    assert (estimate.on_site, estimate.queue) == (expected.on_site, expected.queue)
    assert estimate.wait_min == pytest.approx(expected.wait_min)


def test_with_no_admissions_yet_it_falls_back_to_the_mmc_model() -> None:
    readings = [
        GateReading(ts=OPENING + minutes(t), arrivals=t // 2, admissions=0, exits=0)
        for t in range(11)
    ]
    estimate = estimate_wait(readings, bays=12, dwell_min=15)
    assert estimate.method == "mmc"
    assert estimate.queue == 5
    assert estimate.arrival_rate_per_h == pytest.approx(30)
    model = mmc_wait_minutes(30, 12, 15)
    assert isinstance(model, float)
    assert estimate.wait_min == pytest.approx(max(model, 5 * 15 / 12))


def test_without_a_queue_sensor_it_uses_the_mmc_model_on_admissions() -> None:
    readings = [
        GateReading(ts=OPENING + minutes(t), admissions=2 * t // 3, exits=t // 2)
        for t in range(0, 31, 3)
    ]
    estimate = estimate_wait(readings)
    assert estimate.queue is None
    assert estimate.method == "mmc"
    assert estimate.admission_rate_per_h == pytest.approx(40)
    assert estimate.wait_min == pytest.approx(mmc_wait_minutes(40))


def test_stale_or_missing_data_gives_no_estimate() -> None:
    readings = readings_every_5_min(30, arrivals_per_5=10, admissions_per_5=5, exits_per_5=4)
    stale = estimate_wait(readings, now=OPENING + minutes(60))
    assert (stale.method, stale.wait_min, stale.stale) == ("none", None, True)
    assert estimate_wait([], now=OPENING).method == "none"
    blank = [GateReading(ts=OPENING + minutes(t)) for t in range(0, 30, 5)]
    assert estimate_wait(blank).wait_min is None
    # Readings after `now` are ignored.
    early = estimate_wait(readings, now=OPENING + minutes(15))
    assert early.queue == 15


def test_littles_law_recovers_the_dwell_time() -> None:
    # One vehicle every 2 minutes (30 veh/h, at minutes 1, 3, 5...), each stays 20 minutes.
    def admitted(t: int) -> int:
        return (t + 1) // 2 if t >= 0 else 0

    readings = [
        GateReading(ts=OPENING + minutes(t), admissions=admitted(t), exits=admitted(t - 20))
        for t in range(181)
    ]
    check = little_check(readings, OPENING + minutes(60), OPENING + minutes(180))
    assert check is not None
    assert check.throughput_per_h == pytest.approx(30)
    assert check.mean_on_site == pytest.approx(10, abs=0.5)
    assert check.dwell_min == pytest.approx(20, abs=1)
    assert little_check([], OPENING, OPENING + minutes(60)) is None


# ----------------------------------------------------------------------- forecast


def _weekly_history(weeks: int) -> list[tuple[dt.datetime, float]]:
    """Saturdays busy at 10:00 (20 min, one exceptional 60), Tuesdays quiet (2 min).

    Timestamps are stored in UTC, across the autumn DST change.
    """
    history: list[tuple[dt.datetime, float]] = []
    last_saturday = dt.date(2026, 11, 14)
    for week in range(weeks):
        saturday = last_saturday - dt.timedelta(weeks=week)
        tuesday = saturday - dt.timedelta(days=4)
        for hour, wait in [(9, 8.0), (10, 60.0 if week == 2 else 20.0), (11, 12.0), (16, 4.0)]:
            for minute in (0, 20, 40):
                moment = dt.datetime.combine(saturday, dt.time(hour, minute), tzinfo=PARIS)
                history.append((moment.astimezone(UTC), wait))
        for minute in (0, 30):
            moment = dt.datetime.combine(tuesday, dt.time(10, minute), tzinfo=PARIS)
            history.append((moment.astimezone(UTC), 2.0))
    return history


def test_the_forecast_uses_the_same_hour_of_the_week() -> None:
    history = _weekly_history(6)
    saturday_10 = dt.datetime(2026, 11, 21, 10, 30, tzinfo=PARIS)
    detail = forecast_detail(history, saturday_10, tz=PARIS)
    assert (detail.wait_min, detail.basis, detail.days) == (20.0, "hour_of_week", 6)
    assert (
        forecast(history, dt.datetime(2026, 11, 24, 10, 0, tzinfo=PARIS), tz=PARIS) == 2.0
    )  # Tuesday
    # Wednesday 10:00 was never seen: same hour on another weekday.
    wednesday = forecast_detail(history, dt.datetime(2026, 11, 25, 10, 0, tzinfo=PARIS), tz=PARIS)
    assert (wednesday.wait_min, wednesday.basis) == (2.0, "day_type")
    # Sunday 10:00: no Sunday at all, same hour on any day (median of the days seen).
    sunday = forecast_detail(history, dt.datetime(2026, 11, 22, 10, 0, tzinfo=PARIS), tz=PARIS)
    assert sunday.basis == "hour"
    assert sunday.wait_min == pytest.approx(11.0)  # median of 6 × 2.0 and 6 Saturdays
    assert forecast(history, dt.datetime(2026, 11, 21, 3, 0, tzinfo=PARIS), tz=PARIS) is None
    # Only the past counts: nothing is known before the first week of history.
    assert forecast(history, dt.datetime(2026, 10, 3, 10, 0, tzinfo=PARIS), tz=PARIS) is None


def test_best_hours_suggests_the_quietest_upcoming_hours() -> None:
    history = _weekly_history(6)
    saturday = dt.date(2026, 11, 21)
    quietest = best_hours(history, saturday, count=2, tz=PARIS)
    assert [(moment.hour, wait) for moment, wait in quietest] == [(16, 4.0), (9, 8.0)]
    later = best_hours(
        history, saturday, count=2, now=dt.datetime(2026, 11, 21, 10, 5, tzinfo=PARIS), tz=PARIS
    )
    assert [(moment.hour, wait) for moment, wait in later] == [(16, 4.0), (11, 12.0)]
    # A Sunday was never open: nothing to suggest.
    assert best_hours(history, dt.date(2026, 11, 22), tz=PARIS) == []
