"""Energy: a year of a known profile against REFERENCE.md's formula, the baselines, and the staff energy page
(consumption per month from telemetry, savings against the stated baselines)."""

from __future__ import annotations

import datetime as dt
import json

from astral import Observer
from astral import sun as astral_sun
from sqlmodel import select

from app.db import read_session, utcnow, write_session
from app.lighting import consumption, control
from app.lighting import energy as lighting_energy
from app.lighting import programs as lighting
from app.lighting.relay import Inbound, ingest
from app.models.lighting import LightGroup, LightHourly, LightProgram, Streetlight
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
    year = (
        dt.datetime(YEAR, 1, 1, tzinfo=tz).astimezone(UTC),
        dt.datetime(YEAR + 1, 1, 1, tzinfo=tz).astimezone(UTC),
    )
    full_hours = dimmed_hours = 0.0
    day = dt.date(YEAR - 1, 12, 31)
    while day <= dt.date(YEAR, 12, 31):
        dusk = astral_sun.dusk(observer, day, depression=3.0, tzinfo=UTC)
        dawn = astral_sun.dawn(observer, day + dt.timedelta(days=1), depression=3.0, tzinfo=UTC)
        dark = (max(dusk, year[0]), min(dawn, year[1]))
        window = (
            dt.datetime.combine(day, dt.time(22), tzinfo=tz).astimezone(UTC),
            dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6), tzinfo=tz).astimezone(UTC),
        )
        hours = _overlap(dark, (year[0], year[1]))
        half = _overlap(dark, window)
        full_hours += hours - half
        dimmed_hours += half
        day += dt.timedelta(days=1)
    expected_kwh = 70 * (1.0 * full_hours + 0.5 * dimmed_hours) / 1000

    program = lighting.Program.from_pairs(
        [("dusk", 100), ("22:00", 50), ("06:00", 100), ("dawn", 0)]
    )
    computed = consumption.yearly_energy_kwh(
        program, 70.0, position, YEAR, driver_floor=0.0, standby_w=0.0
    )
    assert abs(computed - expected_kwh) / expected_kwh < 0.002, (computed, expected_kwh)
    assert 3900 < full_hours + dimmed_hours < 4300  # Lorraine: ~4,100 burning hours (sun −3°)
    assert 170 < computed < 200  # REFERENCE: ≈ 187 kWh


def test_the_baselines_recompute_the_published_figures(engine):
    with read_session(engine) as session:
        position = control.territory_position(session)
    for key, published in (
        ("hps_150_all_night", 699),
        ("led_70_all_night", 288),
        ("led_70_dimmed_50", 187),
    ):
        kwh = consumption.BASELINES[key].yearly_kwh(position, YEAR)
        assert abs(kwh - published) / published < 0.05, (key, kwh)


def test_the_energy_page_compares_measured_consumption_with_both_baselines(engine, staff):
    seed_lights(engine, 10)  # LED 70 W, no program
    now = utcnow()
    with read_session(engine) as session:
        position = control.territory_position(session)
    local = now.astimezone(position.tz)
    day = local.date().replace(day=1)
    first = dt.datetime.combine(day, dt.time(12), tzinfo=position.tz)  # noon on the 1st, local time
    ingest(
        engine,
        [
            Inbound(
                "tele_light",
                f"SL-T-{i:04d}",
                {
                    "ts": (first + dt.timedelta(minutes=m)).isoformat(),
                    "level": 100,
                    "power_w": 70.0,
                    "energy_wh": 1000.0 + 300.0 * (m > 0),
                },
                first + dt.timedelta(minutes=m),
            )
            for i in range(1, 11)
            for m in (0, 300)  # 300 Wh in five hours: what a 70 W lamp can draw
        ],
        now=first,
    )
    with read_session(engine) as session:
        rows = lighting_energy.energy_report(session, now, months=2)
    current = rows[-1]
    start = dt.datetime(local.year, local.month, 1, tzinfo=position.tz)
    hps = consumption.BASELINES["hps_150_all_night"]
    assert current.month == local.strftime("%Y-%m") and current.measured_kwh == 3.0
    assert (
        abs(
            current.baselines["hps_150_all_night"]
            - 10
            * consumption.energy_between_kwh(
                hps.program, 170.0, position, start, now, driver_floor=0.0, standby_w=0.0
            )
        )
        < 1e-6
    )
    assert (
        abs(
            current.baselines["led_full"]
            - consumption.energy_between_kwh(
                hps.program, 700.0, position, start, now, driver_floor=0.0, standby_w=0.0
            )
        )
        < 1e-6
    )
    page = staff.client.get("/staff/lighting/energy")
    assert page.status_code == 200
    assert "Sodium haute pression 150 W" in page.text and "LED à pleine puissance" in page.text
    assert "699 kWh" in page.text  # the published reference is stated next to the recomputed one


def test_energy_figures_are_kept_per_group_and_month_and_follow_a_program_change(engine, staff):
    seed_lights(engine, 4)  # group G1, LED 70 W, no program: all night
    now = utcnow()
    with read_session(engine) as session:
        position = control.territory_position(session)
    moment = now - dt.timedelta(hours=4)
    ingest(
        engine,
        [
            Inbound(
                "tele_light",
                f"SL-T-{i:04d}",
                {
                    "ts": (moment + dt.timedelta(minutes=m)).isoformat(),
                    "level": 100,
                    "power_w": 70.0,
                    "energy_wh": 500.0 + 250.0 * (m > 0),  # 250 Wh in three hours at 70 W
                },
                moment + dt.timedelta(minutes=m),
            )
            for i in range(1, 5)
            for m in (0, 180)
        ],
        now=moment,
    )
    moment += dt.timedelta(minutes=180)  # the energy counts in the month of the second reading
    with write_session(
        engine
    ) as session:  # the roll-up and retention may drop the history: the figure stays
        session.execute(LightHourly.__table__.delete())
    with read_session(engine) as session:
        before = lighting_energy.energy_report(session, now, months=1)[-1]
    month = moment.astimezone(position.tz).strftime("%Y-%m")
    assert before.month == month and abs(before.measured_kwh - 1.0) < 1e-9  # 4 lamps × 250 Wh

    with write_session(engine) as session:
        program = LightProgram(
            name="Extinction 23 h",
            definition=json.dumps(
                lighting.Program.from_pairs([("dusk", 100), ("23:00", 0)]).to_dict()
            ),
        )
        session.add(program)
        session.flush()
        session.get(LightGroup, "G1").program_id = program.id
    with read_session(engine) as session:
        after = lighting_energy.energy_report(session, now, months=1)[-1]
    assert after.programmed_kwh < before.programmed_kwh  # off at 23:00 instead of all night
    assert after.measured_kwh == before.measured_kwh
    assert after.baselines == before.baselines


def test_the_modelled_energy_counts_the_lamps_in_sql_as_a_light_by_light_sum_does(engine):
    """The fleet's lamps are counted per (program, calendar, wattage) by the database; the modelled
    energy equals the sum, light by light, of each lamp's own program at its own wattage."""
    with write_session(engine) as session:
        ids = []
        for n, pairs in enumerate(
            ([("dusk", 100), ("23:00", 0)], [("dusk", 80), ("01:00", 40), ("dawn", 0)])
        ):
            program = LightProgram(
                name=f"Programme {n}",
                definition=json.dumps(lighting.Program.from_pairs(pairs).to_dict()),
            )
            session.add(program)
            session.flush()
            ids.append(program.id)
    for g in range(7):  # groups on each program, one on none (all night)
        seed_lights(
            engine, 2 + g, group=f"G{g}", prefix=f"SL-{g}-", program_id=(ids + [None])[g % 3]
        )
    with write_session(engine) as session:
        for n, light in enumerate(session.scalars(select(Streetlight)).all()):
            light.nominal_w = (40.0, 70.0, 100.0)[n % 3]
            light.group_id = None if n % 11 == 0 else light.group_id  # some outside any group
    now = utcnow()
    with read_session(engine) as session:
        position = control.territory_position(session)
        rows = lighting_energy.energy_report(session, now, months=2)
        lights = session.scalars(select(Streetlight)).all()
        all_night = consumption.BASELINES["led_70_all_night"].program
        counted: dict[tuple[int | None, float], int] = {}
        expected = [0.0 for _ in rows]
        for light in lights:
            group = session.get(LightGroup, light.group_id) if light.group_id else None
            program_id = group.program_id if group else None
            counted[(program_id, light.nominal_w)] = (
                counted.get((program_id, light.nominal_w), 0) + 1
            )
            source = (control.group_source(session, group) if group else None) or all_night
            for i, row in enumerate(rows):
                expected[i] += consumption.energy_between_kwh(
                    source, light.nominal_w, position, row.start, row.end
                )
        assert {(p, w): n for p, _c, w, n in lighting_energy.lamps_by_source(session)} == counted
    assert len(lights) == sum(2 + g for g in range(7))
    for row, value in zip(rows, expected, strict=True):
        assert abs(row.programmed_kwh - value) < 1e-6 * max(1.0, value), row.month


def test_the_baselines_yearly_figures_are_computed_once_per_year_then_read(engine):
    now = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
    with read_session(engine) as session:
        position = control.territory_position(session)
        first = lighting_energy.yearly_baselines_kwh(session, now, 2025, position)
    expected = {k: b.yearly_kwh(position, 2025) for k, b in consumption.BASELINES.items()}
    assert first == expected
    with read_session(engine) as session:
        stored = {
            row.source_key.split(":")[1]: row.kwh
            for row in session.scalars(
                select(lighting_energy.LightEnergyModel).where(
                    lighting_energy.LightEnergyModel.month == "2025"
                )
            )
        }
    assert stored == expected
    with write_session(engine) as session:  # a figure changed in the cache is the one read back
        for row in session.scalars(
            select(lighting_energy.LightEnergyModel).where(
                lighting_energy.LightEnergyModel.month == "2025"
            )
        ):
            row.kwh = 1.0
    with read_session(engine) as session:
        position = control.territory_position(session)
        again = lighting_energy.yearly_baselines_kwh(session, now, 2025, position)
    assert set(again.values()) == {1.0}
