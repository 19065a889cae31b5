"""Energy: a year of a known profile against REFERENCE.md's formula, the baselines, and the staff energy page
(consumption per month from telemetry, savings against the stated baselines)."""

from __future__ import annotations

import datetime as dt

from astral import Observer
from astral import sun as astral_sun
from sqlalchemy import select

from app import lighting
from app import lighting_control as control
from app.db import read_session, utcnow, write_session
from app.models.lighting import LightDaily
from tests.lighting_helpers import seed_lights

UTC = dt.UTC
YEAR = 2025


def _overlap(a: tuple[dt.datetime, dt.datetime], b: tuple[dt.datetime, dt.datetime]) -> float:
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return max(0.0, (end - start).total_seconds() / 3600)


def test_a_year_of_a_dimmed_profile_matches_the_reference_formula(engine):
    """E = Σ P_nominal × level × Δt: 70 W, 100 % from dusk, 50 % from 22:00 to 06:00, off at dawn (sun −3°)."""
    with read_session(engine) as session:
        position = control.territory_position(session)
    tz = position.tz
    observer = Observer(latitude=position.latitude, longitude=position.longitude)
    year = (dt.datetime(YEAR, 1, 1, tzinfo=tz).astimezone(UTC), dt.datetime(YEAR + 1, 1, 1, tzinfo=tz).astimezone(UTC))
    full_hours = dimmed_hours = 0.0
    day = dt.date(YEAR - 1, 12, 31)
    while day <= dt.date(YEAR, 12, 31):
        dusk = astral_sun.dusk(observer, day, depression=3.0, tzinfo=UTC)
        dawn = astral_sun.dawn(observer, day + dt.timedelta(days=1), depression=3.0, tzinfo=UTC)
        dark = (max(dusk, year[0]), min(dawn, year[1]))
        window = (dt.datetime.combine(day, dt.time(22), tzinfo=tz).astimezone(UTC),
                  dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6), tzinfo=tz).astimezone(UTC))
        hours = _overlap(dark, (year[0], year[1]))
        half = _overlap(dark, window)
        full_hours += hours - half
        dimmed_hours += half
        day += dt.timedelta(days=1)
    expected_kwh = 70 * (1.0 * full_hours + 0.5 * dimmed_hours) / 1000

    program = lighting.Program.from_pairs([("dusk", 100), ("22:00", 50), ("06:00", 100), ("dawn", 0)])
    computed = lighting.yearly_energy_kwh(program, 70.0, position, YEAR, driver_floor=0.0, standby_w=0.0)
    assert abs(computed - expected_kwh) / expected_kwh < 0.002, (computed, expected_kwh)
    assert 3900 < full_hours + dimmed_hours < 4300  # Lorraine: ~4,100 burning hours (sun −3°)
    assert 170 < computed < 200  # REFERENCE: ≈ 187 kWh


def test_the_baselines_recompute_the_published_figures(engine):
    with read_session(engine) as session:
        position = control.territory_position(session)
    for key, published in (("hps_150_all_night", 699), ("led_70_all_night", 288), ("led_70_dimmed_50", 187)):
        kwh = lighting.BASELINES[key].yearly_kwh(position, YEAR)
        assert abs(kwh - published) / published < 0.05, (key, kwh)


def test_the_energy_page_compares_measured_consumption_with_both_baselines(engine, staff):
    seed_lights(engine, 10)  # LED 70 W, no program
    now = utcnow()
    with read_session(engine) as session:
        position = control.territory_position(session)
    local = now.astimezone(position.tz)
    day = local.date().replace(day=1)
    with write_session(engine) as session:
        session.execute(LightDaily.__table__.insert(), [
            {"light_id": f"SL-T-{i:04d}", "day": day, "samples": 10, "level_sum": 0.0, "power_sum_w": 0.0,
             "energy_wh": 300.0} for i in range(1, 11)])
    with read_session(engine) as session:
        rows = control.energy_report(session, now, months=2)
    current = rows[-1]
    start = dt.datetime(local.year, local.month, 1, tzinfo=position.tz)
    hps = lighting.BASELINES["hps_150_all_night"]
    assert current.month == local.strftime("%Y-%m") and current.measured_kwh == 3.0
    assert abs(current.baselines["hps_150_all_night"] - 10 * lighting.energy_between_kwh(
        hps.program, 170.0, position, start, now, driver_floor=0.0, standby_w=0.0)) < 1e-6
    assert abs(current.baselines["led_full"] - lighting.energy_between_kwh(
        hps.program, 700.0, position, start, now, driver_floor=0.0, standby_w=0.0)) < 1e-6
    page = staff.client.get("/staff/lighting/energy")
    assert page.status_code == 200
    assert "Sodium haute pression 150 W" in page.text and "LED à pleine puissance" in page.text
    assert "699 kWh" in page.text  # the published reference is stated next to the recomputed one
    with read_session(engine) as session:
        assert len(session.scalars(select(LightDaily)).all()) == 10
