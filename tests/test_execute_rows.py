"""``app.db.execute_rows`` (the light readings, ``light_hourly`` and the lights' state of an ingestion
batch, compiled once and handed to the driver as tuples) stores exactly what SQLAlchemy's own
executemany of the same statements stores: same values, same text of times on SQLite."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, func

from app.db import execute_rows, read_session, table_of, upsert, write_session
from app.lighting.telemetry import (
    HOURLY_COLUMNS,
    RAW_COLUMNS,
    STATE_COLUMNS,
    _hourly_upsert,
    _state_update,
)
from app.models.lighting import LightHourly, LightReading, Streetlight
from tests.lighting_helpers import seed_lights

T0 = dt.datetime(2026, 11, 20, 18, 10, 7, 123456, tzinfo=dt.UTC)
PARIS = dt.timezone(dt.timedelta(hours=1))


def _raw(engine: Any, sql: str) -> list[tuple[Any, ...]]:
    with read_session(engine) as session:
        return [tuple(row) for row in session.connection().exec_driver_sql(sql).all()]


def _readings(light: str) -> list[tuple[Any, ...]]:
    return [
        (light, T0, 60, 21.5, 120.25, "ok"),
        (light, T0.astimezone(PARIS) + dt.timedelta(minutes=15), None, None, None, "lamp_fault"),
        (light, T0 + dt.timedelta(hours=1, microseconds=1), 0, 0.0, 121.0, "ok"),
        (light, T0 + dt.timedelta(hours=1, minutes=5), 100, 40.0, 0.5, "x" * 20),
    ]


def test_light_readings_are_stored_as_sqlalchemy_stores_them(engine):
    old, new = seed_lights(engine, 2)
    with write_session(engine) as session:
        session.connection().execute(
            table_of(LightReading).insert(),
            [dict(zip(RAW_COLUMNS, row, strict=True)) for row in _readings(old)],
        )
        execute_rows(
            session, "test.readings", table_of(LightReading).insert, RAW_COLUMNS, _readings(new)
        )
    sql = "SELECT ts, level, power_w, energy_wh, status FROM light_readings WHERE light_id = '{}' ORDER BY id"
    stored = _raw(engine, sql.format(old))
    assert len(stored) == 4
    assert _raw(engine, sql.format(new)) == stored


def test_light_hours_are_added_as_sqlalchemy_adds_them(engine):
    old, new = seed_lights(engine, 2)
    hour = T0.replace(minute=0, second=0, microsecond=0)
    rounds = [
        [(hour, 3, 180.0, 63.5, 2.25), (hour + dt.timedelta(hours=1), 1, 0.0, 0.0, 0.0)],
        [(hour, 2, 120.0, 40.0, 1.5), (hour + dt.timedelta(hours=2), 1, 100.0, 40.0, 0.75)],
    ]
    for cells in rounds:  # the second round adds to the first one's rows
        with write_session(engine) as session:
            upsert(
                session,
                LightHourly,
                ["light_id", "hour"],
                [dict(zip(HOURLY_COLUMNS, (old, *cell), strict=True)) for cell in cells],
                add=list(HOURLY_COLUMNS[2:]),
            )
            execute_rows(
                session,
                "test.hourly",
                lambda session=session: _hourly_upsert(session),
                HOURLY_COLUMNS,
                [(new, *cell) for cell in cells],
            )
    sql = (
        "SELECT hour, samples, level_sum, power_sum_w, energy_wh FROM light_hourly"
        " WHERE light_id = '{}' ORDER BY hour"
    )
    stored = _raw(engine, sql.format(old))
    assert [row[1] for row in stored] == [5, 1, 1]
    assert _raw(engine, sql.format(new)) == stored


def test_light_state_is_updated_as_sqlalchemy_updates_it(engine):
    lights = seed_lights(engine, 4)
    states = [
        (60, 21.5, 120.25, "ok", T0, T0, None),
        (0, 0.0, None, "lamp_fault", T0.astimezone(PARIS), None, T0 + dt.timedelta(seconds=1)),
    ]
    table = table_of(Streetlight)
    sqlalchemy_update = (
        table.update()
        .where(table.c.id == bindparam("b_id"))
        .values(
            actual_level=bindparam("b_level"),
            power_w=bindparam("b_power"),
            energy_wh=bindparam("b_energy"),
            status=bindparam("b_status"),
            last_seen_at=bindparam("b_seen"),
            offline=False,
            last_switch_on_at=func.coalesce(bindparam("b_on"), table.c.last_switch_on_at),
            last_switch_off_at=func.coalesce(bindparam("b_off"), table.c.last_switch_off_at),
        )
    )
    with write_session(engine) as session:
        session.connection().execute(table.update().values(offline=True))
        session.connection().execute(
            sqlalchemy_update,
            [
                dict(zip(STATE_COLUMNS, (light, *state), strict=True))
                for light, state in zip(lights[:2], states, strict=True)
            ],
        )
        execute_rows(
            session,
            "test.state",
            _state_update,
            STATE_COLUMNS,
            [(light, *state) for light, state in zip(lights[2:], states, strict=True)],
        )
    sql = (
        "SELECT actual_level, power_w, energy_wh, status, last_seen_at, offline,"
        " last_switch_on_at, last_switch_off_at FROM streetlights WHERE id = '{}'"
    )
    for old, new in zip(lights[:2], lights[2:], strict=True):
        stored = _raw(engine, sql.format(old))
        assert stored[0][5] in (False, 0)
        assert _raw(engine, sql.format(new)) == stored
