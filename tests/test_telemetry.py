"""Telemetry ingestion into the time series: readings, hourly and daily history, the lights' actual state,
faults and offline alarms, sensor measures; answers that move commands through their states."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from app.lighting import control
from app.db import read_session, utcnow, write_session
from app.lighting.relay import Inbound, ingest
from app.models.lighting import (
    LightAlarm,
    LightCommand,
    LightDaily,
    LightHourly,
    LightReading,
    Streetlight,
)
from app.models.sensors import Sensor, SensorHourly, SensorMeasure
from tests.lighting_helpers import seed_lights

T0 = dt.datetime(2026, 11, 20, 18, 10, tzinfo=dt.UTC)


def tele(
    device: str, at: dt.datetime, level: int, energy: float, status: str = "ok", power: float = 40.0
) -> Inbound:
    payload = {
        "ts": at.isoformat().replace("+00:00", "Z"),
        "level": level,
        "power_w": power,
        "energy_wh": energy,
        "status": status,
    }
    return Inbound("tele_light", device, payload, at)


def test_readings_update_the_actual_state_and_the_hourly_history(engine):
    light = seed_lights(engine, 1)[0]
    batch = [
        tele(light, T0 + dt.timedelta(minutes=m), level, energy)
        for m, level, energy in (
            (0, 100, 1000.0),
            (20, 100, 1023.0),
            (40, 50, 1046.0),
            (60, 50, 1060.0),
        )
    ]
    stats = ingest(engine, batch, now=T0)
    assert stats.light_readings == 4 and stats.unknown == 0
    with read_session(engine) as session:
        state = session.get(Streetlight, light)
        hours = session.scalars(select(LightHourly).order_by(LightHourly.hour)).all()
        assert session.scalars(select(LightReading)).all().__len__() == 4
    assert (state.actual_level, state.energy_wh, state.power_w, state.offline) == (
        50,
        1060.0,
        40.0,
        False,
    )
    assert state.last_switch_on_at == T0  # from unknown to lit
    assert [(h.hour.hour, h.samples, h.energy_wh) for h in hours] == [(18, 3, 46.0), (19, 1, 14.0)]
    assert hours[0].level_sum == 250


def test_an_energy_counter_restart_counts_from_zero(engine):
    light = seed_lights(engine, 1)[0]
    ingest(engine, [tele(light, T0, 100, 5000.0)], now=T0)
    ingest(
        engine,
        [
            tele(light, T0 + dt.timedelta(minutes=5), 100, 5010.0),
            tele(light, T0 + dt.timedelta(minutes=10), 100, 4.0),
        ],
        now=T0,
    )
    with read_session(engine) as session:
        assert session.scalars(select(LightHourly.energy_wh)).one() == 14.0


def test_unknown_devices_and_bad_payloads_are_ignored(engine):
    light = seed_lights(engine, 1)[0]
    stats = ingest(
        engine,
        [
            tele("SOMEONE-ELSE", T0, 10, 1.0),
            Inbound("tele_light", light, "not an object", T0),
            Inbound(
                "tele_light", light, {"level": "high", "power_w": float("inf"), "status": 3}, T0
            ),
            Inbound("ack", light, {"command_id": "x" * 60, "status": "applied"}, T0),
        ],
        now=T0,
    )
    assert stats.unknown == 1 and stats.invalid == 2 and stats.light_readings == 1
    with read_session(engine) as session:
        state = session.get(Streetlight, light)
    assert state.actual_level is None and state.status == "ok" and state.last_seen_at == T0


def test_a_fault_raises_an_alarm_once_and_a_repair_clears_it(engine):
    light = seed_lights(engine, 1)[0]
    for minute in (0, 1, 2):
        ingest(
            engine,
            [tele(light, T0 + dt.timedelta(minutes=minute), 0, 10.0, status="defectiveLamp")],
            now=T0,
        )
    with read_session(engine) as session:
        alarms = session.scalars(select(LightAlarm)).all()
    assert [(a.kind, a.cleared_at) for a in alarms] == [("defectiveLamp", None)]
    ingest(
        engine,
        [tele(light, T0 + dt.timedelta(minutes=3), 100, 11.0)],
        now=T0 + dt.timedelta(minutes=3),
    )
    with read_session(engine) as session:
        assert session.scalars(select(LightAlarm.cleared_at)).one() is not None
        assert session.get(Streetlight, light).status == "ok"


def test_offline_is_decided_from_the_last_data_and_cleared_by_new_data(engine):
    lights = seed_lights(engine, 2, period_s=60)
    ingest(
        engine,
        [tele(lights[0], T0, 100, 1.0), tele(lights[1], T0 + dt.timedelta(minutes=2), 100, 1.0)],
        now=T0,
    )
    with write_session(engine) as session:
        assert control.sweep_offline(session, T0 + dt.timedelta(minutes=3, seconds=30)) == [
            lights[0]
        ]
        assert (
            control.sweep_offline(session, T0 + dt.timedelta(minutes=3, seconds=40)) == []
        )  # once
    with read_session(engine) as session:
        assert session.scalars(select(LightAlarm.kind)).all() == ["offline"]
    ingest(
        engine,
        [tele(lights[0], T0 + dt.timedelta(minutes=4), 100, 2.0)],
        now=T0 + dt.timedelta(minutes=4),
    )
    with read_session(engine) as session:
        assert session.get(Streetlight, lights[0]).offline is False
        assert session.scalars(select(LightAlarm.cleared_at)).one() is not None


def test_history_is_downsampled_not_dropped(engine):
    light = seed_lights(engine, 1)[0]
    old = utcnow() - dt.timedelta(days=40)
    batch = [tele(light, old + dt.timedelta(minutes=10 * i), 100, 100.0 + 5 * i) for i in range(12)]
    ingest(engine, batch, now=old)
    with write_session(engine) as session:
        dropped, folded = control.roll_up(session, utcnow())
    assert dropped == 12 and folded >= 2
    with read_session(engine) as session:
        assert session.scalars(select(LightReading)).all() == []
        assert session.scalars(select(LightHourly)).all() == []
        days = session.scalars(select(LightDaily)).all()
    assert sum(d.samples for d in days) == 12 and sum(d.energy_wh for d in days) == 55.0


def test_answers_move_commands_forward_only(engine):
    light = seed_lights(engine, 1)[0]
    with write_session(engine) as session:
        control.set_override(session, "light", light, 60, 30, now=utcnow())
    with read_session(engine) as session:
        command_id = session.scalars(select(LightCommand.command_id)).one()

    def ack(status: str, level: int = 60) -> Inbound:
        return Inbound(
            "ack",
            light,
            {
                "command_id": command_id,
                "status": status,
                "actual_level": level,
                "ts": utcnow().isoformat(),
            },
            utcnow(),
        )

    ingest(engine, [ack("accepted", 0)])
    ingest(engine, [ack("applied"), ack("accepted")])  # out of order in one batch
    with read_session(engine) as session:
        command = session.scalars(select(LightCommand)).one()
        state = session.get(Streetlight, light)
    assert (command.state, command.actual_level) == ("applied", 60)
    assert (state.effect_level, state.effect_reason) == (60, "override")
    ingest(engine, [ack("rejected")])  # a late or duplicated answer changes nothing
    with read_session(engine) as session:
        assert session.scalars(select(LightCommand.state)).one() == "applied"


def test_sensor_measures_are_stored_with_their_latest_values(engine):
    with write_session(engine) as session:
        session.add(Sensor(id="AQ-1", kind="air_quality", name="Station", lat=49.46, lon=5.93))
    items = [
        Inbound(
            "tele_sensor",
            "AQ-1",
            {
                "ts": (T0 + dt.timedelta(minutes=m)).isoformat(),
                "kind": "air_quality",
                "no2": 20.0 + m,
                "pm10": 15,
                "pm25": 8,
                "o3": 40,
                "extra": "x",
            },
            T0 + dt.timedelta(minutes=m),
        )
        for m in (0, 1)
    ]
    stats = ingest(engine, items, now=T0)
    assert stats.sensor_readings == 2
    with read_session(engine) as session:
        sensor = session.get(Sensor, "AQ-1")
        hourly = session.scalars(select(SensorHourly)).one()
        assert len(session.scalars(select(SensorMeasure)).all()) == 2
    assert json.loads(sensor.last_values)["no2"] == 21.0 and "extra" not in sensor.last_values
    assert hourly.samples == 2 and json.loads(hourly.sums_json)["no2"] == 41.0


def test_sensor_hours_add_up_across_batches_and_sensors(engine):
    """Each batch adds its counts and sums to the hours already kept, sensor by sensor, hour by hour."""
    with write_session(engine) as session:
        for sensor_id in ("AQ-1", "AQ-2"):
            session.add(
                Sensor(id=sensor_id, kind="air_quality", name=sensor_id, lat=49.46, lon=5.93)
            )

    def item(sensor_id: str, minutes: int, no2: float) -> Inbound:
        at = T0 + dt.timedelta(minutes=minutes)
        return Inbound("tele_sensor", sensor_id, {"ts": at.isoformat(), "no2": no2}, at)

    # T0 is 18:10: minutes 0-49 fall in the 18:00 hour, 50 and later in 19:00.
    ingest(engine, [item("AQ-1", 0, 10.0), item("AQ-2", 1, 1.0)], now=T0)
    ingest(engine, [item("AQ-1", 5, 20.0), item("AQ-1", 55, 7.0)], now=T0)
    ingest(engine, [item("AQ-1", 10, 30.0), item("AQ-2", 56, 2.0), item("AQ-2", 2, 3.0)], now=T0)
    with read_session(engine) as session:
        rows = session.scalars(select(SensorHourly)).all()
    got = {
        (r.sensor_id, r.hour.replace(tzinfo=dt.UTC).hour): (r.samples, json.loads(r.sums_json))
        for r in rows
    }
    assert got == {
        ("AQ-1", 18): (3, {"no2": 60.0}),
        ("AQ-1", 19): (1, {"no2": 7.0}),
        ("AQ-2", 18): (2, {"no2": 4.0}),
        ("AQ-2", 19): (1, {"no2": 2.0}),
    }
