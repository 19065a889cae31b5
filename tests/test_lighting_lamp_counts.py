"""What the energy page reads instead of the fleet stays equal to a recount after every kind of write,
whatever writes it (the ORM, SQL, a bulk insert):

- the lights counted per territory, program, calendar, wattage and technology (light_lamp_counts),
  through changes of the lights and of their groups' programs and calendars;
- the measured energy per territory and month (light_territory_energy), through the telemetry's
  additions to each group's month and a group moved to another territory."""

from __future__ import annotations

from sqlalchemy import literal_column, text
from sqlmodel import Session, col, func, select

from app.db import upsert, write_session
from app.lighting import energy
from app.models.lighting import (
    LightCalendar,
    LightEnergyMonth,
    LightGroup,
    LightLampCount,
    LightProgram,
    LightTerritoryEnergy,
    Streetlight,
)
from tests.lighting_helpers import seed_lights
from tests.test_territory_reports import add_minett

Key = tuple[int, int, int, float, str]


def _kept(engine) -> dict[Key, int]:
    with Session(engine) as session:
        return {
            (r.territory_id, r.program_id, r.calendar_id, float(r.nominal_w), r.technology): r.lamps
            for r in session.scalars(select(LightLampCount))
            if r.lamps
        }


def _recount(engine) -> dict[Key, int]:
    program = func.coalesce(col(LightGroup.program_id), literal_column("0"))
    calendar = func.coalesce(col(LightGroup.calendar_id), literal_column("0"))
    key = (
        col(Streetlight.territory_id),
        program,
        calendar,
        col(Streetlight.nominal_w),
        col(Streetlight.technology),
    )
    with Session(engine) as session:
        rows = session.execute(
            select(*key, func.count())
            .outerjoin(LightGroup, col(LightGroup.id) == col(Streetlight.group_id))
            .group_by(*key)
        ).all()
        return {(t, p, c, float(w), tech): n for t, p, c, w, tech, n in rows}


def _program(engine, name: str) -> int:
    with write_session(engine) as session:
        row = LightProgram(name=name, definition="{}")
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def test_the_counts_follow_every_insert_change_and_delete_of_a_light(engine):
    night = _program(engine, "Nuit")
    ids = seed_lights(engine, 6, program_id=night)
    seed_lights(engine, 3, group="G2", prefix="SL-U-")
    assert (
        _kept(engine)
        == _recount(engine)
        == {(1, night, 0, 70.0, "LED"): 6, (1, 0, 0, 70.0, "LED"): 3}
    )
    with write_session(engine) as session:
        first, second, third, fourth = (session.get(Streetlight, i) for i in ids[:4])
        first.nominal_w = 35.0  # a new lamp
        second.group_id = "G2"  # moved to a group without a program
        third.group_id = None  # out of any group
        fourth.technology = "HPS"
    assert _kept(engine) == _recount(engine)
    with write_session(engine) as session:
        # SQL, as an import or a migration writes: counted all the same.
        session.execute(text("UPDATE streetlights SET nominal_w = 50 WHERE group_id = 'G2'"))
        session.execute(text("DELETE FROM streetlights WHERE id = :id"), {"id": ids[5]})
    kept = _kept(engine)
    assert kept == _recount(engine)
    assert kept == {
        (1, night, 0, 70.0, "LED"): 1,
        (1, night, 0, 35.0, "LED"): 1,
        (1, night, 0, 70.0, "HPS"): 1,
        (1, 0, 0, 50.0, "LED"): 4,
        (1, 0, 0, 70.0, "LED"): 1,
    }


def test_a_group_given_another_program_or_calendar_moves_its_lamps(engine):
    night, evening = _program(engine, "Nuit"), _program(engine, "Soirée")
    seed_lights(engine, 4, program_id=night)
    seed_lights(engine, 2, group="G2", prefix="SL-U-", program_id=night)
    with write_session(engine) as session:
        calendar = LightCalendar(name="Fêtes", definition="{}")
        session.add(calendar)
        session.flush()
        group = session.get(LightGroup, "G1")
        group.program_id = evening  # the ORM
    assert _kept(engine) == _recount(engine)
    assert _kept(engine) == {(1, evening, 0, 70.0, "LED"): 4, (1, night, 0, 70.0, "LED"): 2}
    with write_session(engine) as session:  # SQL: a calendar, then no program at all
        session.execute(
            text("UPDATE light_groups SET calendar_id = :c WHERE id = 'G2'"), {"c": calendar.id}
        )
        session.execute(text("UPDATE light_groups SET program_id = NULL WHERE id = 'G1'"))
        session.execute(text("UPDATE light_groups SET name = 'Renommé' WHERE id = 'G1'"))
    assert _kept(engine) == _recount(engine)
    assert _kept(engine) == {(1, 0, 0, 70.0, "LED"): 4, (1, night, calendar.id, 70.0, "LED"): 2}


def test_lights_of_another_territory_are_counted_apart(engine):
    minett = add_minett(engine)
    ids = seed_lights(engine, 3)
    with write_session(engine) as session:
        session.execute(
            text("UPDATE streetlights SET territory_id = :t WHERE id = :id"),
            {"t": minett, "id": ids[0]},
        )
    assert _kept(engine) == _recount(engine)
    with Session(engine) as session:
        assert energy.lamps_by_technology(session, 1) == {"LED": 2}
        assert energy.lamps_by_technology(session, minett) == {"LED": 1}


def test_telemetry_writes_leave_the_counts_alone_and_the_energy_page_reads_them(engine):
    seed_lights(engine, 4)
    before = _kept(engine)
    with write_session(engine) as session:  # what the relay writes for every reading
        session.execute(text("UPDATE streetlights SET actual_level = 40, power_w = 28.0"))
    assert _kept(engine) == before
    with Session(engine) as session:
        program = session.get(LightGroup, "G1").program_id
        assert energy.lamps_by_source(session) == [(program, None, 70.0, 4)]
        assert energy.lamps_by_source(session, territory_id=1) == [(program, None, 70.0, 4)]
        assert energy.lamps_by_source(session, territory_id=2) == []


def _energy_kept(engine) -> dict[tuple[int, str], float]:
    with Session(engine) as session:
        return {
            (r.territory_id, r.month): round(r.energy_wh, 6)
            for r in session.scalars(select(LightTerritoryEnergy))
            if round(r.energy_wh, 6)
        }


def _energy_recount(engine) -> dict[tuple[int, str], float]:
    with Session(engine) as session:
        rows = session.execute(
            select(
                col(LightGroup.territory_id),
                col(LightEnergyMonth.month),
                func.sum(col(LightEnergyMonth.energy_wh)),
            )
            .join(LightGroup, col(LightGroup.id) == col(LightEnergyMonth.group_id))
            .group_by(col(LightGroup.territory_id), col(LightEnergyMonth.month))
        ).all()
        return {(t, m): round(wh, 6) for t, m, wh in rows if round(wh, 6)}


def _add(engine, rows: list[tuple[str, str, float]]) -> None:
    """What the telemetry writes: each group's month added to (app.lighting.telemetry)."""
    with write_session(engine) as session:
        upsert(
            session,
            LightEnergyMonth,
            ["month", "group_id"],
            [{"month": m, "group_id": g, "energy_wh": wh} for m, g, wh in rows],
            add=["energy_wh"],
        )


def test_the_measured_energy_per_territory_follows_the_groups_months(engine):
    minett = add_minett(engine)
    seed_lights(engine, 2)
    seed_lights(engine, 2, group="G2", prefix="SL-U-")
    with write_session(engine) as session:
        session.execute(
            text("UPDATE light_groups SET territory_id = :t WHERE id = 'G2'"), {"t": minett}
        )
    _add(engine, [("2026-11", "G1", 1000.0), ("2026-11", "G2", 500.0), ("2026-11", "", 70.0)])
    _add(engine, [("2026-11", "G1", 250.5), ("2026-12", "G1", 40.0), ("2026-12", "G2", 10.0)])
    assert (
        _energy_kept(engine)
        == _energy_recount(engine)
        == {
            (1, "2026-11"): 1250.5,
            (1, "2026-12"): 40.0,
            (minett, "2026-11"): 500.0,
            (minett, "2026-12"): 10.0,
        }
    )
    with Session(engine) as session:
        assert energy.monthly_energy_kwh(session, ["2026-11"], territory_id=1) == {
            "2026-11": 1.2505
        }
        assert energy.monthly_energy_kwh(session, ["2026-12"], territory_id=minett) == {
            "2026-12": 0.01
        }
    with write_session(engine) as session:  # a group handed to the other territory, then a purge
        session.execute(
            text("UPDATE light_groups SET territory_id = :t WHERE id = 'G1'"), {"t": minett}
        )
        session.execute(
            text("DELETE FROM light_energy_months WHERE month = '2026-11' AND group_id = 'G2'")
        )
        session.execute(
            text(
                "UPDATE light_energy_months SET energy_wh = 5 WHERE month = '2026-12' AND group_id = 'G2'"
            )
        )
    assert (
        _energy_kept(engine)
        == _energy_recount(engine)
        == {
            (minett, "2026-11"): 1250.5,
            (minett, "2026-12"): 45.0,
        }
    )
