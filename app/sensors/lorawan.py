"""LoRaWAN: uplinks of a ChirpStack v4 MQTT integration become readings of Eclor's sensors.

ChirpStack publishes each uplink as JSON on ``application/{application_id}/device/{dev_eui}/event/up``
(its documented integration event ``up``): ``deviceInfo.devEui`` names the device, ``object`` is the
payload its codec (the device repository's decoder) decoded, ``time`` when it was received and
``rxInfo`` the gateways that heard it. The worker service :func:`lorawan_service` subscribes to the
topic filter ``ECLOR_LORAWAN_TOPIC`` (by default ``application/+/device/+/event/up``) on the broker
``ECLOR_LORAWAN_MQTT_URL`` (Eclor's own or ChirpStack's; unset: no LoRaWAN), finds each uplink's
sensor by its ``dev_eui`` and hands the decoded values to the same ingestion as ``tele/sensor``
(``measures.ingest_sensor_telemetry``): same bounds, history, rules, events and open data. A sensor's
``meta.lorawan_fields`` may rename the decoder's fields (``{"waterFlow": "flow"}``); an uplink from an
unknown device, or one without a decoded ``object``, is counted and dropped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.db import utcnow, write_session
from app.models.sensors import Sensor
from app.sensors.buildings import Reading

log = logging.getLogger("eclor.sensors.lorawan")
DEFAULT_TOPIC = "application/+/device/+/event/up"
_EUI = re.compile(r"^[0-9a-fA-F]{16}$")


@dataclass(frozen=True)
class Uplink:
    dev_eui: str  # lower-case hex
    values: dict[str, Any]
    time: str | None
    received_at: dt.datetime
    rssi: float | None = None


def parse_uplink(payload: bytes, received_at: dt.datetime) -> Uplink | None:
    """An ``event/up`` message of ChirpStack v4 (JSON), or None when it is not one with decoded values."""
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict):
        return None
    info = event.get("deviceInfo")
    eui = info.get("devEui") if isinstance(info, dict) else None
    values = event.get("object")
    if not isinstance(eui, str) or not _EUI.match(eui) or not isinstance(values, dict):
        return None
    when = event.get("time")
    rx = event.get("rxInfo")
    rssi = None
    if isinstance(rx, list):
        heard = [g.get("rssi") for g in rx if isinstance(g, dict)]
        numbers = [r for r in heard if isinstance(r, int | float) and not isinstance(r, bool)]
        rssi = float(max(numbers)) if numbers else None
    return Uplink(eui.lower(), values, when if isinstance(when, str) else None, received_at, rssi)


def _fields(meta_json: str) -> dict[str, str]:
    try:
        meta = json.loads(meta_json or "{}")
    except ValueError:
        return {}
    names = meta.get("lorawan_fields") if isinstance(meta, dict) else None
    return {str(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}


def readings(session: Session, uplinks: Sequence[Uplink]) -> tuple[list[Reading], int]:
    """The uplinks as readings of the sensors whose ``dev_eui`` they carry; (readings, unknown)."""
    euis = sorted({u.dev_eui for u in uplinks})
    sensors = {
        s.dev_eui: s
        for s in session.scalars(select(Sensor).where(col(Sensor.dev_eui).in_(euis))).all()
    }
    out, unknown = [], 0
    for uplink in uplinks:
        sensor = sensors.get(uplink.dev_eui)
        if sensor is None:
            unknown += 1
            continue
        rename = _fields(sensor.meta)
        values = {rename.get(name, name): value for name, value in uplink.values.items()}
        payload: dict[str, Any] = {**values, "kind": sensor.kind}
        if uplink.time is not None:
            payload["ts"] = _micro(uplink.time)
        out.append(Reading("tele_sensor", sensor.id, payload, uplink.received_at))
    return out, unknown


def _micro(text: str) -> str:
    """ChirpStack writes nanoseconds (``09:34:15.775023242+00:00``); ISO readers take microseconds."""
    return re.sub(r"(\.\d{6})\d+", r"\1", text)


@dataclass
class _Counts:
    invalid: int = 0


@dataclass
class Adapter:
    """Collects uplinks from the broker and ingests them in batches (one transaction a batch)."""

    engine: Engine
    inbox: list[Uplink] = field(default_factory=list)
    received: int = 0
    ingested: int = 0
    unknown: int = 0
    invalid: int = 0

    def on_message(self, topic: str, payload: bytes) -> None:
        uplink = parse_uplink(payload, utcnow())
        self.received += 1
        if uplink is None:
            self.invalid += 1
            return
        self.inbox.append(uplink)

    def ingest_once(self) -> int:
        from app.sensors.measures import ingest_sensor_telemetry

        batch, self.inbox = self.inbox[:5000], self.inbox[5000:]
        if not batch:
            return 0
        counts = _Counts()
        with write_session(self.engine) as session:
            found, unknown = readings(session, batch)
            kept = ingest_sensor_telemetry(session, found, utcnow(), counts) if found else 0
        self.unknown += unknown
        self.invalid += counts.invalid
        self.ingested += kept
        return kept

    async def run(self, url: str, topic: str, stop: asyncio.Event, client_id: str) -> None:
        from app.mqtt import MqttLink, Subscription

        link = MqttLink(
            url,
            client_id=client_id,
            subscriptions=[Subscription(f"$share/eclor-lorawan/{topic}", 1)],
            on_message=self.on_message,
        )
        task = asyncio.create_task(link.run(stop), name="lorawan-link")
        try:
            while not stop.is_set():
                if self.inbox:
                    try:
                        await asyncio.to_thread(self.ingest_once)
                    except Exception:
                        log.exception("LoRaWAN uplinks could not be ingested")
                try:
                    await asyncio.wait_for(stop.wait(), timeout=0.2)
                except TimeoutError:
                    pass
        finally:
            await asyncio.gather(task, return_exceptions=True)
            if self.inbox:
                await asyncio.to_thread(self.ingest_once)


async def lorawan_service(rt: Any) -> None:
    """The worker service: ChirpStack uplinks into the sensors' readings (off while no URL is set)."""
    settings = rt.settings
    if not settings.lorawan_mqtt_url:
        return
    adapter = Adapter(rt.engine)
    rt.state["lorawan"] = adapter
    client_id = "eclor-lorawan-" + re.sub(r"[^A-Za-z0-9_-]", "-", str(rt.worker_id))[:40]
    await adapter.run(settings.lorawan_mqtt_url, settings.lorawan_topic, rt.stop, client_id)
