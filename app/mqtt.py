"""Eclor's one module over aiomqtt: MQTT 5 connection with reconnect, publish, subscribe.

:class:`MqttLink` keeps one connection to the broker alive: it connects with
MQTT 5, subscribes to its topic filters, hands every message received to a
callback, and reconnects with exponential backoff (and jitter) when the broker
goes away. Publishing while disconnected raises :class:`MqttUnavailable` at
once, so callers keep their own outbox (the lighting relay keeps commands in
the database) instead of piling messages in memory.

QoS 1 publications carry the MQTT 5 Message Expiry Interval when given, so a
broker that holds a message for an offline subscriber drops it once stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger("eclor.mqtt")
# aiomqtt logs a warning for every publish waiting for its acknowledgement beyond a few: with
# hundreds of commands in flight on purpose, only its errors are worth reading.
# aiomqtt warns when more publishes than this wait for their acknowledgement.
PENDING_CALLS_WARNING = 2_000
_client_log = logging.getLogger("eclor.mqtt.client")
_client_log.setLevel(logging.ERROR)

MqttError = aiomqtt.MqttError


class MqttUnavailable(RuntimeError):
    """The broker cannot be reached right now; try again after the next reconnect."""


def parse_url(url: str) -> dict[str, Any]:
    """``mqtt://user:pass@host:port`` (or ``mqtts://``) → aiomqtt connection arguments."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"unsupported MQTT URL scheme {parts.scheme!r}: use mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError("MQTT URL without a host")
    secure = parts.scheme in ("mqtts", "ssl")
    options: dict[str, Any] = {
        "hostname": parts.hostname,
        "port": parts.port or (8883 if secure else 1883),
    }
    if parts.username:
        options["username"] = unquote(parts.username)
        options["password"] = unquote(parts.password or "")
    if secure:
        options["tls_context"] = ssl.create_default_context()
    return options


def publish_properties(
    expiry_s: int | None = None, content_type: str = "application/json"
) -> Properties:
    """PUBLISH properties: JSON content type and, when given, the message expiry (s, ≥ 1)."""
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = content_type
    props.PayloadFormatIndicator = 1
    if expiry_s is not None:
        props.MessageExpiryInterval = max(1, int(expiry_s))
    return props


@dataclass(frozen=True)
class Subscription:
    topic_filter: str
    qos: int = 1


OnMessage = Callable[[str, bytes], None]


class MqttLink:
    """One MQTT connection kept alive, with its subscriptions: MQTT 5 by default.

    ``on_message(topic, payload)`` is called on the event loop for every message;
    it must be quick (put the message on a queue). ``session_expiry_s`` > 0
    asks the broker to keep the subscriptions and queue QoS 1 messages while
    the link reconnects.

    ``v5=False`` speaks MQTT 3.1.1, for a link that only receives: paho decodes the
    properties of every MQTT 5 PUBLISH into a new ``Properties`` object, which was
    about 40% of a telemetry subscriber's event loop; a 3.1.1 PUBLISH has none. Such a
    link cannot publish with a message expiry, so one that sends commands stays on 5.
    """

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        subscriptions: Sequence[Subscription] = (),
        on_message: OnMessage | None = None,
        keepalive: int = 30,
        session_expiry_s: int = 0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 20.0,
        will: aiomqtt.Will | None = None,
        max_inflight: int = 1000,
        on_connect: Callable[[], None] | None = None,
        v5: bool = True,
    ) -> None:
        self.url = url
        self.v5 = v5
        self.options = parse_url(url)
        self.client_id = client_id
        self.subscriptions = list(subscriptions)
        self.on_message = on_message
        self.keepalive = keepalive
        self.session_expiry_s = session_expiry_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.will = will
        self.max_inflight = max_inflight
        self.on_connect = on_connect
        self.connected = asyncio.Event()
        self.connections = 0
        self._client: aiomqtt.Client | None = None

    def _make_client(self) -> aiomqtt.Client:
        session: dict[str, Any]
        if self.v5:
            properties = None
            if self.session_expiry_s > 0:
                properties = Properties(PacketTypes.CONNECT)
                properties.SessionExpiryInterval = self.session_expiry_s
            session = {
                "protocol": aiomqtt.ProtocolVersion.V5,
                "clean_start": self.session_expiry_s <= 0,
                "properties": properties,
            }
        else:  # 3.1.1: a kept session has no expiry of its own (the broker's setting applies)
            session = {
                "protocol": aiomqtt.ProtocolVersion.V311,
                "clean_session": self.session_expiry_s <= 0,
            }
        client = aiomqtt.Client(
            **self.options,
            identifier=self.client_id,
            logger=_client_log,
            **session,
            keepalive=self.keepalive,
            will=self.will,
            timeout=10,
            max_inflight_messages=self.max_inflight,
            max_queued_incoming_messages=100_000,
        )
        # Many publishes in flight at once is the relay's normal load, not a warning.
        client.pending_calls_threshold = max(PENDING_CALLS_WARNING, self.max_inflight * 2)
        return client

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, subscribe and receive until ``stop`` is set, reconnecting with backoff."""
        backoff = self.backoff_initial_s
        while not stop.is_set():
            try:
                async with self._make_client() as client:
                    for sub in self.subscriptions:
                        await client.subscribe(sub.topic_filter, qos=sub.qos)
                    self._client = client
                    self.connections += 1
                    self.connected.set()
                    backoff = self.backoff_initial_s
                    log.info("mqtt connected", extra={"client_id": self.client_id})
                    if self.on_connect is not None:
                        self.on_connect()
                    receiver = asyncio.create_task(self._receive(client))
                    stopper = asyncio.create_task(stop.wait())
                    try:
                        await asyncio.wait({receiver, stopper}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        self.connected.clear()
                        self._client = None
                        for task in (receiver, stopper):
                            task.cancel()
                        await asyncio.gather(receiver, stopper, return_exceptions=True)
                    if receiver.done() and not receiver.cancelled():
                        error = receiver.exception()
                        if error:
                            raise error
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                self._client = None
                if stop.is_set():
                    break
                log.warning(
                    "mqtt connection lost",
                    extra={
                        "client_id": self.client_id,
                        "error": str(exc),
                        "retry_in_s": round(backoff, 2),
                    },
                )
            if stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.backoff_max_s)

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            if isinstance(payload, str):
                payload = payload.encode()
            elif not isinstance(payload, bytes | bytearray):
                payload = b""
            if self.on_message is not None:
                self.on_message(str(message.topic), bytes(payload))

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        expiry_s: int | None = None,
        retain: bool = False,
        timeout: float = 10.0,
    ) -> None:
        """Publish and, for QoS ≥ 1, wait for the broker's acknowledgement.

        Raises :class:`MqttUnavailable` when not connected or when the
        connection drops before the broker acknowledged.
        """
        if expiry_s is not None and not self.v5:
            raise ValueError("a message expiry needs MQTT 5")
        client = self._client
        if client is None or not self.connected.is_set():
            raise MqttUnavailable("not connected to the MQTT broker")
        try:
            await client.publish(
                topic,
                payload,
                qos=qos,
                retain=retain,
                properties=publish_properties(expiry_s) if self.v5 else None,
                timeout=timeout,
            )
        except (aiomqtt.MqttError, TimeoutError) as exc:
            raise MqttUnavailable(str(exc)) from exc


__all__ = [
    "MqttError",
    "MqttLink",
    "MqttUnavailable",
    "Subscription",
    "parse_url",
    "publish_properties",
]
