"""Chaos: real `eclor worker` processes killed (SIGKILL) and the database locked, again and again,
while an alert fans out to phones and a lighting group command reaches its lights. In bounded time,
every push ends delivered once (no phone shows it twice) or reported, and every light applies the
latest command once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import select

from app.db import read_session, utcnow, write_session
from app.alerts import topics as alerts_topics
from app.lighting import control
from app.models.lighting import OPEN_COMMAND_STATES, LightCommand, Streetlight
from app.models.push import PushDelivery
from tests import mqtt_fixtures
from tests import db_locks
from tests.lighting_helpers import eventually, running_fleet, seed_lights
from tests.mqtt_fixtures import run_async
from tests.test_fanout import (  # noqa: F401  (fixtures)
    ROOT,
    SUBJECT,
    VAPID_PRIVATE,
    make_user,
    publish,
    push_settings,
    receiver,
    subscribe,
)

embedded_broker = mqtt_fixtures.embedded_broker
mqtt_url = mqtt_fixtures.mqtt_url
topic_prefix = mqtt_fixtures.topic_prefix

PUSH_FINAL = {"delivered", "unknown", "failed", "gone", "rejected", "too_large", "expired"}
ROUNDS = 3  # workers killed, each after meeting a locked database
SETTLE_S = 40.0  # then one worker in peace: everything must be done within this


def database_locked(settings: Any) -> contextlib.AbstractContextManager[None]:
    """Another process holds the locks the worker needs (SQLite's write lock; PostgreSQL's tables)."""
    return db_locks.database_locked(
        settings, "jobs, push_deliveries, light_commands, streetlights", "EXCLUSIVE"
    )


@pytest.mark.timeout(150)  # about 60 s on a quiet machine; bounded on a loaded one
def test_workers_killed_and_the_database_locked_during_fan_out_and_lighting_lose_nothing(
    push_settings,  # noqa: F811
    engine,
    receiver,  # noqa: F811
    mqtt_url,
    topic_prefix,
):
    settings = push_settings
    phones = 300
    receiver.reset()
    subscribe(engine, receiver, make_user(engine, "chaos@eclor.test"), phones)
    lights = seed_lights(engine, 20)
    env = {
        **os.environ,
        "ECLOR_ENV": "test",
        "ECLOR_DATABASE_URL": settings.database_url,
        "ECLOR_VAR_DIR": str(settings.var_dir),
        "ECLOR_SECRET_KEY": settings.secret_key,
        "ECLOR_VAPID_PRIVATE_KEY": VAPID_PRIVATE,
        "ECLOR_VAPID_SUBJECT": SUBJECT,
        "ECLOR_MQTT_URL": mqtt_url,
        "ECLOR_MQTT_PREFIX": topic_prefix,
        "ECLOR_WORKER_LEASE_SECONDS": "2",
        "ECLOR_WORKER_POLL_SECONDS": "0.05",
        "ECLOR_DB_LOCK_TIMEOUT_MS": "500",  # a lock held longer is an error the worker must survive
        "ECLOR_LIGHTING_BATCH": "10",
        "ECLOR_LIGHTING_MAX_RATE": "10",  # the group's commands spread over the chaos
        "ECLOR_LIGHTING_POLL_S": "0.05",
        "ECLOR_LIGHTING_RETRY_INITIAL_S": "1",
        "ECLOR_LIGHTING_RETRY_MAX_S": "2",
        "ECLOR_LIGHTING_RECONCILE_S": "3600",
        "ECLOR_LIGHTING_LEASE_S": "2",
        "ECLOR_LIGHTING_INGEST_INTERVAL_S": "0.1",
        "LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD": "0",
    }
    rng = random.Random(12)
    events = {"killed": 0, "locked": 0}

    def start_worker() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def set_level(level: int) -> int:
        with write_session(engine) as session:
            return control.set_override(session, "group", "G1", level, 30, now=utcnow()).commands

    async def chaos() -> None:
        """Each round: a worker starts, works a little, meets a locked database, is killed."""
        for round_ in range(ROUNDS):
            worker = start_worker()
            try:
                before = await asyncio.to_thread(_progress, engine, receiver)

                def working() -> bool:
                    """This worker is mid fan-out (pushes arriving), or, the fan-out over,
                    mid group command (answers arriving)."""
                    pushes, answers = _progress(engine, receiver)
                    if pushes > before[0]:
                        return True
                    return pushes >= phones and answers > before[1]

                with contextlib.suppress(AssertionError):  # a worker slow to start is killed too
                    await eventually(working, timeout=25 if round_ == 0 else 10, interval=0.05)
                await asyncio.sleep(rng.uniform(0.1, 0.8))
                with database_locked(settings):
                    events["locked"] += 1
                    await asyncio.sleep(rng.uniform(0.6, 1.5))
                await asyncio.sleep(rng.uniform(0.1, 0.5))
            finally:
                worker.send_signal(signal.SIGKILL)
                await asyncio.to_thread(worker.wait, 10)
                events["killed"] += 1

    async def scenario() -> dict[str, Any]:
        async with running_fleet(mqtt_url, topic_prefix, lights) as fleet:
            alert_id = await asyncio.to_thread(publish, engine)
            assert await asyncio.to_thread(set_level, 40) == len(lights)
            chaos_task = asyncio.create_task(chaos())
            while events["killed"] < ROUNDS // 2:
                await asyncio.sleep(0.1)
            await asyncio.to_thread(set_level, 70)  # a newer command, mid-chaos
            await chaos_task
            events["phones_reached_in_chaos"] = receiver.stats()["distinct_subscriptions"]
            last = start_worker()
            try:
                await eventually(
                    lambda: _push_done(engine, alert_id) and _lights_done(engine),
                    timeout=SETTLE_S,
                    interval=0.2,
                )
            except AssertionError as exc:
                raise AssertionError(_left(engine, alert_id)) from exc
            finally:
                last.send_signal(signal.SIGTERM)
                if await asyncio.to_thread(_wait, last, 15) is None:
                    last.kill()
            return {"alert_id": alert_id, "fleet": fleet}

    outcome = run_async(scenario(), timeout=140)
    print(events)
    assert (events["killed"], events["locked"]) == (ROUNDS, ROUNDS)
    assert 0 < events["phones_reached_in_chaos"]  # the chaos met the fan-out

    # Push: every phone's row ends delivered or reported; nothing shows twice.
    with read_session(engine) as session:
        statuses = session.scalars(
            select(PushDelivery.status).where(PushDelivery.alert_id == outcome["alert_id"])
        ).all()
    assert len(statuses) == phones and set(statuses) <= PUSH_FINAL
    # A row caught by a kill is sent again under its Topic; it would be reported "unknown" only
    # once its tries are used up, which fewer kills than tries cannot do.
    assert ROUNDS < alerts_topics.MAX_TRIES
    assert statuses.count("delivered") == phones
    stats = receiver.stats()
    assert stats["errors"] == 0
    assert stats["distinct_subscriptions"] == phones  # every phone got it
    assert stats["max_shown_per_subscription"] == 1  # and none shows it twice

    # Lighting: the latest command applied on every light, each command applied once by its light.
    fleet = outcome["fleet"]
    with read_session(engine) as session:
        rows = session.scalars(select(Streetlight)).all()
        commands = session.scalars(select(LightCommand)).all()
    assert {(r.target_level, r.effect_level) for r in rows} == {(70, 70)}
    assert {round(light.target) for light in fleet.lights.values()} == {70}
    assert not [c for c in commands if c.state in OPEN_COMMAND_STATES]
    assert fleet.stats.commands_applied <= len(commands)  # a repeated command is not applied again


def _progress(engine: Any, receiver: Any) -> tuple[int, int]:  # noqa: F811
    """Pushes received and lighting commands answered so far."""
    with read_session(engine) as session:
        answered = session.scalars(
            select(LightCommand.id).where(LightCommand.state.in_(("accepted", "applied")))
        ).all()
    return int(receiver.stats()["requests"]), len(answered)


def _wait(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def _left(engine: Any, alert_id: int) -> dict[str, Any]:
    """What is not finished, for the failure message."""
    with read_session(engine) as session:
        push = session.scalars(
            select(PushDelivery.status).where(PushDelivery.alert_id == alert_id)
        ).all()
        levels = session.scalars(select(Streetlight.effect_level)).all()
        states = session.scalars(select(LightCommand.state)).all()
    count = lambda values: {v: list(values).count(v) for v in set(values)}  # noqa: E731
    return {"push": count(push), "effect_levels": count(levels), "commands": count(states)}


def _push_done(engine: Any, alert_id: int) -> bool:
    with read_session(engine) as session:
        statuses = session.scalars(
            select(PushDelivery.status).where(PushDelivery.alert_id == alert_id)
        ).all()
    return bool(statuses) and set(statuses) <= PUSH_FINAL


def _lights_done(engine: Any) -> bool:
    with read_session(engine) as session:
        levels = session.scalars(select(Streetlight.effect_level)).all()
        open_commands = session.scalars(
            select(LightCommand.id).where(LightCommand.state.in_(OPEN_COMMAND_STATES))
        ).all()
    return set(levels) == {70} and not open_commands
