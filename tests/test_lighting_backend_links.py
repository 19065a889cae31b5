"""The relay's MQTT backend keeps two connections to the broker: the devices' messages come in over
MQTT 3.1.1 (a PUBLISH without properties for paho to decode, the cheaper path at full telemetry
speed) and commands go out over MQTT 5, which carries their message expiry (DESIGN.md's contract).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from app.db import utcnow
from app.lighting.backend import Inbound, MqttBackend, OutgoingCommand
from app.mqtt import MqttLink
from tests.mqtt_fixtures import mqtt_client, run_async, subscribed_inbox, unique_client_id


def test_the_backend_hears_devices_over_3_1_1_and_sends_commands_with_their_expiry_over_5(
    mqtt_url, topic_prefix
):
    heard: list[Inbound] = []
    backend = MqttBackend(
        mqtt_url,
        topic_prefix,
        heard.append,
        client_id=unique_client_id("relay"),
        share_group="",
    )
    assert backend.inbox.v5 is False and backend.link.v5 is True

    async def scenario() -> tuple[list[object], float]:
        stop = asyncio.Event()
        task = asyncio.create_task(backend.run(stop))
        try:
            await asyncio.wait_for(backend.connected.wait(), 10)
            async with subscribed_inbox(mqtt_url, f"{topic_prefix}/cmd/light/+") as device:
                # A device speaking MQTT 5, with properties on its PUBLISH, is heard all the same.
                props = Properties(PacketTypes.PUBLISH)
                props.ContentType = "application/json"
                props.UserProperty = ("firmware", "2.4.1")
                async with mqtt_client(mqtt_url) as sender:
                    reading = {"ts": utcnow().isoformat(), "level": 40, "power_w": 20.5}
                    await sender.publish(
                        f"{topic_prefix}/tele/light/SL-LINK-1",
                        json.dumps(reading),
                        qos=1,
                        properties=props,
                    )
                    await sender.publish(f"{topic_prefix}/ack/light/SL-LINK-1", b"{", qos=1)
                for _ in range(100):
                    if heard and backend.invalid:
                        break
                    await asyncio.sleep(0.05)
                now = utcnow()
                await backend.send(
                    OutgoingCommand(
                        id=1,
                        command_id="c" * 32,
                        device_id="SL-LINK-1",
                        level=30,
                        ramp_s=2,
                        reason="override",
                        issued_at=now,
                        expires_at=now + dt.timedelta(seconds=90),
                    )
                )
                messages = await device.wait_count(f"{topic_prefix}/cmd/light/SL-LINK-1", 1)
                expiry = messages[0].properties.MessageExpiryInterval
                return [json.loads(m.payload) for m in messages], expiry
        finally:
            stop.set()
            await task

    commands, expiry = run_async(scenario(), timeout=30)
    assert [(h.kind, h.device_id, h.payload["level"]) for h in heard] == [
        ("tele_light", "SL-LINK-1", 40)
    ]
    assert backend.invalid == 1  # the broken ack: counted, not passed on
    assert commands[0]["command_id"] == "c" * 32 and commands[0]["level"] == 30
    assert 85 <= expiry <= 90  # what is left of its validity when it went out
    assert not backend.connected.is_set()  # stopped: both links down


def test_a_3_1_1_link_refuses_a_message_expiry_rather_than_drop_it(mqtt_url, topic_prefix):
    link = MqttLink(mqtt_url, client_id=unique_client_id("v311"), v5=False)

    async def scenario() -> list[bytes]:
        stop = asyncio.Event()
        task = asyncio.create_task(link.run(stop))
        try:
            await asyncio.wait_for(link.connected.wait(), 10)
            async with subscribed_inbox(mqtt_url, f"{topic_prefix}/out") as inbox:
                with pytest.raises(ValueError, match="MQTT 5"):
                    await link.publish(f"{topic_prefix}/out", b"late", expiry_s=30)
                await link.publish(f"{topic_prefix}/out", b"plain")
                await inbox.wait_count(f"{topic_prefix}/out", 1)
                await asyncio.sleep(0.2)  # nothing else comes
                return [bytes(m.payload) for m in inbox.on(f"{topic_prefix}/out")]
        finally:
            stop.set()
            await task

    assert run_async(scenario(), timeout=30) == [b"plain"]
