"""A subscription's notification reaches a partner's HTTP receiver after a telemetry change:
real telemetry from the fleet simulator over MQTT (embedded broker, or Mosquitto with
ECLOR_TEST_MQTT_URL), stored by the relay, noticed and sent by the worker's notifier service."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

from app.db import read_session, write_session
from app.models.ngsi import NgsiSubscription
from app.sensors import ngsi_notifier
from app.sensors import ngsi_subscriptions as subs
from tests import mqtt_fixtures
from tests.lighting_helpers import eventually, running_fleet, running_relay, seed_lights
from tests.mqtt_fixtures import run_async
from tests.ngsi_receiver import Receiver

embedded_broker = mqtt_fixtures.embedded_broker
mqtt_url = mqtt_fixtures.mqtt_url
topic_prefix = mqtt_fixtures.topic_prefix


def test_a_broken_lamp_reported_over_mqtt_is_notified_within_two_seconds(
    client, engine, settings, mqtt_url, topic_prefix
) -> None:
    lights = seed_lights(engine, 20)
    with write_session(engine) as session:
        key = subs.issue_key(session, "Partenaire")[1]
    with Receiver() as receiver:
        made = client.post(
            "/ngsi-ld/v1/subscriptions",
            json={
                "type": "Subscription",
                "entities": [{"type": "Streetlight"}],
                "watchedAttributes": ["status"],
                "q": 'status=="defectiveLamp"',
                "notification": {"endpoint": {"uri": f"{receiver.base}/notify"}},
            },
            headers={"x-api-key": key},
        )
        assert made.status_code == 201, made.text
        sub_id = made.headers["location"].rsplit("/", 1)[1]

        def looked() -> bool:
            with read_session(engine) as session:
                row = session.get(NgsiSubscription, sub_id)
                return row is not None and row.event_cursor is not None

        async def scenario() -> float:
            rt = SimpleNamespace(
                settings=settings, engine=engine, worker_id="notifier", stop=asyncio.Event()
            )
            notifier = asyncio.create_task(ngsi_notifier.notifier_service(rt))
            try:
                async with (
                    running_fleet(mqtt_url, topic_prefix, lights, period=0.2) as fleet,
                    running_relay(engine, mqtt_url, topic_prefix),
                ):
                    await eventually(looked, timeout=10)
                    await asyncio.sleep(0.5)  # readings of the healthy fleet flow meanwhile
                    assert receiver.received() == []
                    changed = time.monotonic()
                    fleet.set_defective(lights[7])
                    got = await asyncio.to_thread(receiver.wait, 1, "/notify", 10.0)
                    assert got, "no notification"
                    delay = got[0].at - changed
                    await asyncio.sleep(
                        1.0
                    )  # later readings of the same state: no new notification
                    assert len(receiver.received()) == 1
                    return delay
            finally:
                rt.stop.set()
                await asyncio.wait_for(notifier, 10)

        delay = run_async(scenario(), timeout=60)
        [note] = receiver.received()
        assert note.body["subscriptionId"] == sub_id
        assert [e["id"] for e in note.body["data"]] == [f"urn:ngsi-ld:Streetlight:{lights[7]}"]
        assert note.body["data"][0]["status"]["value"] == "defectiveLamp"
        # The 2 s target is measured in bench/ngsi.py (no timed assertion here).
        print(f"notification {delay * 1000:.0f} ms after the lamp broke (0.2 s telemetry period)")
