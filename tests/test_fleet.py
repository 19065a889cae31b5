"""The lighting and sensor fleet simulator, against the embedded broker or ECLOR_TEST_MQTT_URL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests import mqtt_fixtures
from tests.mqtt_fixtures import Inbox, mqtt_client, run_async, subscribed_inbox
from workers.fleet import (
    STANDBY_W,
    Fleet,
    SimulatedLight,
    light_power_w,
    main,
    parse_mqtt_url,
    parse_sensor_spec,
)

# The shared MQTT fixtures (conftest may also provide them: same functions).
embedded_broker = mqtt_fixtures.embedded_broker
mqtt_url = mqtt_fixtures.mqtt_url
topic_prefix = mqtt_fixtures.topic_prefix

LIGHT = "SL-AUD-0001"
OTHER_LIGHT = "SL-AUD-0002"


def _command(
    level: int, *, expires_in: float = 60.0, ramp_s: float = 0, **extra: Any
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "command_id": str(uuid.uuid4()),
        "issued_at": now.isoformat(),
        "expires_at": (now + timedelta(seconds=expires_in)).isoformat(),
        "kind": "setLevel",
        "level": level,
        "ramp_s": ramp_s,
        "reason": "override",
        **extra,
    }


@contextlib.asynccontextmanager
async def running(fleet: Fleet) -> AsyncIterator[Fleet]:
    """Run ``fleet`` in the background until the block ends (then stop it cleanly)."""
    task = asyncio.create_task(fleet.run())
    try:
        await asyncio.wait_for(fleet.ready.wait(), 5)
        yield fleet
    finally:
        await fleet.stop()
        await asyncio.wait_for(task, 5)


async def _send(url: str, prefix: str, device_id: str, command: dict[str, Any]) -> None:
    async with mqtt_client(url) as server:
        await server.publish(f"{prefix}/cmd/light/{device_id}", json.dumps(command), qos=1)


def _acks(inbox: Inbox, prefix: str, device_id: str, command_id: str) -> list[dict[str, Any]]:
    return [
        a for a in inbox.json_on(f"{prefix}/ack/light/{device_id}") if a["command_id"] == command_id
    ]


async def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds (polling), failing after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def _fleet(url: str, prefix: str, **options: Any) -> Fleet:
    options.setdefault("lights", [LIGHT, OTHER_LIGHT])
    options.setdefault("period", 0.1)
    options.setdefault("seed", 7)
    options.setdefault("initial_level", 0)
    options.setdefault("reconnect", False)
    return Fleet(url, prefix, **options)


# --------------------------------------------------------------------------- commands


def test_a_command_is_acked_accepted_then_applied_with_the_right_level(
    mqtt_url: str, topic_prefix: str
) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/#") as inbox,
            running(_fleet(mqtt_url, topic_prefix)) as fleet,
        ):
            command = _command(40)
            await _send(mqtt_url, topic_prefix, LIGHT, command)
            await inbox.wait_for(
                lambda _: len(_acks(inbox, topic_prefix, LIGHT, command["command_id"])) >= 2
            )
            acks = _acks(inbox, topic_prefix, LIGHT, command["command_id"])
            assert [a["status"] for a in acks] == ["accepted", "applied"]
            assert acks[1]["actual_level"] == 40
            assert acks[1]["ts"].endswith("Z")
            assert fleet.lights[LIGHT].target == 40
            assert fleet.lights[OTHER_LIGHT].target == 0
            tele = f"{topic_prefix}/tele/light/{LIGHT}"
            await inbox.wait_for(lambda _: any(t["level"] == 40 for t in inbox.json_on(tele)))

    run_async(scenario())


def test_a_duplicated_command_is_applied_only_once(mqtt_url: str, topic_prefix: str) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/ack/#") as inbox,
            running(_fleet(mqtt_url, topic_prefix)) as fleet,
        ):
            first, second = _command(30), _command(80)
            await _send(mqtt_url, topic_prefix, LIGHT, first)
            await _send(mqtt_url, topic_prefix, LIGHT, second)
            await _send(mqtt_url, topic_prefix, LIGHT, first)  # a retry of the older command
            await inbox.wait_count(f"{topic_prefix}/ack/light/{LIGHT}", 5)
            await asyncio.sleep(0.2)
            assert fleet.lights[LIGHT].target == 80
            assert fleet.stats.commands_applied == 2
            assert fleet.stats.duplicates == 1
            statuses = [a["status"] for a in _acks(inbox, topic_prefix, LIGHT, first["command_id"])]
            assert statuses == ["accepted", "applied", "applied"]  # answered again, not re-applied

    run_async(scenario())


def test_an_expired_command_is_answered_expired_and_never_applied(
    mqtt_url: str, topic_prefix: str
) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/ack/#") as inbox,
            running(_fleet(mqtt_url, topic_prefix)) as fleet,
        ):
            stale = _command(100, expires_in=-1)
            await _send(mqtt_url, topic_prefix, LIGHT, stale)
            await _send(mqtt_url, topic_prefix, LIGHT, stale)
            await inbox.wait_count(f"{topic_prefix}/ack/light/{LIGHT}", 2)
            await asyncio.sleep(0.2)
            acks = _acks(inbox, topic_prefix, LIGHT, stale["command_id"])
            assert [a["status"] for a in acks] == ["expired", "expired"]
            assert acks[0]["actual_level"] == 0
            assert fleet.lights[LIGHT].target == 0
            assert fleet.stats.commands_applied == 0

    run_async(scenario())


def test_a_malformed_command_is_rejected(mqtt_url: str, topic_prefix: str) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/ack/#") as inbox,
            running(_fleet(mqtt_url, topic_prefix)) as fleet,
        ):
            too_bright = _command(140)
            unknown = _command(50, kind="blink")
            await _send(mqtt_url, topic_prefix, LIGHT, too_bright)
            await _send(mqtt_url, topic_prefix, LIGHT, unknown)
            await inbox.wait_count(f"{topic_prefix}/ack/light/{LIGHT}", 2)
            assert [a["status"] for a in inbox.json_on(f"{topic_prefix}/ack/light/{LIGHT}")] == [
                "rejected",
                "rejected",
            ]
            assert fleet.lights[LIGHT].target == 0

    run_async(scenario())


def test_a_ramped_command_is_applied_when_the_ramp_ends(mqtt_url: str, topic_prefix: str) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/#") as inbox,
            running(_fleet(mqtt_url, topic_prefix, period=0.05)),
        ):
            command = _command(100, ramp_s=0.6)
            await _send(mqtt_url, topic_prefix, LIGHT, command)
            await inbox.wait_for(
                lambda _: len(_acks(inbox, topic_prefix, LIGHT, command["command_id"])) >= 2
            )
            accepted, applied = (m for m in inbox.on(f"{topic_prefix}/ack/light/{LIGHT}"))
            levels = [t["level"] for t in inbox.json_on(f"{topic_prefix}/tele/light/{LIGHT}")]
            assert json.loads(applied.payload)["actual_level"] == 100
            assert any(0 < level < 100 for level in levels), levels
            assert json.loads(accepted.payload)["status"] == "accepted"

    run_async(scenario())


def test_a_light_that_never_acks_ignores_commands_but_keeps_reporting(
    mqtt_url: str, topic_prefix: str
) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/#") as inbox,
            running(
                _fleet(mqtt_url, topic_prefix, never_ack=[LIGHT], silent=[OTHER_LIGHT])
            ) as fleet,
        ):
            await _send(mqtt_url, topic_prefix, LIGHT, _command(60))
            await _send(mqtt_url, topic_prefix, OTHER_LIGHT, _command(60))
            await inbox.wait_count(f"{topic_prefix}/tele/light/{LIGHT}", 3)
            assert inbox.on(f"{topic_prefix}/ack/light/{LIGHT}") == []
            assert inbox.on(f"{topic_prefix}/ack/light/{OTHER_LIGHT}") == []
            assert inbox.on(f"{topic_prefix}/tele/light/{OTHER_LIGHT}") == []
            assert fleet.lights[LIGHT].target == 0
            assert fleet.stats.commands_received == 2

    run_async(scenario())


def test_a_drop_rate_of_one_loses_every_ack_and_telemetry(mqtt_url: str, topic_prefix: str) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/#") as inbox,
            running(_fleet(mqtt_url, topic_prefix, drop_rate=1.0)) as fleet,
        ):
            await _send(mqtt_url, topic_prefix, LIGHT, _command(25))
            # Applied, but nobody heard about it.
            await _eventually(lambda: fleet.lights[LIGHT].target == 25)
            await asyncio.sleep(0.3)  # time for telemetry rounds that must not arrive
            assert not [
                m for m in inbox.messages if "/ack/" in str(m.topic) or "/tele/" in str(m.topic)
            ]
            assert fleet.stats.dropped >= 4

    run_async(scenario())


# --------------------------------------------------------------------------- telemetry


def test_light_telemetry_carries_the_contract_fields_and_energy_grows(
    mqtt_url: str, topic_prefix: str
) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/tele/#") as inbox,
            running(_fleet(mqtt_url, topic_prefix, initial_level=100, nominal_power_w=70)),
        ):
            topic = f"{topic_prefix}/tele/light/{LIGHT}"
            messages = await inbox.wait_count(topic, 3)
            first, *_, last = [json.loads(m.payload) for m in messages]
            assert set(first) == {"ts", "level", "power_w", "energy_wh", "status"}
            assert first["status"] == "ok" and first["level"] == 100
            assert first["power_w"] == pytest.approx(70 + STANDBY_W)
            assert last["energy_wh"] > first["energy_wh"]
            datetime.fromisoformat(first["ts"])
            assert messages[0].properties.ContentType == "application/json"

    run_async(scenario())


def test_defective_lamps_report_their_status_and_draw_standby_power(
    mqtt_url: str, topic_prefix: str
) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/tele/#") as inbox,
            running(_fleet(mqtt_url, topic_prefix, fault_rate=1.0, initial_level=100)),
        ):
            tele = (await inbox.wait_count(f"{topic_prefix}/tele/light/{LIGHT}", 1))[0]
            payload = json.loads(tele.payload)
            assert payload["status"] == "defectiveLamp"
            assert payload["power_w"] == pytest.approx(STANDBY_W)

    run_async(scenario())


def test_each_sensor_kind_publishes_its_measures(mqtt_url: str, topic_prefix: str) -> None:
    sensors = {
        "WC-AUD-01": "waste_centre",
        "TR-AUD-01": "traffic",
        "AQ-VIL-01": "air_quality",
        "FL-AUD-0001": "fill_level",
    }
    expected = {
        "waste_centre": {"arrivals", "admissions", "exits", "bays"},
        "traffic": {"intensity", "occupancy", "averageVehicleSpeed", "congested"},
        "air_quality": {"no2", "pm10", "pm25", "o3"},
        "fill_level": {"fillingLevel"},
    }

    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/tele/sensor/#") as inbox,
            running(_fleet(mqtt_url, topic_prefix, lights=[], sensors=sensors, always_open=True)),
        ):
            for device_id, kind in sensors.items():
                (message,) = (await inbox.wait_count(f"{topic_prefix}/tele/sensor/{device_id}", 1))[
                    :1
                ]
                payload = json.loads(message.payload)
                assert payload["kind"] == kind
                assert set(payload) == {"ts", "kind"} | expected[kind]
            fill = inbox.json_on(f"{topic_prefix}/tele/sensor/FL-AUD-0001")[0]["fillingLevel"]
            assert 0.0 <= fill <= 1.0
            centre = inbox.json_on(f"{topic_prefix}/tele/sensor/WC-AUD-01")[-1]
            assert centre["arrivals"] >= centre["admissions"] >= centre["exits"] >= 0
            assert centre["bays"] == 12

    run_async(scenario())


def test_full_speed_mode_publishes_telemetry_rounds_back_to_back(
    mqtt_url: str, topic_prefix: str
) -> None:
    async def scenario() -> None:
        async with (
            subscribed_inbox(mqtt_url, f"{topic_prefix}/tele/#", qos=0) as inbox,
            running(_fleet(mqtt_url, topic_prefix, period=60, full_speed=True)) as fleet,
        ):
            # With a 60 s period, a timed fleet would have sent one round by now.
            await inbox.wait_count(f"{topic_prefix}/tele/light/{LIGHT}", 20, timeout=10)
            assert fleet.stats.telemetry_sent >= 40

    run_async(scenario())


# --------------------------------------------------------------------------- status


def test_status_is_online_and_retained_then_offline_after_a_clean_stop(
    mqtt_url: str, topic_prefix: str
) -> None:
    async def scenario() -> None:
        fleet = _fleet(mqtt_url, topic_prefix, sensors={"AQ-VIL-01": "air_quality"})
        async with running(fleet), subscribed_inbox(mqtt_url, f"{topic_prefix}/status/+") as late:
            await late.wait_for(lambda m: len(m) >= 4)
            assert all(m.retain for m in late.messages)
            assert {json.loads(m.payload) for m in late.messages} == {"online"}
        async with subscribed_inbox(mqtt_url, f"{topic_prefix}/status/+") as after:
            await after.wait_for(lambda m: len(m) >= 4)
            statuses = {
                str(m.topic).rsplit("/", 1)[1]: json.loads(m.payload) for m in after.messages
            }
            assert statuses == {
                LIGHT: "offline",
                OTHER_LIGHT: "offline",
                "AQ-VIL-01": "offline",
                fleet.gateway_id: "offline",
            }

    run_async(scenario())


def test_killing_the_fleet_makes_the_broker_publish_its_last_will(
    mqtt_url: str, topic_prefix: str
) -> None:
    async def scenario() -> None:
        fleet = _fleet(mqtt_url, topic_prefix)
        gateway_topic = f"{topic_prefix}/status/{fleet.gateway_id}"
        async with subscribed_inbox(mqtt_url, f"{topic_prefix}/status/#") as inbox:
            task = asyncio.create_task(fleet.run())
            await asyncio.wait_for(fleet.ready.wait(), 5)
            await inbox.wait_count(gateway_topic, 1)
            await fleet.kill()
            await asyncio.wait_for(task, 5)
            await inbox.wait_count(gateway_topic, 2)
            assert [json.loads(m.payload) for m in inbox.on(gateway_topic)] == ["online", "offline"]
            # No clean goodbye: the devices' own retained status was not touched.
            assert [json.loads(m.payload) for m in inbox.on(f"{topic_prefix}/status/{LIGHT}")] == [
                "online"
            ]

    run_async(scenario())


def test_the_cli_runs_a_fleet_for_a_given_duration(mqtt_url: str, topic_prefix: str) -> None:
    argv = [
        "--url",
        mqtt_url,
        "--prefix",
        topic_prefix,
        "--lights",
        "3",
        "--sensors",
        "2",
        "--period",
        "0.1",
        "--seed",
        "1",
        "--duration",
        "0.5",
    ]
    assert main(argv) == 0

    async def check() -> None:
        async with subscribed_inbox(mqtt_url, f"{topic_prefix}/status/+") as inbox:
            await inbox.wait_for(lambda m: len(m) >= 5 + 1)
            topics = {str(m.topic).rsplit("/", 1)[1] for m in inbox.messages}
            assert {"SL-AUD-0001", "SL-AUD-0003", "WC-SIM-0001", "TR-SIM-0001"} <= topics

    run_async(check())


# --------------------------------------------------------------------------- model


def test_power_has_a_driver_floor_and_a_standby_draw() -> None:
    assert light_power_w(0, 70) == STANDBY_W
    assert light_power_w(100, 70) == pytest.approx(70.7)
    assert light_power_w(50, 70) == pytest.approx(35.7)
    assert light_power_w(1, 70) == pytest.approx(7.7)  # the driver does not go below 10 %
    assert light_power_w(100, 70, defective=True) == STANDBY_W


def test_energy_integrates_power_over_time_across_a_ramp() -> None:
    light = SimulatedLight("SL-X", nominal_w=100, start_level=100, target=100)
    light.advance(0.0)
    light.advance(3600.0)
    assert light.energy_wh == pytest.approx(100.7)
    light.set_target(50, 3600.0, 3600.0)
    assert light.level_at(5400.0) == pytest.approx(75.0)
    light.advance(7200.0)
    assert light.energy_wh == pytest.approx(100.7 + 75.7)


def test_the_same_seed_gives_the_same_sensor_readings() -> None:
    def readings(seed: int) -> list[dict[str, Any]]:
        fleet = Fleet(sensors=parse_sensor_spec("demo"), seed=seed, always_open=True)
        moment = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
        return [sensor.measures(moment, 600.0) for sensor in fleet.sensors.values()]

    assert readings(42) == readings(42)
    assert readings(42) != readings(43)


def test_sensor_specs_and_broker_urls_are_parsed() -> None:
    assert parse_sensor_spec("WC-1:waste_centre,TR-1:traffic") == {
        "WC-1": "waste_centre",
        "TR-1": "traffic",
    }
    assert list(parse_sensor_spec("4").values()) == [
        "waste_centre",
        "traffic",
        "air_quality",
        "fill_level",
    ]
    assert parse_sensor_spec("none") == {}
    with pytest.raises(ValueError):
        parse_sensor_spec("X-1:lava_lamp")
    assert parse_mqtt_url("mqtt://127.0.0.1:1884") == {"hostname": "127.0.0.1", "port": 1884}
    assert parse_mqtt_url("mqtt://user:p%40ss@broker")["password"] == "p@ss"
    with pytest.raises(ValueError):
        parse_mqtt_url("http://broker")
