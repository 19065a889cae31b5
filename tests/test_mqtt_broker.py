"""The embedded MQTT broker, driven by aiomqtt clients (MQTT 5 and 3.1.1) and raw sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from typing import Any

import aiomqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from app.mqtt_broker import EmbeddedBroker, start_in_thread, topic_matches
from tests.mqtt_fixtures import Inbox, mqtt_client, run_async, unique_client_id

# --------------------------------------------------------------------------- raw client


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        out.append(digit | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _str(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _varint(len(body)) + body


def connect_packet(
    client_id: str,
    *,
    v5: bool = True,
    keepalive: int = 60,
    clean: bool = True,
    session_expiry: int | None = None,
    will: tuple[str, bytes, int, bool] | None = None,
    will_delay: int | None = None,
) -> bytes:
    flags = 0x02 if clean else 0
    payload = _str(client_id)
    if will is not None:
        topic, message, qos, retain = will
        flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
        will_props = b"" if will_delay is None else b"\x18" + struct.pack("!I", will_delay)
        if v5:
            payload += _varint(len(will_props)) + will_props
        payload += _str(topic) + struct.pack("!H", len(message)) + message
    props = b""
    if session_expiry is not None:
        props = b"\x11" + struct.pack("!I", session_expiry)
    header = _str("MQTT") + bytes((5 if v5 else 4, flags)) + struct.pack("!H", keepalive)
    if v5:
        header += _varint(len(props)) + props
    return _packet(0x10, header + payload)


def subscribe_packet(packet_id: int, topic_filter: str, qos: int, *, v5: bool = True) -> bytes:
    body = struct.pack("!H", packet_id) + (b"\x00" if v5 else b"") + _str(topic_filter)
    return _packet(0x82, body + bytes((qos,)))


def publish_packet(topic: str, payload: bytes, qos: int = 0, packet_id: int = 0) -> bytes:
    body = _str(topic) + (struct.pack("!H", packet_id) if qos else b"") + b"\x00" + payload
    return _packet(0x30 | qos << 1, body)


class RawClient:
    """A bare MQTT 5 client on a socket, to do what well-behaved libraries never do."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def packet(self, timeout: float = 3.0) -> tuple[int, int, bytes] | None:
        """Next packet as (type, flags, body); None when the broker closed the connection."""

        async def read() -> tuple[int, int, bytes] | None:
            try:
                first = (await self.reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    digit = (await self.reader.readexactly(1))[0]
                    length |= (digit & 0x7F) << shift
                    shift += 7
                    if not digit & 0x80:
                        break
                body = await self.reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            return first >> 4, first & 0x0F, body

        return await asyncio.wait_for(read(), timeout)

    async def connect(self, client_id: str, **options: Any) -> bytes:
        await self.send(connect_packet(client_id, **options))
        packet = await self.packet()
        assert packet is not None and packet[0] == 2, packet
        return packet[2]

    async def closed_by_broker(self, timeout: float = 3.0) -> bool:
        """Read until the broker closes the connection (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                packet = await self.packet(deadline - time.monotonic())
            except TimeoutError:
                return False
            if packet is None:
                return True
        return False

    def abort(self) -> None:
        """Drop the TCP connection without DISCONNECT."""
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def _url(broker: EmbeddedBroker) -> str:
    return broker.url


async def _next(client: aiomqtt.Client, timeout: float = 3.0) -> aiomqtt.Message:
    async def first() -> aiomqtt.Message:
        async for message in client.messages:
            return message
        raise AssertionError("message iteration ended")

    return await asyncio.wait_for(first(), timeout)


async def _nothing_within(client: aiomqtt.Client, seconds: float) -> bool:
    try:
        message = await _next(client, seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected message on {message.topic}: {message.payload!r}")


# --------------------------------------------------------------------------- topic matching


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("eclor/tele/light/+", "eclor/tele/light/SL-AUD-0001", True),
        ("eclor/tele/light/+", "eclor/tele/light/SL-AUD-0001/x", False),
        ("eclor/#", "eclor", True),
        ("eclor/#", "eclor/a/b/c", True),
        ("eclor/+/light/#", "eclor/ack/light/SL-1", True),
        ("+/+", "/x", True),
        ("#", "$SYS/uptime", False),
        ("+/uptime", "$SYS/uptime", False),
        ("$SYS/#", "$SYS/uptime", True),
    ],
)
def test_topic_filters_follow_the_mqtt_matching_rules(
    topic_filter: str, topic: str, expected: bool
) -> None:
    assert topic_matches(topic_filter, topic) is expected


# --------------------------------------------------------------------------- pub/sub


def test_a_subscriber_receives_what_matches_its_plus_and_hash_filters() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            url = _url(broker)
            async with (
                mqtt_client(url) as plus,
                mqtt_client(url) as hash_,
                mqtt_client(url, v5=False) as publisher,
            ):
                await plus.subscribe("eclor/tele/light/+", qos=1)
                await hash_.subscribe("eclor/#", qos=1)
                await publisher.publish("eclor/tele/light/SL-AUD-0001", b"1", qos=1)
                await publisher.publish("eclor/tele/sensor/WC-AUD-01", b"2", qos=1)
                await publisher.publish("other/tele/light/SL-AUD-0001", b"3", qos=1)

                first = await _next(plus)
                assert (str(first.topic), first.payload) == ("eclor/tele/light/SL-AUD-0001", b"1")
                assert await _nothing_within(plus, 0.2)
                received = [await _next(hash_), await _next(hash_)]
                assert [m.payload for m in received] == [b"1", b"2"]
                assert await _nothing_within(hash_, 0.2)

    run_async(scenario())


def test_wildcards_at_the_first_level_do_not_match_dollar_topics() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            url = _url(broker)
            async with (
                mqtt_client(url) as wildcard,
                mqtt_client(url) as explicit,
                mqtt_client(url) as publisher,
            ):
                await wildcard.subscribe("#")
                await wildcard.subscribe("+/status")
                await explicit.subscribe("$eclor/status")
                await publisher.publish("$eclor/status", b"up")
                message = await _next(explicit)
                assert message.payload == b"up"
                assert await _nothing_within(wildcard, 0.2)

    run_async(scenario())


def test_the_broker_says_whether_a_topic_has_a_subscriber() -> None:
    """What the demo fleet waits for before its first reports (QoS 0: sent to no subscriber, lost)."""

    async def scenario() -> None:
        async with EmbeddedBroker() as broker, mqtt_client(broker.url) as client:
            assert not broker.has_subscriber("eclor/tele/light/SL-1")
            await client.subscribe("$share/relay/eclor/tele/+/#")
            assert broker.has_subscriber("eclor/tele/light/SL-1")
            assert not broker.has_subscriber("eclor/cmd/light/SL-1")
            await client.unsubscribe("$share/relay/eclor/tele/+/#")
            assert not broker.has_subscriber("eclor/tele/light/SL-1")

    run_async(scenario())


def test_unsubscribing_stops_the_delivery() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker, mqtt_client(broker.url) as client:
            await client.subscribe("eclor/alerts/#")
            await client.publish("eclor/alerts/flood", b"1")
            assert (await _next(client)).payload == b"1"
            await client.unsubscribe("eclor/alerts/#")
            await client.publish("eclor/alerts/flood", b"2")
            assert await _nothing_within(client, 0.2)

    run_async(scenario())


def test_delivery_uses_the_lower_of_the_publish_and_subscription_qos() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            url = broker.url
            async with (
                mqtt_client(url) as low,
                mqtt_client(url) as high,
                mqtt_client(url) as publisher,
            ):
                await low.subscribe("eclor/cmd/#", qos=0)
                await high.subscribe("eclor/cmd/#", qos=1)
                # publish() with QoS 1 returns once the broker's PUBACK arrived.
                await publisher.publish("eclor/cmd/light/SL-1", b"qos1", qos=1)
                await publisher.publish("eclor/cmd/light/SL-1", b"qos0", qos=0)
                assert [(m.payload, m.qos) for m in (await _next(low), await _next(low))] == [
                    (b"qos1", 0),
                    (b"qos0", 0),
                ]
                assert [(m.payload, m.qos) for m in (await _next(high), await _next(high))] == [
                    (b"qos1", 1),
                    (b"qos0", 0),
                ]

    run_async(scenario())


def test_a_qos2_message_is_delivered_exactly_once() -> None:
    async def scenario() -> None:
        async with (
            EmbeddedBroker() as broker,
            mqtt_client(broker.url) as subscriber,
            mqtt_client(broker.url, v5=False) as publisher,
        ):
            await subscriber.subscribe("eclor/once", qos=2)
            await publisher.publish("eclor/once", b"exactly", qos=2)
            message = await _next(subscriber)
            assert (message.payload, message.qos) == (b"exactly", 2)
            assert await _nothing_within(subscriber, 0.3)

    run_async(scenario())


def test_user_properties_and_content_type_pass_through() -> None:
    async def scenario() -> None:
        async with (
            EmbeddedBroker() as broker,
            mqtt_client(broker.url) as subscriber,
            mqtt_client(broker.url) as publisher,
        ):
            await subscriber.subscribe("eclor/props", qos=1)
            properties = Properties(PacketTypes.PUBLISH)
            properties.ContentType = "application/json"
            properties.UserProperty = [("source", "fleet"), ("commune", "57038")]
            properties.CorrelationData = b"\x01\x02"
            await publisher.publish("eclor/props", b"{}", qos=1, properties=properties)
            message = await _next(subscriber)
            assert message.properties is not None
            assert message.properties.ContentType == "application/json"
            assert message.properties.UserProperty == [
                ("source", "fleet"),
                ("commune", "57038"),
            ]
            assert message.properties.CorrelationData == b"\x01\x02"

    run_async(scenario())


def test_a_shared_subscription_splits_the_messages_between_its_members() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            url = broker.url
            async with (
                mqtt_client(url) as first,
                mqtt_client(url) as second,
                mqtt_client(url) as publisher,
            ):
                await first.subscribe("$share/workers/eclor/tele/#", qos=1)
                await second.subscribe("$share/workers/eclor/tele/#", qos=1)
                for index in range(10):
                    await publisher.publish(f"eclor/tele/light/SL-{index}", b"x", qos=1)
                inboxes = [Inbox(first), Inbox(second)]
                for inbox in inboxes:
                    inbox.start()
                await asyncio.wait_for(
                    asyncio.gather(*(inbox.wait_for(lambda m: len(m) >= 5) for inbox in inboxes)),
                    5,
                )
                await asyncio.sleep(0.1)
                counts = [len(inbox.messages) for inbox in inboxes]
                for inbox in inboxes:
                    await inbox.close()
                assert counts == [5, 5]

    run_async(scenario())


# --------------------------------------------------------------------------- retained


def test_a_retained_message_reaches_a_late_subscriber_and_an_empty_one_deletes_it() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            url = broker.url
            async with mqtt_client(url) as publisher:
                await publisher.publish("eclor/status/SL-AUD-0001", b'"online"', qos=1, retain=True)
                async with mqtt_client(url) as late:
                    await late.subscribe("eclor/status/+", qos=1)
                    message = await _next(late)
                    assert (message.payload, message.retain) == (b'"online"', True)
                await publisher.publish("eclor/status/SL-AUD-0001", b"", qos=1, retain=True)
                async with mqtt_client(url) as later:
                    await later.subscribe("eclor/status/#", qos=1)
                    assert await _nothing_within(later, 0.2)
                assert broker.retained_count == 0

    run_async(scenario())


# --------------------------------------------------------------------------- sessions


def test_a_persistent_session_gets_the_qos1_messages_sent_while_it_was_away() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            url = broker.url
            client_id = unique_client_id("worker")
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 60
            async with mqtt_client(
                url, identifier=client_id, clean_start=True, properties=properties
            ) as worker:
                await worker.subscribe("eclor/ack/light/+", qos=1)
            async with mqtt_client(url) as publisher:
                for index in range(3):
                    await publisher.publish(f"eclor/ack/light/SL-{index}", b"%d" % index, qos=1)
                await publisher.publish("eclor/ack/light/SL-9", b"qos0 is not kept", qos=0)
            async with mqtt_client(
                url, identifier=client_id, clean_start=False, properties=properties
            ) as worker:
                received = [await _next(worker) for _ in range(3)]
                assert [m.payload for m in received] == [b"0", b"1", b"2"]
                assert all(m.qos == 1 for m in received)
                assert await _nothing_within(worker, 0.2)

    run_async(scenario())


def test_an_unacknowledged_qos1_message_is_sent_again_with_dup_after_reconnect() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            raw = await RawClient.open(broker.port)
            connack = await raw.connect("device-1", clean=True, session_expiry=60)
            assert connack[:2] == b"\x00\x00"
            await raw.send(subscribe_packet(1, "eclor/cmd/light/SL-AUD-0001", 1))
            assert (await raw.packet())[0] == 9
            async with mqtt_client(broker.url) as server:
                await server.publish("eclor/cmd/light/SL-AUD-0001", b'{"level":40}', qos=1)
            packet_type, flags, body = await raw.packet()
            assert packet_type == 3 and flags & 0x08 == 0 and (flags >> 1) & 3 == 1
            raw.abort()  # never acknowledged
            await raw.close()

            again = await RawClient.open(broker.port)
            connack = await again.connect("device-1", clean=False, session_expiry=60)
            assert connack[0] == 1  # session present
            packet_type, flags, redelivered = await again.packet()
            assert packet_type == 3 and flags & 0x08  # DUP
            assert redelivered == body
            offset = 2 + len("eclor/cmd/light/SL-AUD-0001")
            packet_id = struct.unpack("!H", redelivered[offset : offset + 2])[0]
            await again.send(_packet(0x40, struct.pack("!H", packet_id)))
            await again.close()

    run_async(scenario())


def test_a_second_connection_with_the_same_client_id_takes_over() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            client_id = unique_client_id("gateway")
            first = mqtt_client(broker.url, identifier=client_id)
            await first.__aenter__()
            try:
                async with mqtt_client(broker.url, identifier=client_id) as second:
                    with pytest.raises(aiomqtt.MqttError):
                        await _next(first, 3.0)
                    await second.subscribe("eclor/x")
                    await second.publish("eclor/x", b"still here")
                    assert (await _next(second)).payload == b"still here"
            finally:
                with contextlib.suppress(aiomqtt.MqttError):
                    await first.__aexit__(None, None, None)

    run_async(scenario())


def test_an_empty_client_id_gets_an_assigned_one_in_the_connack_properties() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            raw = await RawClient.open(broker.port)
            connack = await raw.connect("")
            assert connack[:2] == b"\x00\x00"
            properties = connack[3:]
            assert len(properties) == connack[2]
            assert b"\x12" in properties and b"eclor-auto-" in properties
            await raw.close()

    run_async(scenario())


def test_an_mqtt_311_client_with_an_empty_id_and_a_persistent_session_is_refused() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            raw = await RawClient.open(broker.port)
            connack = await raw.connect("", v5=False, clean=False)
            assert connack == b"\x00\x02"
            assert await raw.closed_by_broker()
            await raw.close()

    run_async(scenario())


# --------------------------------------------------------------------------- will


def test_the_last_will_is_published_and_retained_when_a_client_drops_abruptly() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            async with mqtt_client(broker.url) as watcher:
                await watcher.subscribe("eclor/status/#", qos=1)
                raw = await RawClient.open(broker.port)
                await raw.connect(
                    "fleet-1", will=("eclor/status/GW-1", b'"offline"', 1, True), keepalive=30
                )
                raw.abort()
                await raw.close()
                message = await _next(watcher)
                assert (str(message.topic), message.payload) == ("eclor/status/GW-1", b'"offline"')
            async with mqtt_client(broker.url) as late:
                await late.subscribe("eclor/status/GW-1")
                message = await _next(late)
                assert (message.payload, message.retain) == (b'"offline"', True)

    run_async(scenario())


def test_a_delayed_will_is_cancelled_by_a_reconnect_and_sent_otherwise() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker, mqtt_client(broker.url) as watcher:
            await watcher.subscribe("eclor/status/#")
            will = ("eclor/status/GW-3", b"late", 0, False)
            first = await RawClient.open(broker.port)
            await first.connect("gw-3", will=will, will_delay=1, session_expiry=30)
            first.abort()
            await first.close()
            back = await RawClient.open(broker.port)
            await back.connect("gw-3", clean=False, session_expiry=30)
            assert await _nothing_within(watcher, 1.3)  # came back in time: no will
            await back.send(b"\xe0\x00")  # clean DISCONNECT
            await back.close()

            again = await RawClient.open(broker.port)
            gone = ("eclor/status/GW-4", b"gone", 0, False)
            await again.connect("gw-4", will=gone, will_delay=1, session_expiry=30)
            started = time.monotonic()
            again.abort()
            await again.close()
            message = await _next(watcher, 3.0)
            assert message.payload == b"gone"
            assert time.monotonic() - started >= 0.9

    run_async(scenario())


def test_a_clean_disconnect_does_not_publish_the_will() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            async with mqtt_client(broker.url) as watcher:
                await watcher.subscribe("eclor/status/#")
                will = aiomqtt.Will("eclor/status/GW-2", b'"offline"', qos=1, retain=True)
                async with mqtt_client(broker.url, will=will):
                    pass
                assert await _nothing_within(watcher, 0.3)
            assert broker.retained_count == 0

    run_async(scenario())


def test_a_client_silent_for_one_and_a_half_keep_alives_is_dropped_and_its_will_sent() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker, mqtt_client(broker.url) as watcher:
            await watcher.subscribe("eclor/status/#")
            raw = await RawClient.open(broker.port)
            await raw.connect("sleepy", keepalive=1, will=("eclor/status/S", b"gone", 0, False))
            started = time.monotonic()
            assert await raw.closed_by_broker(timeout=6.0)
            elapsed = time.monotonic() - started
            assert 1.3 <= elapsed <= 4.0  # 1.5 s plus scheduling slack on a busy machine
            await raw.close()
            assert (await _next(watcher)).payload == b"gone"

    run_async(scenario())


# --------------------------------------------------------------------------- expiry


def test_an_expired_message_is_not_delivered_and_the_remaining_interval_is_forwarded() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker:
            url = broker.url
            client_id = unique_client_id("offline")
            connect_properties = Properties(PacketTypes.CONNECT)
            connect_properties.SessionExpiryInterval = 60
            async with mqtt_client(url, identifier=client_id, properties=connect_properties) as c:
                await c.subscribe("eclor/expiring/#", qos=1)
            async with mqtt_client(url) as publisher, mqtt_client(url) as online:
                await online.subscribe("eclor/expiring/#", qos=1)
                short = Properties(PacketTypes.PUBLISH)
                short.MessageExpiryInterval = 1
                long = Properties(PacketTypes.PUBLISH)
                long.MessageExpiryInterval = 120
                await publisher.publish(
                    "eclor/expiring/a", b"short", qos=1, retain=True, properties=short
                )
                await publisher.publish("eclor/expiring/b", b"long", qos=1, properties=long)
                forwarded = [await _next(online), await _next(online)]
                assert forwarded[0].properties.MessageExpiryInterval <= 1
                assert 119 <= forwarded[1].properties.MessageExpiryInterval <= 120
            await asyncio.sleep(1.2)
            async with mqtt_client(
                url, identifier=client_id, clean_start=False, properties=connect_properties
            ) as back:
                message = await _next(back)
                assert message.payload == b"long"
                assert await _nothing_within(back, 0.2)
            async with mqtt_client(url) as late:
                await late.subscribe("eclor/expiring/a")
                assert await _nothing_within(late, 0.2)

    run_async(scenario())


# --------------------------------------------------------------------------- robustness


def test_a_malformed_packet_closes_only_that_connection() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker() as broker, mqtt_client(broker.url) as healthy:
            await healthy.subscribe("eclor/ok")
            bad = await RawClient.open(broker.port)
            await bad.connect("bad-device")
            await bad.send(b"\x36\x03\x00\x01a")  # PUBLISH with QoS 3
            assert await bad.closed_by_broker()
            garbage = await RawClient.open(broker.port)
            await garbage.send(b"\x10\xff\xff\xff\xff\x7f")  # 5-byte remaining length
            assert await garbage.closed_by_broker()
            not_mqtt = await RawClient.open(broker.port)
            await not_mqtt.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert await not_mqtt.closed_by_broker()
            for raw in (bad, garbage, not_mqtt):
                await raw.close()
            await healthy.publish("eclor/ok", b"still served")
            assert (await _next(healthy)).payload == b"still served"

    run_async(scenario())


def test_a_packet_over_the_size_limit_is_refused_without_reading_it() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker(max_packet_size=1024) as broker:
            raw = await RawClient.open(broker.port)
            await raw.connect("big-sender")
            await raw.send(b"\x30" + _varint(10_000) + b"\x00\x01a")
            assert await raw.closed_by_broker()
            await raw.close()

    run_async(scenario())


def test_the_offline_queue_of_a_session_is_bounded() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker(max_queued_messages=5) as broker:
            url = broker.url
            client_id = unique_client_id("slow")
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 60
            async with mqtt_client(url, identifier=client_id, properties=properties) as c:
                await c.subscribe("eclor/q", qos=1)
            async with mqtt_client(url) as publisher:
                for index in range(20):
                    await publisher.publish("eclor/q", b"%d" % index, qos=1)
            assert broker.messages_dropped == 15
            async with mqtt_client(
                url, identifier=client_id, clean_start=False, properties=properties
            ) as back:
                received = [(await _next(back)).payload for _ in range(5)]
                assert received == [b"0", b"1", b"2", b"3", b"4"]
                assert await _nothing_within(back, 0.2)

    run_async(scenario())


def test_the_thread_helper_serves_synchronous_callers_and_stops() -> None:
    handle = start_in_thread()
    port = handle.port
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(connect_packet("sync-caller", v5=False))
        assert sock.recv(4) == b"\x20\x02\x00\x00"
        sock.sendall(b"\xc0\x00")  # PINGREQ
        assert sock.recv(2) == b"\xd0\x00"
    handle.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
