"""Telemetry is checked before use: a reading from a clock gone wrong or beyond what the lamp (or the
sensor) can physically report is counted and dropped alone; the good readings of its batch are stored."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json

import pytest
from sqlalchemy import select

from app.db import make_engine, read_session, utcnow, write_session
from app.lighting.relay import Inbound, ingest
from app.models.lighting import LightReading, Streetlight
from app.models.sensors import Sensor, SensorMeasure
from tests import mqtt_fixtures
from tests.lighting_helpers import FAST, eventually, running_relay, seed_lights
from tests.mqtt_fixtures import mqtt_client, run_async

embedded_broker = mqtt_fixtures.embedded_broker
mqtt_url = mqtt_fixtures.mqtt_url
topic_prefix = mqtt_fixtures.topic_prefix

# One ingestion round a second: the messages published together land in one batch.
ONE_BATCH = dataclasses.replace(FAST, ingest_interval_s=1.0)


def reading(at: dt.datetime, **changes: object) -> bytes:
    payload = {
        "ts": at.isoformat().replace("+00:00", "Z"),
        "level": 80,
        "power_w": 57.0,
        "energy_wh": 1200.0,
        "status": "ok",
    }
    payload.update(changes)
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    "forgery",
    [
        {"ts": "0001-01-01T00:00:00Z"},
        {"ts": "9999-12-31T23:59:59Z"},
        {"power_w": 99_999},
        {"energy_wh": 1e12},
        {"level": 250},
    ],
    ids=["year-1", "year-9999", "99999-W", "1e12-Wh", "level-250"],
)
def test_one_forged_reading_is_dropped_alone_and_its_batch_is_stored(
    engine, mqtt_url, topic_prefix, forgery
):
    lights = seed_lights(engine, 6)
    good, forged = lights[:5], lights[5]

    async def scenario() -> None:
        async with (
            running_relay(engine, mqtt_url, topic_prefix, ONE_BATCH) as relay,
            mqtt_client(mqtt_url) as device,
        ):
            now = utcnow()
            for light in good[:3]:
                await device.publish(f"{topic_prefix}/tele/light/{light}", reading(now), qos=1)
            await device.publish(
                f"{topic_prefix}/tele/light/{forged}", reading(now, **forgery), qos=1
            )
            for light in good[3:]:
                await device.publish(f"{topic_prefix}/tele/light/{light}", reading(now), qos=1)
            await eventually(lambda: relay.stats.ingested + relay.stats.invalid >= 6, timeout=10)
            assert relay.stats.invalid == 1
            assert relay.stats.batches == 1  # one batch: the forgery was among the good ones

    run_async(scenario(), timeout=30)
    with read_session(engine) as session:
        stored = sorted(session.scalars(select(LightReading.light_id)).all())
        forged_row = session.get(Streetlight, forged)
        good_rows = [session.get(Streetlight, light) for light in good]
    assert stored == good
    assert forged_row.energy_wh is None and forged_row.power_w is None
    assert forged_row.last_seen_at is None
    assert {(r.actual_level, r.power_w, r.energy_wh) for r in good_rows} == {(80, 57.0, 1200.0)}


def test_an_energy_counter_cannot_jump_past_what_the_lamp_can_draw(engine):
    """A 70 W lamp cannot use 5 kWh in ten minutes: that reading is refused, the next true one is kept."""
    light = seed_lights(engine, 1)[0]
    t0 = utcnow() - dt.timedelta(hours=1)

    def tele(minutes: int, energy: float) -> Inbound:
        at = t0 + dt.timedelta(minutes=minutes)
        return Inbound("tele_light", light, json.loads(reading(at, energy_wh=energy)), at)

    assert ingest(engine, [tele(0, 1000.0)]).light_readings == 1
    stats = ingest(engine, [tele(10, 6000.0), tele(20, 1023.0)])
    assert (stats.invalid, stats.light_readings) == (1, 1)
    with read_session(engine) as session:
        assert session.get(Streetlight, light).energy_wh == 1023.0


def test_sensor_readings_out_of_physical_bounds_or_time_are_dropped_alone(engine):
    now = utcnow()
    with write_session(engine) as session:
        for sensor_id in ("TR-T-1", "TR-T-2", "TR-T-3", "AQ-T-1"):
            kind = "traffic" if sensor_id.startswith("TR") else "air_quality"
            session.add(Sensor(id=sensor_id, kind=kind, name=sensor_id, lat=49.47, lon=5.95))

    def item(sensor_id: str, **measures: object) -> Inbound:
        payload = {"ts": now.isoformat(), **measures}
        return Inbound("tele_sensor", sensor_id, payload, now)

    traffic = {"intensity": 120, "occupancy": 0.2, "averageVehicleSpeed": 55.0}
    stats = ingest(
        engine,
        [
            item("TR-T-1", **traffic),
            item("TR-T-2", **{**traffic, "occupancy": 40.0}),  # a share cannot be 4,000 %
            item("TR-T-3", **{**traffic, "ts": "0001-01-01T00:00:00Z"}),
            item("AQ-T-1", no2=1e9, pm10=10, pm25=5, o3=40),
        ],
    )
    assert (stats.sensor_readings, stats.invalid) == (1, 3)
    with read_session(engine) as session:
        assert session.scalars(select(SensorMeasure.sensor_id)).all() == ["TR-T-1"]


def test_the_relay_keeps_a_batch_while_the_database_is_locked_and_stores_it_after(
    engine, mqtt_url, topic_prefix, settings
):
    """A write lock held past the relay's lock timeout postpones the batch; it is not dropped."""
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("the write lock held from outside is SQLite's")
    lights = seed_lights(engine, 3)
    impatient = make_engine(settings.resolved_database_url, lock_timeout_ms=200)

    async def scenario() -> None:
        async with (
            running_relay(impatient, mqtt_url, topic_prefix, FAST) as relay,
            mqtt_client(mqtt_url) as device,
        ):
            locker = engine.raw_connection()
            try:
                locker.cursor().execute("BEGIN IMMEDIATE")
                for light in lights:
                    await device.publish(
                        f"{topic_prefix}/tele/light/{light}", reading(utcnow()), qos=1
                    )
                await asyncio.sleep(1.5)
                assert relay.stats.ingested == 0
            finally:
                locker.rollback()
                locker.close()
            await eventually(lambda: relay.stats.ingested == 3, timeout=15)

    try:
        run_async(scenario(), timeout=40)
    finally:
        impatient.dispose()
    with read_session(engine) as session:
        assert len(session.scalars(select(LightReading)).all()) == 3
