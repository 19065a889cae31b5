"""The lighting relay against a real broker (embedded, or Mosquitto with ECLOR_TEST_MQTT_URL) and the
fleet simulator: delivery, retries, expiry, outages, duplicates, supersession, a killed worker."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from app.db import read_session, utcnow, write_session
from app.lighting import control
from app.models.lighting import LightCommand, LightOverride, Streetlight
from tests import mqtt_fixtures
from tests.lighting_helpers import (
    FAST,
    Proxy,
    commands,
    eventually,
    running_fleet,
    running_relay,
    seed_lights,
    states,
)
from tests.mqtt_fixtures import mqtt_client, run_async

embedded_broker = mqtt_fixtures.embedded_broker
mqtt_url = mqtt_fixtures.mqtt_url
topic_prefix = mqtt_fixtures.topic_prefix

ROOT = Path(__file__).resolve().parent.parent


def _override(engine, scope: str, target: str, level: int, minutes: int | None = 10) -> int:
    with write_session(engine) as session:
        return control.set_override(session, scope, target, level, minutes, now=utcnow()).commands


def test_a_group_command_reaches_every_light_and_ends_applied(engine, mqtt_url, topic_prefix):
    lights = seed_lights(engine, 300)

    async def scenario() -> None:
        async with (
            running_fleet(mqtt_url, topic_prefix, lights) as fleet,
            running_relay(engine, mqtt_url, topic_prefix),
        ):
            assert await asyncio.to_thread(_override, engine, "group", "G1", 35) == 300
            await eventually(lambda: states(engine) == {"applied": 300}, timeout=20)
            assert fleet.stats.commands_applied == 300
            assert {
                round(light.level_at(asyncio.get_running_loop().time()))
                for light in fleet.lights.values()
            } == {35}

    run_async(scenario(), timeout=40)
    with read_session(engine) as session:
        rows = session.scalars(select(Streetlight)).all()
        assert {
            (r.target_level, r.target_reason, r.effect_level, r.effect_reason) for r in rows
        } == {(35, "override", 35, "override")}
    assert all(c.attempts >= 1 and c.sent_at is not None for c in commands(engine))


def test_a_device_that_never_acks_is_retried_then_expired(engine, mqtt_url, topic_prefix):
    lights = seed_lights(engine, 2)
    # Retries 0.8 s apart: the silent light is sent the command about five times before it expires,
    # while the answering light's acknowledgement has time to come back before any retry, even on a
    # loaded machine.
    config = dataclasses.replace(FAST, retry_initial_s=0.8, retry_max_s=0.8)

    async def scenario() -> None:
        async with (
            running_fleet(mqtt_url, topic_prefix, lights, never_ack=[lights[0]]) as fleet,
            running_relay(engine, mqtt_url, topic_prefix, config),
        ):
            now = utcnow()
            await asyncio.to_thread(_issue, engine, lights, 60, now + dt.timedelta(seconds=4.0))
            await eventually(
                lambda: (
                    {c.light_id: c.state for c in commands(engine)}
                    == {lights[0]: "expired", lights[1]: "applied"}
                ),
                timeout=10,
            )
            assert (
                fleet.stats.commands_received >= 4
            )  # the first send plus retries, the other light once
            assert fleet.lights[lights[0]].target != 60

    run_async(scenario(), timeout=30)
    silent, answered = commands(engine)
    assert silent.attempts >= 3 and silent.finished_at is not None and silent.actual_level is None
    assert answered.attempts == 1


def _issue(engine, lights: list[str], level: int, expires_at: dt.datetime) -> None:
    with write_session(engine) as session:
        control.issue_commands(
            session,
            [(light, light) for light in lights],
            level=level,
            reason="override",
            expires_at=expires_at,
            now=utcnow(),
        )


def test_a_command_that_expired_while_the_broker_was_down_is_never_applied(
    engine, mqtt_url, topic_prefix
):
    lights = seed_lights(engine, 2)
    parts = urlsplit(mqtt_url)

    async def scenario() -> None:
        proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 1883)
        await proxy.start()
        async with (
            running_fleet(mqtt_url, topic_prefix, lights) as fleet,
            running_relay(engine, proxy.url, topic_prefix) as relay,
        ):
            await proxy.cut()  # the broker is unreachable for the relay
            await eventually(lambda: not relay.backend.connected.is_set(), timeout=5)
            now = utcnow()
            await asyncio.to_thread(_issue, engine, [lights[0]], 80, now + dt.timedelta(seconds=1))
            await asyncio.to_thread(_issue, engine, [lights[1]], 20, now + dt.timedelta(seconds=60))
            await asyncio.sleep(1.5)
            # Kept in the database during the outage; the first one's expiry passed meanwhile.
            assert states(engine) == {"expired": 1, "queued": 1}
            await proxy.restore()
            await eventually(
                lambda: (
                    {c.light_id: c.state for c in commands(engine)}
                    == {lights[0]: "expired", lights[1]: "applied"}
                ),
                timeout=15,
            )
            await asyncio.sleep(0.3)
            assert fleet.stats.commands_received == 1  # the expired one never left the database
            assert round(fleet.lights[lights[0]].target) == 0
            assert round(fleet.lights[lights[1]].target) == 20
            await proxy.cut()

    run_async(scenario(), timeout=40)
    expired = next(c for c in commands(engine) if c.light_id == lights[0])
    assert expired.attempts == 0 and expired.sent_at is None


def test_a_duplicated_mqtt_delivery_is_applied_once(engine, mqtt_url, topic_prefix):
    lights = seed_lights(engine, 1)

    async def scenario() -> None:
        async with (
            running_fleet(mqtt_url, topic_prefix, lights) as fleet,
            running_relay(engine, mqtt_url, topic_prefix),
        ):
            await asyncio.to_thread(_override, engine, "light", lights[0], 55)
            await eventually(lambda: states(engine) == {"applied": 1})
            command = commands(engine)[0]
            with read_session(engine) as session:
                first_effect = session.get(Streetlight, lights[0]).effect_at
            payload = {
                "command_id": command.command_id,
                "issued_at": command.issued_at.isoformat(),
                "expires_at": command.expires_at.isoformat(),
                "kind": "setLevel",
                "level": 55,
                "ramp_s": 0,
                "reason": "override",
            }
            async with mqtt_client(
                mqtt_url
            ) as client:  # the broker delivers the same message again
                await client.publish(
                    f"{topic_prefix}/cmd/light/{lights[0]}", json.dumps(payload), qos=1
                )
            await eventually(lambda: fleet.stats.duplicates == 1)
            await asyncio.sleep(0.3)  # the device re-sends its answer; the relay ingests it
            assert fleet.stats.commands_applied == 1
            with read_session(engine) as session:
                assert session.get(Streetlight, lights[0]).effect_at == first_effect
            assert [c.state for c in commands(engine)] == ["applied"]

    run_async(scenario(), timeout=30)


def test_a_newer_override_supersedes_the_older_one(engine, mqtt_url, topic_prefix):
    lights = seed_lights(engine, 3)
    _override(engine, "group", "G1", 30)
    _override(engine, "light", lights[0], 90, None)  # a light's own override beats the group's
    _override(engine, "group", "G1", 70)  # …and a new group override replaces both

    with read_session(engine) as session:
        overrides = session.scalars(select(LightOverride).order_by(LightOverride.id)).all()
    assert [o.state for o in overrides] == ["replaced", "replaced", "active"]
    assert states(engine) == {"superseded": 4, "queued": 3}

    async def scenario() -> None:
        async with (
            running_fleet(mqtt_url, topic_prefix, lights) as fleet,
            running_relay(engine, mqtt_url, topic_prefix),
        ):
            await eventually(lambda: states(engine) == {"superseded": 4, "applied": 3})
            assert fleet.stats.commands_received == 3
            assert {round(light.target) for light in fleet.lights.values()} == {70}

    run_async(scenario(), timeout=30)


def test_back_to_program_ends_the_override_and_sends_the_program_level(
    engine, mqtt_url, topic_prefix
):
    from app.lighting.nights import level_at
    from app.lighting.programs import Program
    from app.models.lighting import LightProgram

    with write_session(engine) as session:
        program = LightProgram(
            name="Abaissement",
            definition=json.dumps(
                Program.from_pairs(
                    [("dusk", 100), ("22:00", 50), ("06:00", 100), ("dawn", 0)]
                ).to_dict()
            ),
        )
        session.add(program)
        session.flush()
        program_id = program.id
    seed_lights(engine, 4, program_id=program_id)
    _override(engine, "group", "G1", 100, None)
    with write_session(engine) as session:
        issued = control.resume_program(session, "group", "G1", now=utcnow())
    with read_session(engine) as session:
        targets = {
            (r.target_level, r.target_reason) for r in session.scalars(select(Streetlight)).all()
        }
        assert session.scalars(select(LightOverride.state)).all() == ["cancelled"]
    with read_session(engine) as session:
        position = control.territory_position(session)
    expected = level_at(
        Program.from_pairs([("dusk", 100), ("22:00", 50), ("06:00", 100), ("dawn", 0)]),
        utcnow(),
        position,
    )
    assert issued == 4 and targets == {(expected, "program")}


def test_the_worker_killed_mid_group_resumes_without_loss(
    engine, settings, db_url, mqtt_url, topic_prefix, tmp_path
):
    total = 200
    lights = seed_lights(engine, total)
    env = {
        **os.environ,
        "ECLOR_DATABASE_URL": db_url,
        "ECLOR_MQTT_URL": mqtt_url,
        "ECLOR_MQTT_PREFIX": topic_prefix,
        "ECLOR_VAR_DIR": str(tmp_path / "var"),
        "ECLOR_ENV": "test",
        "ECLOR_SECRET_KEY": "k" * 40,
        "ECLOR_LIGHTING_BATCH": "10",
        "ECLOR_LIGHTING_MAX_RATE": "150",
        "ECLOR_LIGHTING_POLL_S": "0.05",
        "ECLOR_LIGHTING_RETRY_INITIAL_S": "1",
        "ECLOR_LIGHTING_RECONCILE_S": "3600",
        "ECLOR_LIGHTING_LEASE_S": "2",
        "ECLOR_WORKER_POLL_SECONDS": "0.2",
    }

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def scenario() -> None:
        async with running_fleet(mqtt_url, topic_prefix, lights) as fleet:
            await asyncio.to_thread(_override, engine, "group", "G1", 45)
            worker = start_worker()
            try:
                progress = await eventually(
                    lambda: (s := states(engine)).get("applied", 0) >= 40 and s,
                    timeout=30,
                    interval=0.02,
                )
                worker.send_signal(signal.SIGKILL)  # no clean shutdown: mid-group, mid-batch
                worker.wait(10)
                left = await asyncio.to_thread(states, engine)
                assert left.get("applied", 0) < total, progress
                worker = start_worker()
                await eventually(lambda: states(engine) == {"applied": total}, timeout=40)
            finally:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
                    await asyncio.to_thread(worker.wait, 15)
            assert (
                fleet.stats.commands_applied == total
            )  # each light applied its command exactly once
            assert {round(light.target) for light in fleet.lights.values()} == {45}

    run_async(scenario(), timeout=100)


def test_a_light_silent_for_n_periods_shows_offline(engine, mqtt_url, topic_prefix, staff):
    lights = seed_lights(engine, 2, period_s=1)

    async def scenario() -> None:
        async with (
            running_fleet(mqtt_url, topic_prefix, lights, period=0.3) as fleet,
            running_relay(engine, mqtt_url, topic_prefix),
        ):
            await eventually(lambda: _seen(engine) == set(lights), timeout=5)
            fleet.set_silent(lights[0])  # its retained status still says "online"
            await eventually(lambda: _offline(engine) == {lights[0]}, timeout=8)
            await asyncio.sleep(0.5)
            assert _offline(engine) == {lights[0]}  # the other one keeps reporting

    run_async(scenario(), timeout=30)
    page = staff.client.get(f"/staff/lighting/lights/{lights[0]}")
    assert page.status_code == 200 and "Hors ligne" in page.text
    alarms = staff.client.get("/staff/lighting/alarms")
    assert lights[0] in alarms.text and lights[1] not in alarms.text


def _seen(engine) -> set[str]:
    with read_session(engine) as session:
        return set(
            session.scalars(
                select(Streetlight.id).where(Streetlight.last_seen_at.is_not(None))
            ).all()
        )


def _offline(engine) -> set[str]:
    with read_session(engine) as session:
        return set(
            session.scalars(select(Streetlight.id).where(Streetlight.offline.is_(True))).all()
        )


def test_commands_are_never_claimed_after_their_expiry(engine):
    from app.lighting.relay import claim_due

    lights = seed_lights(engine, 2)
    now = utcnow()
    _issue(engine, [lights[0]], 10, now - dt.timedelta(seconds=1))
    _issue(engine, [lights[1]], 10, now + dt.timedelta(minutes=5))
    claimed = claim_due(engine, "w1", utcnow(), 10, 30)
    assert [c.device_id for c in claimed] == [lights[1]]
    assert claim_due(engine, "w2", utcnow(), 10, 30) == []  # leased to w1
    with write_session(engine) as session:
        assert control.expire_commands(session, utcnow()) == 1
    with read_session(engine) as session:
        assert (
            session.scalars(
                select(LightCommand.state).where(LightCommand.light_id == lights[0])
            ).one()
            == "expired"
        )
