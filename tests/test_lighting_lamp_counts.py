"""The lights counted per territory, group and wattage (light_lamp_counts) stay equal to a recount
of the fleet after every kind of write, whatever writes it (the ORM, SQL, a bulk insert), and the
energy page's lamps come from them."""

from __future__ import annotations

from sqlalchemy import literal_column, text
from sqlmodel import Session, col, func, select

from app.db import write_session
from app.lighting import energy
from app.models.lighting import LightGroup, LightLampCount, Streetlight
from tests.lighting_helpers import seed_lights


def _kept(engine) -> dict[tuple[int, str, float], int]:
    with Session(engine) as session:
        return {
            (row.territory_id, row.group_id, float(row.nominal_w)): row.lamps
            for row in session.scalars(select(LightLampCount))
            if row.lamps
        }


def _recount(engine) -> dict[tuple[int, str, float], int]:
    group = func.coalesce(col(Streetlight.group_id), literal_column("''"))
    with Session(engine) as session:
        rows = session.execute(
            select(
                col(Streetlight.territory_id), group, col(Streetlight.nominal_w), func.count()
            ).group_by(col(Streetlight.territory_id), group, col(Streetlight.nominal_w))
        ).all()
        return {(t, g, float(w)): n for t, g, w, n in rows}


def test_the_counts_follow_every_insert_change_and_delete_of_a_light(engine):
    ids = seed_lights(engine, 6)
    seed_lights(engine, 3, group="G2", prefix="SL-U-")
    assert _kept(engine) == _recount(engine) == {(1, "G1", 70.0): 6, (1, "G2", 70.0): 3}
    with write_session(engine) as session:
        first, second, third = (session.get(Streetlight, i) for i in ids[:3])
        first.nominal_w = 35.0  # a new lamp
        second.group_id = "G2"  # moved to another group
        third.group_id = None  # out of any group
    assert _kept(engine) == _recount(engine)
    with write_session(engine) as session:
        # SQL, as an import or a migration writes: counted all the same.
        session.execute(text("UPDATE streetlights SET nominal_w = 50 WHERE group_id = 'G2'"))
        session.execute(text("DELETE FROM streetlights WHERE id = :id"), {"id": ids[5]})
    kept = _kept(engine)
    assert kept == _recount(engine)
    assert kept == {(1, "G1", 70.0): 2, (1, "G1", 35.0): 1, (1, "G2", 50.0): 4, (1, "", 70.0): 1}


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
