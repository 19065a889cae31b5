"""The embedded broker under a burst: held publishers instead of lost QoS 1 messages, counted QoS 0 drops,
packets over the size limit refused with a reason, and the limit as a setting."""

from __future__ import annotations

import asyncio
import logging
import struct

from app.mqtt_broker import EmbeddedBroker
from tests.mqtt_fixtures import run_async
from tests.test_mqtt_broker import (
    RawClient,
    _packet,
    _str,
    _varint,
    connect_packet,
    subscribe_packet,
)

PUBLISH, PUBACK, DISCONNECT = 3, 4, 14


def v5_connect(client_id: str, *, receive_maximum: int) -> bytes:
    props = b"\x21" + struct.pack("!H", receive_maximum)
    header = _str("MQTT") + bytes((5, 0x02)) + struct.pack("!H", 60) + _varint(len(props)) + props
    return _packet(0x10, header + _str(client_id))


def qos1_publish(topic: str, payload: bytes, packet_id: int) -> bytes:
    return _packet(0x32, _str(topic) + struct.pack("!H", packet_id) + b"\x00" + payload)


def payload_of(body: bytes) -> bytes:
    """The application payload of a QoS 1 MQTT 5 PUBLISH body."""
    topic_length = struct.unpack("!H", body[:2])[0]
    pos = 2 + topic_length + 2
    props_length, shift = 0, 0
    while True:
        digit = body[pos]
        pos += 1
        props_length |= (digit & 0x7F) << shift
        shift += 7
        if not digit & 0x80:
            break
    return body[pos + props_length :]


async def slow_subscriber(port: int, topic: str, expected: int, received: list[bytes]) -> None:
    """An MQTT 5 client with Receive Maximum 20 that acknowledges at its own pace."""
    sub = await RawClient.open(port)
    sub.writer.write(v5_connect("slow-board", receive_maximum=20))
    assert (await sub.packet())[0] == 2
    await sub.send(subscribe_packet(1, topic, 1))
    assert (await sub.packet())[0] == 9
    ready.set()
    while len(received) < expected:
        packet = await sub.packet(timeout=15)
        assert packet is not None, f"connection closed after {len(received)} messages"
        kind, _flags, body = packet
        if kind != PUBLISH:
            continue
        packet_id = struct.unpack("!H", body[2 + struct.unpack("!H", body[:2])[0] :][:2])[0]
        received.append(payload_of(body))
        if len(received) % 250 == 0:
            await asyncio.sleep(0.02)  # a phone on a bad network, a busy dashboard
        sub.writer.write(_packet(PUBACK << 4, struct.pack("!H", packet_id)))
    await sub.close()


ready = asyncio.Event()


async def fast_publisher(port: int, topic: str, count: int, window: int) -> int:
    """Sends ``count`` QoS 1 messages keeping up to ``window`` unacknowledged (the broker's receive maximum)."""
    pub = await RawClient.open(port)
    await pub.connect("fleet-gateway")
    in_flight = asyncio.Semaphore(window)
    acked = 0

    async def read_acks() -> None:
        nonlocal acked
        while acked < count:
            packet = await pub.packet(timeout=30)
            assert packet is not None
            if packet[0] == PUBACK:
                acked += 1
                in_flight.release()

    reader = asyncio.create_task(read_acks())
    for index in range(count):
        await in_flight.acquire()
        pub.writer.write(qos1_publish(topic, b"%05d" % index, index % 65535 + 1))
        if index % 100 == 0:
            await pub.writer.drain()
    await reader
    await pub.close()
    return acked


def test_a_burst_of_20000_qos1_messages_all_reach_a_slow_v5_subscriber_with_receive_maximum_20() -> (
    None
):
    count = 20_000

    async def scenario() -> None:
        global ready
        ready = asyncio.Event()
        async with EmbeddedBroker() as broker:
            received: list[bytes] = []
            subscriber = asyncio.create_task(
                slow_subscriber(broker.port, "eclor/tele/burst", count, received)
            )
            await asyncio.wait_for(ready.wait(), 5)
            acked = await asyncio.wait_for(
                fast_publisher(broker.port, "eclor/tele/burst", count, 1024), 120
            )
            await asyncio.wait_for(subscriber, 120)
            assert acked == count
            assert len(received) == count and received == [b"%05d" % i for i in range(count)]
            assert broker.messages_dropped == 0 and broker.queued_dropped == 0
            assert broker.publishers_held > 0  # the publisher was slowed down, not lied to

    run_async(scenario(), timeout=120)


def test_qos0_messages_dropped_for_a_reader_that_does_not_keep_up_are_counted() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker(max_write_buffer=4096) as broker:
            idle = await RawClient.open(broker.port)
            await idle.connect("never-reads")
            await idle.send(subscribe_packet(1, "eclor/tele/#", 0))
            assert (await idle.packet())[0] == 9
            idle.writer.transport.pause_reading()
            pub = await RawClient.open(broker.port)
            await pub.connect("sensor")
            for index in range(3000):
                pub.writer.write(
                    _packet(0x30, _str("eclor/tele/air") + b"\x00" + b"x" * 10_000 + b"%d" % index)
                )
            await pub.writer.drain()
            for _ in range(100):
                if broker.messages_received == 3000:
                    break
                await asyncio.sleep(0.05)
            assert broker.messages_received == 3000
            assert broker.qos0_dropped > 0
            assert broker.messages_sent + broker.qos0_dropped == 3000
            assert broker.stats()["qos0_dropped"] == broker.qos0_dropped
            await idle.close()
            await pub.close()

    run_async(scenario())


def test_a_subscriber_that_acknowledges_nothing_is_disconnected_and_the_publisher_goes_on() -> None:
    async def scenario() -> None:
        async with EmbeddedBroker(max_queued_messages=50, stall_timeout=0.5) as broker:
            stuck = await RawClient.open(broker.port)
            stuck.writer.write(v5_connect("stuck-screen", receive_maximum=5))
            assert (await stuck.packet())[0] == 2
            await stuck.send(subscribe_packet(1, "eclor/cmd/#", 1))
            assert (await stuck.packet())[0] == 9
            acked = await asyncio.wait_for(
                fast_publisher(broker.port, "eclor/cmd/light/1", 500, 100), 10
            )
            assert acked == 500 and broker.publishers_held > 0
            packets = []
            while (packet := await stuck.packet()) is not None:
                packets.append(packet)
            assert packets[-1][:1] == (DISCONNECT,) and packets[-1][2][0] == 0x97  # quota exceeded
            await stuck.close()

    run_async(scenario())


def test_a_packet_over_the_size_limit_gets_a_reason_in_v5_and_a_clear_log_in_311(caplog) -> None:
    async def scenario() -> None:
        async with EmbeddedBroker(max_packet_size=2048) as broker:
            v5 = await RawClient.open(broker.port)
            await v5.connect("big-v5")
            await v5.send(_packet(0x30, _str("eclor/x") + b"\x00" + b"y" * 5000))
            packet = await v5.packet()
            assert packet is not None and packet[0] == DISCONNECT and packet[2][0] == 0x95
            assert await v5.closed_by_broker()
            v3 = await RawClient.open(broker.port)
            await v3.send(connect_packet("big-311", v5=False))
            assert (await v3.packet())[0] == 2
            await v3.send(_packet(0x30, _str("eclor/x") + b"y" * 5000))
            assert await v3.closed_by_broker()
            await v5.close()
            await v3.close()

    with caplog.at_level(logging.WARNING, logger="eclor.mqtt_broker"):
        run_async(scenario())
    lines = [r.getMessage() for r in caplog.records if "big-311" in r.getMessage()]
    assert (
        lines
        and "over the limit of 2048 bytes" in lines[0]
        and "ECLOR_MQTT_MAX_PACKET_BYTES" in lines[0]
    )
    assert "MQTT 3.1.1 cannot tell the client why" in lines[0]


def test_the_packet_size_limit_is_a_setting_the_embedded_broker_uses(tmp_path, monkeypatch) -> None:
    from app.cli import embedded_broker
    from app.settings import Settings

    monkeypatch.setenv("ECLOR_MQTT_MAX_PACKET_BYTES", "4096")
    settings = Settings(var_dir=tmp_path, mqtt_embedded_port=0)
    assert settings.mqtt_max_packet_bytes == 4096
    assert embedded_broker(settings).max_packet_size == 4096
