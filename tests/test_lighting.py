"""Dimming programs, calendars, the effective command and the energy model (app/lighting/programs.py)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from astral import Observer
from astral import sun as astral_sun

from app.lighting import nights as lighting_nights
from app.lighting.calendars import Calendar, CalendarRule, DateRange, program_for
from app.lighting.commands import Boost, LightState, Override, Reason, effective_command
from app.lighting.consumption import BASELINES, energy_kwh, power_w, savings, yearly_energy_kwh
from app.lighting.nights import level_at, next_change, schedule
from app.lighting.programs import CalendarError, Position, Program, ProgramError

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC
# Audun-le-Tiche (INSEE 57038), from the territory data.
AUDUN = Position(latitude=49.472, longitude=5.955, timezone="Europe/Paris")
OBSERVER = Observer(latitude=49.472, longitude=5.955)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=PARIS)


def astral_sunset(day: dt.date) -> dt.datetime:
    return astral_sun.sunset(OBSERVER, day, tzinfo=PARIS)


def astral_sunrise(day: dt.date) -> dt.datetime:
    return astral_sun.sunrise(OBSERVER, day, tzinfo=PARIS)


def same_instant(a: dt.datetime, b: dt.datetime, tolerance_s: float = 1.0) -> bool:
    return abs((a.astimezone(UTC) - b.astimezone(UTC)).total_seconds()) <= tolerance_s


# ----------------------------------------------------------------------- astronomical steps


@pytest.mark.parametrize(
    ("day", "offset_hours"),
    [
        (dt.date(2026, 12, 21), 1),  # winter solstice
        (dt.date(2026, 6, 21), 2),  # summer solstice
        (dt.date(2026, 3, 29), 2),  # first day of summer time
        (dt.date(2026, 10, 25), 1),  # first day of winter time
        (dt.date(2026, 3, 28), 1),  # evening before the spring change
    ],
)
def test_a_sunset_plus_15_step_switches_on_15_minutes_after_astral_sunset(
    day: dt.date, offset_hours: int
) -> None:
    program = Program.from_pairs([("sunset+15", 100), ("sunrise-15", 0)])
    changes = schedule(program, day, AUDUN)
    expected_on = astral_sunset(day) + dt.timedelta(minutes=15)
    expected_off = astral_sunrise(day + dt.timedelta(days=1)) - dt.timedelta(minutes=15)

    assert [level for _, level in changes] == [100, 0]
    switch_on, switch_off = changes[0][0], changes[1][0]
    assert same_instant(switch_on, expected_on)
    assert same_instant(switch_off, expected_off)
    assert switch_on.utcoffset() == dt.timedelta(hours=offset_hours)
    assert switch_off.utcoffset() == expected_off.utcoffset()
    minute = dt.timedelta(minutes=1)
    assert level_at(program, expected_on - minute, AUDUN) == 0
    assert level_at(program, expected_on + minute, AUDUN) == 100
    assert level_at(program, expected_off - minute, AUDUN) == 100
    assert level_at(program, expected_off + minute, AUDUN) == 0


def test_the_night_of_the_spring_change_ends_at_the_summer_time_sunrise() -> None:
    program = Program.from_pairs([("sunset+15", 100), ("sunrise-15", 0)])
    (_, _), (switch_off, level) = schedule(program, dt.date(2026, 3, 28), AUDUN)
    expected = astral_sunrise(dt.date(2026, 3, 29)) - dt.timedelta(minutes=15)
    assert level == 0
    assert switch_off.utcoffset() == dt.timedelta(hours=2)
    assert same_instant(switch_off, expected)


def test_a_fixed_22_00_step_dims_to_50_percent() -> None:
    program = Program.from_pairs([("sunset", 100), ("22:00", 50), ("sunrise", 0)])
    assert level_at(program, local(2026, 1, 15, 21, 59), AUDUN) == 100
    assert level_at(program, local(2026, 1, 15, 22, 0), AUDUN) == 50
    assert level_at(program, local(2026, 1, 16, 3, 0), AUDUN) == 50
    assert (local(2026, 1, 15, 22, 0), 50) in schedule(program, dt.date(2026, 1, 15), AUDUN)
    # On the night of the autumn change, 22:00 is still summer time.
    night = dict(schedule(program, dt.date(2026, 10, 24), AUDUN))
    at_22 = [moment for moment, level in night.items() if level == 50]
    assert len(at_22) == 1
    assert at_22[0].hour == 22
    assert at_22[0].utcoffset() == dt.timedelta(hours=2)


def test_lamps_stay_off_in_daylight_even_when_a_fixed_step_says_on() -> None:
    program = Program.from_pairs([("sunset", 100), ("22:00", 50), ("06:00", 100), ("sunrise", 0)])
    # June: the sun is up before 06:00, the 06:00 step must not relight the lamps.
    assert level_at(program, local(2026, 6, 21, 6, 30), AUDUN) == 0
    assert level_at(program, local(2026, 6, 21, 15, 0), AUDUN) == 0
    # January: 06:00 is dark, the step applies until sunrise.
    assert level_at(program, local(2026, 1, 15, 6, 30), AUDUN) == 100
    assert level_at(program, local(2026, 1, 15, 12, 0), AUDUN) == 0
    # A program of fixed times only: daylight still keeps the lamps off.
    fixed = Program.from_pairs([("18:00", 100), ("23:00", 0), ("05:00", 100), ("08:00", 0)])
    assert level_at(fixed, local(2026, 6, 21, 18, 30), AUDUN) == 0
    assert level_at(fixed, local(2026, 6, 22, 7, 0), AUDUN) == 0
    assert level_at(fixed, local(2026, 1, 15, 18, 30), AUDUN) == 100
    assert level_at(fixed, local(2026, 1, 16, 7, 0), AUDUN) == 100
    assert level_at(fixed, local(2026, 1, 16, 1, 0), AUDUN) == 0


def test_sun_anchored_steps_may_light_before_sunset_and_after_sunrise() -> None:
    program = Program.from_pairs([("sunset-10", 100), ("sunrise+10", 0)])
    day = dt.date(2026, 11, 10)
    sunset, sunrise = astral_sunset(day), astral_sunrise(day + dt.timedelta(days=1))
    five = dt.timedelta(minutes=5)
    assert level_at(program, sunset - 2 * five - five, AUDUN) == 0
    assert level_at(program, sunset - five, AUDUN) == 100
    assert level_at(program, sunrise + five, AUDUN) == 100
    assert level_at(program, sunrise + 3 * five, AUDUN) == 0


def test_a_summer_dusk_after_22_00_switches_on_at_the_dimmed_level() -> None:
    program = BASELINES["led_70_dimmed_50"].program
    changes = schedule(program, dt.date(2026, 6, 21), AUDUN)
    dusk = astral_sun.dusk(OBSERVER, dt.date(2026, 6, 21), depression=3.0, tzinfo=PARIS)
    dawn = astral_sun.dawn(OBSERVER, dt.date(2026, 6, 22), depression=3.0, tzinfo=PARIS)
    assert dusk.hour == 22  # the premise: dusk is after 22:00 at the solstice
    assert [level for _, level in changes] == [50, 0]
    assert same_instant(changes[0][0], dusk)
    assert same_instant(changes[1][0], dawn)


def test_a_one_step_program_carries_its_level_into_the_evening() -> None:
    program = Program.from_pairs([("22:00", 50)])
    day = dt.date(2026, 2, 2)
    sunset = astral_sunset(day)
    assert level_at(program, sunset + dt.timedelta(minutes=1), AUDUN) == 50
    assert level_at(program, sunset - dt.timedelta(minutes=1), AUDUN) == 0


def test_next_change_tells_the_worker_when_to_send_the_next_command() -> None:
    program = Program.from_pairs([("sunset", 100), ("22:00", 50), ("sunrise", 0)])
    moment, level = next_change(program, local(2026, 1, 15, 21, 0), AUDUN) or (None, None)
    assert (moment, level) == (local(2026, 1, 15, 22, 0), 50)
    moment, level = next_change(program, local(2026, 1, 15, 22, 0), AUDUN) or (None, None)
    assert level == 0
    assert moment is not None and same_instant(moment, astral_sunrise(dt.date(2026, 1, 16)))


# ----------------------------------------------------------------------- commands and boosts


def test_an_override_wins_until_it_expires_then_the_program_resumes() -> None:
    now = local(2026, 1, 15, 23, 0)
    override = Override(level=100, expires_at=now + dt.timedelta(minutes=30))
    during = effective_command(now + dt.timedelta(minutes=29), 50, override=override)
    after = effective_command(now + dt.timedelta(minutes=30), 50, override=override)
    assert (during.level, during.reason, during.expires_at) == (
        100,
        Reason.OVERRIDE,
        override.expires_at,
    )
    assert (after.level, after.reason) == (50, Reason.PROGRAM)
    # An override beats a sensor boost too, even a brighter one.
    boost = Boost(level=100, expires_at=now + dt.timedelta(minutes=5))
    dimmed = Override(level=20, expires_at=None)
    assert effective_command(now, 50, override=dimmed, boost=boost).reason is Reason.OVERRIDE


def test_a_presence_boost_holds_then_falls_back_to_the_program() -> None:
    program = Program.from_pairs(
        [("sunset", 100), ("22:00", 20), ("sunrise", 0)], boost_level=80, hold_s=120
    )
    detected = local(2026, 1, 15, 23, 0)
    until = program.boost_until(detected)
    assert until == detected + dt.timedelta(seconds=120)
    assert level_at(program, detected + dt.timedelta(seconds=119), AUDUN, until) == 80
    assert level_at(program, detected + dt.timedelta(seconds=120), AUDUN, until) == 20
    # No boost in daylight.
    noon = local(2026, 1, 16, 12, 0)
    assert level_at(program, noon, AUDUN, program.boost_until(noon)) == 0
    # The worker's view: the boost gives the reason "sensor" while it holds.
    boost = Boost(level=80, expires_at=until)
    held = effective_command(detected + dt.timedelta(seconds=60), 20, boost=boost)
    over = effective_command(until, 20, boost=boost)
    assert (held.level, held.reason, held.expires_at) == (80, Reason.SENSOR, until)
    assert (over.level, over.reason) == (20, Reason.PROGRAM)
    # A boost below the program's level changes nothing.
    assert effective_command(detected, 100, boost=boost).reason is Reason.PROGRAM


def test_light_state_asks_for_a_command_only_when_the_target_changes() -> None:
    now = local(2026, 1, 15, 23, 0)
    state = LightState()
    first = state.decide(now, 50)
    assert state.needs_command(first)
    state = state.with_target(first)
    assert not state.needs_command(state.decide(now, 50))
    assert state.needs_command(state.decide(now, 50, override=Override(50)))
    assert not state.converged
    applied = LightState(target=first, in_effect=first, actual_level=50)
    assert applied.converged


# ----------------------------------------------------------------------- calendar


def _calendar() -> Calendar:
    programs = {
        "semaine": Program.from_pairs([("sunset", 100), ("22:00", 50), ("sunrise", 0)]),
        "week-end": Program.from_pairs([("sunset", 100), ("23:30", 50), ("sunrise", 0)]),
        "fetes": Program.from_pairs([("sunset", 100), ("sunrise", 0)]),
    }
    rules = (
        CalendarRule(program_id="week-end", weekdays=frozenset({4, 5})),
        CalendarRule(
            program_id="fetes",
            dates=DateRange(dt.date(2000, 12, 24), dt.date(2000, 1, 2), yearly=True),
            label="Fêtes de fin d'année",
        ),
    )
    return Calendar(default_program_id="semaine", programs=programs, rules=rules)


def test_the_calendar_picks_the_holiday_program() -> None:
    calendar = _calendar()
    assert program_for(dt.date(2026, 11, 18), calendar) is calendar.programs["semaine"]  # Wednesday
    assert program_for(dt.date(2026, 11, 21), calendar) is calendar.programs["week-end"]  # Saturday
    # 26 December 2026 is a Saturday: the dated holiday rule beats the weekday rule.
    assert program_for(dt.date(2026, 12, 26), calendar) is calendar.programs["fetes"]
    assert program_for(dt.date(2027, 1, 2), calendar) is calendar.programs["fetes"]
    assert program_for(dt.date(2027, 1, 5), calendar) is calendar.programs["semaine"]
    # 02:00 on 1 January belongs to the New Year's Eve night: full power, no dimming.
    assert level_at(calendar, local(2027, 1, 1, 2, 0), AUDUN) == 100
    assert level_at(calendar, local(2027, 1, 6, 2, 0), AUDUN) == 50


def test_an_explicit_priority_beats_a_more_specific_rule() -> None:
    base = _calendar()
    urgent = CalendarRule(program_id="semaine", weekdays=frozenset(range(7)), priority=5)
    calendar = Calendar("semaine", base.programs, (*base.rules, urgent))
    assert program_for(dt.date(2026, 12, 26), calendar) is calendar.programs["semaine"]


def test_a_calendar_round_trips_through_json_and_rejects_unknown_programs() -> None:
    calendar = _calendar()
    data = calendar.to_dict()
    assert data["rules"][1] == {
        "program": "fetes",
        "priority": 0,
        "start": "12-24",
        "end": "01-02",
        "yearly": True,
        "label": "Fêtes de fin d'année",
    }
    again = Calendar.from_dict(data, calendar.programs)
    assert again == calendar
    data["rules"][0]["program"] = "inconnu"
    with pytest.raises(CalendarError, match="programme inconnu « inconnu »") as caught:
        Calendar.from_dict(data, calendar.programs)
    assert caught.value.field == "rules[0].program"
    with pytest.raises(CalendarError, match="Date invalide"):
        Calendar.from_dict(
            {
                "default": "semaine",
                "rules": [{"program": "fetes", "start": "2026-13-01", "end": "2026-12-31"}],
            },
            calendar.programs,
        )


# ----------------------------------------------------------------------- serialisation


def test_a_program_round_trips_through_json() -> None:
    program = Program.from_pairs(
        [("dusk-5", 100), ("22:00", 50), ("06:00", 100), ("dawn+5", 0)],
        boost_level=80,
        hold_s=90,
        twilight_deg=6,
        name="Rue principale",
    )
    data = program.to_dict()
    assert data["steps"] == [
        {"at": "dusk-5", "level": 100},
        {"at": "22:00", "level": 50},
        {"at": "06:00", "level": 100},
        {"at": "dawn+5", "level": 0},
    ]
    assert Program.from_dict(data) == program


@pytest.mark.parametrize(
    ("data", "message", "field"),
    [
        ({"steps": [{"at": "22:00", "level": 120}]}, "entre 0 et 100", "steps[0].level"),
        ({"steps": [{"at": "22:00", "level": -1}]}, "entre 0 et 100", "steps[0].level"),
        ({"steps": [{"at": "25:00", "level": 50}]}, "Heure invalide « 25:00 »", "steps[0].at"),
        ({"steps": [{"at": "22h30", "level": 50}]}, "Début d'étape invalide", "steps[0].at"),
        (
            {"steps": [{"at": "sunsett+15", "level": 50}]},
            "Événement inconnu « sunsett »",
            "steps[0].at",
        ),
        ({"steps": [{"at": "sunset+500", "level": 50}]}, "décalage", "steps[0].at"),
        (
            {"steps": [{"at": "sunrise", "level": 0}, {"at": "sunset", "level": 100}]},
            "ordre de la nuit",
            "steps[1].at",
        ),
        (
            {"steps": [{"at": "23:00", "level": 50}, {"at": "22:00", "level": 20}]},
            "ordre de la nuit",
            "steps[1].at",
        ),
        ({"steps": [], "hold_s": 60}, "niveau de détection", "hold_s"),
        ({"steps": [], "boost_level": 80, "hold_s": 0}, "maintien", "hold_s"),
        ({"steps": [], "colour": "blue"}, "Champ inconnu", "colour"),
    ],
)
def test_an_invalid_program_gets_a_clear_french_error(
    data: dict[str, object], message: str, field: str
) -> None:
    with pytest.raises(ProgramError, match=message) as caught:
        Program.from_dict(data)
    assert caught.value.field == field


# ----------------------------------------------------------------------- energy


def _burning_hours(year: int, depression: float) -> tuple[float, float]:
    """Hours a year with the sun below ``depression``, and those between 22:00 and 06:00.

    Straight from astral, night by night, clipped to the calendar year.
    """
    year_start = dt.datetime(year, 1, 1, tzinfo=PARIS).astimezone(UTC)
    year_end = dt.datetime(year + 1, 1, 1, tzinfo=PARIS).astimezone(UTC)
    burning = late = 0.0
    day = dt.date(year - 1, 12, 31)
    while day <= dt.date(year, 12, 31):
        tomorrow = day + dt.timedelta(days=1)
        on = astral_sun.dusk(OBSERVER, day, depression=depression, tzinfo=PARIS).astimezone(UTC)
        off = astral_sun.dawn(OBSERVER, tomorrow, depression=depression, tzinfo=PARIS)
        on, off = max(on, year_start), min(off.astimezone(UTC), year_end)
        if off > on:
            burning += (off - on).total_seconds() / 3600
            window_on = dt.datetime.combine(day, dt.time(22), tzinfo=PARIS).astimezone(UTC)
            window_off = dt.datetime.combine(tomorrow, dt.time(6), tzinfo=PARIS).astimezone(UTC)
            lo, hi = max(on, window_on), min(off, window_off)
            if hi > lo:
                late += (hi - lo).total_seconds() / 3600
        day = tomorrow
    return burning, late


def test_a_year_of_led_70_w_dimmed_50_percent_matches_the_reference_formula() -> None:
    burning, late = _burning_hours(2026, depression=3.0)
    # E = Σ P × level × Δt: full power outside 22:00–06:00, half power inside.
    expected = (70 * 1.0 * (burning - late) + 70 * 0.5 * late) / 1000
    actual = yearly_energy_kwh(
        BASELINES["led_70_dimmed_50"].program, 70, AUDUN, 2026, driver_floor=0.0, standby_w=0.0
    )
    assert actual == pytest.approx(expected, abs=0.01)
    # And it lands on REFERENCE's ~187 kWh (±2 %).
    assert actual == pytest.approx(187, rel=0.02)
    assert BASELINES["led_70_dimmed_50"].yearly_kwh(AUDUN, 2026) == pytest.approx(
        expected, abs=0.01
    )


def test_the_driver_floor_and_standby_add_up_as_documented() -> None:
    burning, late = _burning_hours(2026, depression=3.0)
    hours_in_year = 365 * 24
    expected = (
        70 * (burning - late) + 70 * (0.10 + 0.90 * 0.5) * late + 0.7 * (hours_in_year - burning)
    ) / 1000
    actual = yearly_energy_kwh(BASELINES["led_70_dimmed_50"].program, 70, AUDUN, 2026)
    assert actual == pytest.approx(expected, abs=0.01)
    assert power_w(70, 50) == pytest.approx(38.5)
    assert power_w(70, 100) == pytest.approx(70)
    assert power_w(70, 0) == pytest.approx(0.7)


def test_hps_all_night_is_about_699_kwh_a_year() -> None:
    burning, _ = _burning_hours(2026, depression=3.0)
    hps = BASELINES["hps_150_all_night"].yearly_kwh(AUDUN, 2026)
    assert hps == pytest.approx(0.170 * burning, abs=0.01)
    # REFERENCE: ≈ 699 kWh for ~4,100 burning hours; tolerance ±1 %.
    assert hps == pytest.approx(699, rel=0.01)
    assert BASELINES["led_70_all_night"].yearly_kwh(AUDUN, 2026) == pytest.approx(288, rel=0.01)


def test_savings_of_dimmed_led_against_hps_are_about_73_percent() -> None:
    hps = BASELINES["hps_150_all_night"].yearly_kwh(AUDUN, 2026)
    led = BASELINES["led_70_dimmed_50"].yearly_kwh(AUDUN, 2026)
    assert savings(led, hps) == pytest.approx(0.73, abs=0.01)
    assert savings(hps, hps) == 0.0
    with pytest.raises(ValueError):
        savings(100, 0)
    for baseline in BASELINES.values():
        assert baseline.label and "kWh" in baseline.description


def test_energy_kwh_integrates_samples_with_trapezoid_and_step_rules() -> None:
    start = local(2026, 1, 15, 20, 0)
    samples = [(start, 0.0), (start + dt.timedelta(hours=1), 100.0)]
    assert energy_kwh(samples) == pytest.approx(0.05)
    assert energy_kwh(samples, method="step") == pytest.approx(0.0)
    assert energy_kwh(list(reversed(samples))) == pytest.approx(0.05)
    gap = [(start, 100.0), (start + dt.timedelta(hours=5), 100.0)]
    assert energy_kwh(gap, max_gap_s=3600) == 0.0
    # 00:00 to 04:00 local on the spring-change night is three real hours.
    spring = [(local(2026, 3, 29, 0), 1000.0), (local(2026, 3, 29, 4), 1000.0)]
    assert energy_kwh(spring, method="step") == pytest.approx(3.0)


def test_a_year_is_simulated_with_each_night_computed_once() -> None:
    """What keeps a year cheap: one night and a few sun events per day, then the caches.
    (Its speed is measured by the benchmarks, not here.)"""
    lighting_nights._night.cache_clear()
    lighting_nights._sun_utc.cache_clear()
    program = BASELINES["led_70_dimmed_50"].program
    first = yearly_energy_kwh(program, 70, AUDUN, 2031)
    nights = lighting_nights._night.cache_info().misses
    sun_events = lighting_nights._sun_utc.cache_info().misses
    assert 365 <= nights <= 367
    assert sun_events <= 4 * 367
    again = yearly_energy_kwh(program, 70, AUDUN, 2031)
    assert again == first
    assert lighting_nights._night.cache_info().misses == nights
    assert lighting_nights._sun_utc.cache_info().misses == sun_events
