"""The lighting relay's device side: what it sends (:class:`OutgoingCommand`), what it hears
(:class:`Inbound`), the backend interface (:class:`LightingBackend`) and the MQTT backend that speaks
DESIGN.md's contract (:class:`MqttBackend`). Used by ``app.lighting.relay``; a TALQ gateway backend
would implement the same interface."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.db import utcnow
from app.lighting.messages import command_payload, parse_time, topic

UTC = dt.UTC


# --------------------------------------------------------------------------- backend interface


@dataclass(frozen=True)
class OutgoingCommand:
    id: int
    command_id: str
    device_id: str
    level: int
    ramp_s: int
    reason: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    override_id: int | None = None  # the staff override it carries out (a group's, a light's)

    def payload(self) -> dict[str, Any]:
        return command_payload(
            self.command_id,
            self.level,
            ramp_s=self.ramp_s,
            reason=self.reason,
            issued_at=self.issued_at,
            expires_at=self.expires_at,
        )


@dataclass(frozen=True)
class Inbound:
    """A message from a device: ``kind`` is ``ack``, ``tele_light``, ``tele_sensor`` or ``status``."""

    kind: str
    device_id: str
    payload: Any
    received_at: dt.datetime


class BackendUnavailable(RuntimeError):
    """The backend cannot take a command now (broker or gateway down)."""


class LightingBackend(Protocol):
    """What the relay needs from a device backend (MQTT, a TALQ gateway over HTTP...)."""

    connected: asyncio.Event

    async def run(self, stop: asyncio.Event) -> None:
        """Keep the link up until ``stop``; call the sink for every message from the devices."""

    async def send(self, command: OutgoingCommand) -> None:
        """Hand one command to the device; raise :class:`BackendUnavailable` when it cannot."""


def parse_ts(value: Any, default: dt.datetime) -> dt.datetime:
    """A time a device sent (an ack's), else ``default``."""
    try:
        return parse_time(value)
    except (ValueError, OverflowError):
        return default


_DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class MqttBackend:
    """DESIGN.md's MQTT contract: commands on ``{p}/cmd/light/{id}``, answers and telemetry back.

    Subscriptions are shared (``$share/eclor-relay/...``) so several workers
    split the telemetry between them instead of each ingesting all of it.
    """

    def __init__(
        self,
        url: str,
        prefix: str,
        sink: Callable[[Inbound], None],
        *,
        client_id: str,
        share_group: str = "eclor-relay",
    ) -> None:
        from app.mqtt import MqttLink, Subscription

        self.prefix = prefix.rstrip("/")
        self.sink = sink
        self.invalid = 0
        base = f"$share/{share_group}/{self.prefix}" if share_group else self.prefix
        self._kinds = {"ack/light": "ack", "tele/light": "tele_light", "tele/sensor": "tele_sensor"}
        subs = [Subscription(f"{base}/{topic}/+", 1) for topic in self._kinds]
        subs.append(Subscription(f"{base}/status/+", 1))
        # Two connections: the devices' messages come in over MQTT 3.1.1, whose PUBLISH carries no
        # properties for paho to decode (that decoding was about 40% of the relay's event loop at
        # full telemetry speed); commands go out over MQTT 5, which carries their message expiry.
        self.inbox = MqttLink(
            url,
            client_id=f"{client_id}-in",
            subscriptions=subs,
            on_message=self._on_message,
            v5=False,
        )
        self.link = MqttLink(url, client_id=client_id)
        self.connected = asyncio.Event()  # both up: a command can go out and its answers come back

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self.inbox.run(stop), self.link.run(stop), self._follow(stop))

    async def _follow(self, stop: asyncio.Event) -> None:
        links = (self.inbox.connected, self.link.connected)
        while not stop.is_set():
            if all(up.is_set() for up in links):
                self.connected.set()
            else:
                self.connected.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
        self.connected.clear()

    def _on_message(self, topic: str, payload: bytes) -> None:
        if not topic.startswith(self.prefix + "/"):
            return
        rest = topic[len(self.prefix) + 1 :]
        head, _, device_id = rest.rpartition("/")
        kind = self._kinds.get(head) or ("status" if head == "status" else None)
        if kind is None or not _DEVICE_ID.match(device_id):
            return
        try:
            data = json.loads(payload) if payload else None
        except (ValueError, UnicodeDecodeError):
            self.invalid += 1
            return
        self.sink(Inbound(kind, device_id, data, utcnow()))

    async def send(self, command: OutgoingCommand) -> None:
        from app.mqtt import MqttUnavailable

        remaining = (command.expires_at - utcnow()).total_seconds()
        if remaining <= 0:
            raise BackendUnavailable("expired")
        body = json.dumps(command.payload(), separators=(",", ":")).encode()
        try:
            await self.link.publish(
                topic(self.prefix, "cmd/light", command.device_id),
                body,
                qos=1,
                expiry_s=max(1, math.floor(remaining)),
            )
        except MqttUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
