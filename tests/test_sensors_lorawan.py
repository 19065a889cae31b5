"""LoRaWAN: an uplink of a ChirpStack v4 MQTT integration, in its documented JSON event format,
published on the broker becomes a reading of the sensor with that device EUI; an uplink of a device
Eclor does not know is counted and dropped, never attached to another."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid

from sqlalchemy import select

from app.db import read_session, write_session
from app.models.sensors import Sensor, SensorMeasure
from app.sensors.lorawan import DEFAULT_TOPIC, Adapter, parse_uplink
from tests.mqtt_fixtures import mqtt_client, run_async

# An uplink as ChirpStack v4 publishes it (integration event "up", JSON marshaler), with the
# decoded payload of a water meter's codec in "object" and its nanosecond time.
CHIRPSTACK_UP = {
    "deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
    "time": "{time}",
    "deviceInfo": {
        "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
        "tenantName": "ChirpStack",
        "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97",
        "applicationName": "Compteurs des bâtiments",
        "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
        "deviceProfileName": "Compteur d'eau",
        "deviceName": "Gymnase - eau",
        "devEui": "{dev_eui}",
        "deviceClassEnabled": "CLASS_A",
        "tags": {"batiment": "gymnase"},
    },
    "devAddr": "00189440",
    "adr": True,
    "dr": 5,
    "fCnt": 10,
    "fPort": 1,
    "confirmed": False,
    "data": "AAAB9AAAHCw=",
    "object": {"waterFlow": 18.5, "volume_l": 125_420.0},
    "rxInfo": [
        {
            "gatewayId": "0016c001f153a14c",
            "uplinkId": 4217106255,
            "rssi": -98,
            "snr": 6.5,
            "channel": 2,
            "location": {"latitude": 49.472, "longitude": 5.955},
            "context": "E3OWOQ==",
            "metadata": {"region_common_name": "EU868", "region_config_id": "eu868"},
            "crcStatus": "CRC_OK",
        }
    ],
    "txInfo": {
        "frequency": 867_100_000,
        "modulation": {"lora": {"bandwidth": 125_000, "spreadingFactor": 7, "codeRate": "CR_4_5"}},
    },
}


def _uplink(dev_eui: str, at: dt.datetime) -> bytes:
    event = json.loads(json.dumps(CHIRPSTACK_UP))
    event["deviceInfo"]["devEui"] = dev_eui
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "242+00:00"  # nanoseconds
    return json.dumps(event).encode()


def test_the_chirpstack_uplink_format_is_read_by_its_dev_eui_and_decoded_object():
    at = dt.datetime.now(dt.UTC)
    uplink = parse_uplink(_uplink("70B3D57ED0041234", at), at)
    assert uplink is not None
    assert (uplink.dev_eui, uplink.values, uplink.rssi) == (
        "70b3d57ed0041234",
        {"waterFlow": 18.5, "volume_l": 125_420.0},
        -98.0,
    )
    assert parse_uplink(b'{"deviceInfo": {"devEui": "70B3"}, "object": {}}', at) is None
    assert parse_uplink(b"not json", at) is None


def test_an_uplink_published_on_the_broker_becomes_a_reading_of_the_device_with_that_dev_eui(
    engine, mqtt_url, topic_prefix
):
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="EAU-GYMNASE",
                kind="water_meter",
                name="Gymnase - eau",
                dev_eui="70b3d57ed0041234",
                meta=json.dumps({"building": "Gymnase", "lorawan_fields": {"waterFlow": "flow"}}),
            )
        )
        session.add(
            Sensor(id="EAU-MAIRIE", kind="water_meter", name="Mairie", dev_eui="70b3d57ed0045678")
        )
    topic_filter = f"{topic_prefix}/{DEFAULT_TOPIC}"
    sent_at = dt.datetime.now(dt.UTC).replace(microsecond=123456)
    adapter = Adapter(engine)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            adapter.run(mqtt_url, topic_filter, stop, f"lorawan-test-{uuid.uuid4().hex[:6]}")
        )
        await asyncio.sleep(0.5)  # subscribed
        async with mqtt_client(mqtt_url) as client:
            application = "17c82e96-be03-4f38-aef3-f83d48582d97"
            for eui in ("70b3d57ed0041234", "0011223344556677"):  # the second: nobody's
                await client.publish(
                    f"{topic_prefix}/application/{application}/device/{eui}/event/up",
                    _uplink(eui.upper(), sent_at),
                    qos=1,
                )
        deadline = time.monotonic() + 10
        while adapter.ingested + adapter.unknown < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, 10)

    run_async(scenario())
    assert (adapter.ingested, adapter.unknown, adapter.invalid) == (1, 1, 0)
    with read_session(engine) as session:
        rows = session.execute(
            select(SensorMeasure.sensor_id, SensorMeasure.ts, SensorMeasure.values_json)
        ).all()
        gym = session.get(Sensor, "EAU-GYMNASE")
        assert gym is not None and gym.last_seen_at is not None
    assert [(r.sensor_id, json.loads(r.values_json)) for r in rows] == [
        ("EAU-GYMNASE", {"volume_l": 125_420.0, "flow": 18.5})
    ]
    assert rows[0].ts.replace(tzinfo=dt.UTC) == sent_at
