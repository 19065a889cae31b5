"""Embedded MQTT broker: Eclor's in-process broker for one machine and for tests.

When ``ECLOR_MQTT_URL`` is unset, Eclor starts this broker inside its own
process so that the web app, the worker and the fleet simulator have a real
MQTT broker to talk to without installing Mosquitto. It is written in plain
asyncio (``asyncio.Protocol``, no third-party broker package) and speaks MQTT
3.1.1 and MQTT 5 to ordinary clients such as aiomqtt / paho-mqtt.

What it implements:

* CONNECT / CONNACK (MQTT 5 properties parsed and answered; an identifier is
  assigned when the client sends an empty one), PINGREQ / PINGRESP,
  DISCONNECT (MQTT 5 reason codes, "disconnect with will" and session expiry
  update), keep-alive timeout at 1.5 x the keep-alive, client-id takeover.
* SUBSCRIBE / SUBACK, UNSUBSCRIBE / UNSUBACK, ``+`` and ``#`` wildcards in a
  topic tree (no per-message regular expressions), ``$`` topics not matched
  by wildcards at the first level, MQTT 5 subscription options (no local,
  retain as published, retain handling), subscription identifiers and shared
  subscriptions (``$share/group/filter``, round robin among the members).
* PUBLISH QoS 0, 1 and 2 in both directions, delivered QoS = min(publish
  QoS, subscription QoS), packet identifiers per session, flow control with
  the client's Receive Maximum, inbound topic aliases.
* Retained messages, Last Will (with MQTT 5 will delay), MQTT 5 Message
  Expiry Interval (expired messages are not delivered, the remaining
  interval is forwarded), user properties, content type, response topic and
  correlation data passed through untouched.
* Persistent sessions (clean start = 0 with a session expiry interval, or
  clean session = 0 in 3.1.1): subscriptions survive, QoS 1/2 messages are
  queued while the client is away (bounded) and unacknowledged ones are sent
  again with the DUP flag on reconnect.
* Limits everywhere: packet size, queued messages per session, in-flight
  window, retained messages, number of sessions, write buffer of a slow
  reader (QoS 0 is dropped for it). A malformed packet closes only the
  connection that sent it.

* Users and rights, when given an ``authenticator`` (see :class:`Authenticator`):
  CONNECT without accepted credentials is refused (Not authorized); each client
  publishes and subscribes only where its grants say (a refused QoS 1/2
  PUBLISH is answered 0x87 in MQTT 5 and dropped, a refused filter gets 0x87 /
  0x80 in its SUBACK, a will the client could not publish refuses the CONNECT).
  Without one, any client may do anything: bind it to loopback.
* TLS when given an ``ssl`` context (``mqtts://``).

Not implemented: WebSockets, enhanced AUTH, ``$SYS`` topics.

Use from asyncio::

    async with EmbeddedBroker() as broker:
        print(broker.url)  # mqtt://127.0.0.1:<port>

or from synchronous code (``eclor serve``)::

    handle = start_in_thread()
    ...
    handle.stop()
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import socket
import struct
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    import ssl

__all__ = [
    "Authenticator",
    "BrokerThread",
    "EmbeddedBroker",
    "Grants",
    "main",
    "start_in_thread",
]

logger = logging.getLogger("eclor.mqtt_broker")

# Control packet types.
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP = 8, 9, 10, 11, 12, 13
DISCONNECT, AUTH = 14, 15

# MQTT 5 reason codes used by the broker.
RC_SUCCESS = 0x00
RC_DISCONNECT_WITH_WILL = 0x04
RC_NO_MATCHING_SUBSCRIBERS = 0x10
RC_NO_SUBSCRIPTION_EXISTED = 0x11
RC_UNSPECIFIED_ERROR = 0x80
RC_MALFORMED_PACKET = 0x81
RC_PROTOCOL_ERROR = 0x82
RC_IMPLEMENTATION_SPECIFIC = 0x83
RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84
RC_SERVER_SHUTTING_DOWN = 0x8B
RC_BAD_USER_NAME_OR_PASSWORD = 0x86
RC_NOT_AUTHORIZED = 0x87
RC_BAD_AUTHENTICATION_METHOD = 0x8C
RC_KEEP_ALIVE_TIMEOUT = 0x8D
RC_SESSION_TAKEN_OVER = 0x8E
RC_TOPIC_FILTER_INVALID = 0x8F
RC_TOPIC_NAME_INVALID = 0x90
RC_PACKET_ID_NOT_FOUND = 0x92
RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93
RC_TOPIC_ALIAS_INVALID = 0x94
RC_PACKET_TOO_LARGE = 0x95
RC_QUOTA_EXCEEDED = 0x97

# MQTT 5 property identifiers.
P_PAYLOAD_FORMAT = 0x01
P_MESSAGE_EXPIRY = 0x02
P_SUBSCRIPTION_ID = 0x0B
P_SESSION_EXPIRY = 0x11
P_ASSIGNED_CLIENT_ID = 0x12
P_AUTH_METHOD = 0x15
P_WILL_DELAY = 0x18
P_RECEIVE_MAXIMUM = 0x21
P_TOPIC_ALIAS_MAXIMUM = 0x22
P_TOPIC_ALIAS = 0x23
P_USER_PROPERTY = 0x26
P_MAXIMUM_PACKET_SIZE = 0x27

_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)
_PROPERTY_TYPES: dict[int, int] = {
    0x01: _BYTE,
    0x02: _U32,
    0x03: _STR,
    0x08: _STR,
    0x09: _BIN,
    0x0B: _VARINT,
    0x11: _U32,
    0x12: _STR,
    0x13: _U16,
    0x15: _STR,
    0x16: _BIN,
    0x17: _BYTE,
    0x18: _U32,
    0x19: _BYTE,
    0x1A: _STR,
    0x1C: _STR,
    0x1F: _STR,
    0x21: _U16,
    0x22: _U16,
    0x23: _U16,
    0x24: _BYTE,
    0x25: _BYTE,
    0x26: _PAIR,
    0x27: _U32,
    0x28: _BYTE,
    0x29: _BYTE,
    0x2A: _BYTE,
}
_REPEATABLE_PROPERTIES = frozenset({P_USER_PROPERTY, P_SUBSCRIPTION_ID})
# Properties of an incoming PUBLISH (or will) that are not forwarded as they came.
_PER_HOP_PROPERTIES = frozenset({P_MESSAGE_EXPIRY, P_TOPIC_ALIAS, P_SUBSCRIPTION_ID, P_WILL_DELAY})

_PINGRESP = b"\xd0\x00"
_NO_SUB_IDS: tuple[int, ...] = ()


class Grants(Protocol):
    """What one authenticated client may do."""

    def may_publish(self, topic: str) -> bool: ...

    def may_subscribe(self, topic_filter: str) -> bool: ...


class Authenticator(Protocol):
    """Checks CONNECT credentials; returns the client's grants, or None to refuse it."""

    def authenticate(
        self, client_id: str, username: str | None, password: bytes | None
    ) -> Grants | None: ...


class _ProtocolViolation(Exception):
    """A client broke the protocol: its connection is closed with ``reason_code``."""

    def __init__(self, reason_code: int, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code


# --------------------------------------------------------------------------- codec


def _varint(value: int) -> bytes:
    """Encode ``value`` as an MQTT variable byte integer."""
    if value < 128:
        return bytes((value,))
    out = bytearray()
    while True:
        value, digit = divmod(value, 128)
        if value:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _binary(raw: bytes) -> bytes:
    return struct.pack("!H", len(raw)) + raw


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + _varint(len(body)) + body


def _property(identifier: int, value: Any) -> bytes:
    """Encode one MQTT 5 property (identifier and value)."""
    kind = _PROPERTY_TYPES[identifier]
    head = bytes((identifier,))
    if kind == _BYTE:
        return head + bytes((value,))
    if kind == _U16:
        return head + struct.pack("!H", value)
    if kind == _U32:
        return head + struct.pack("!I", value)
    if kind == _VARINT:
        return head + _varint(value)
    if kind == _STR:
        return head + _string(value)
    if kind == _BIN:
        return head + _binary(value)
    key, val = value
    return head + _string(key) + _string(val)


def _properties_block(encoded: bytes) -> bytes:
    return _varint(len(encoded)) + encoded


@dataclass(slots=True)
class _Properties:
    """Decoded MQTT 5 properties, with the raw bytes of each one kept for forwarding."""

    values: dict[int, Any] = field(default_factory=dict)
    raw: list[tuple[int, bytes]] = field(default_factory=list)

    def get(self, identifier: int, default: Any = None) -> Any:
        return self.values.get(identifier, default)

    def forwardable(self) -> bytes:
        """The encoded properties a receiver gets unchanged (user properties, ...)."""
        return b"".join(raw for ident, raw in self.raw if ident not in _PER_HOP_PROPERTIES)


_EMPTY_PROPERTIES = _Properties()


class _Reader:
    """Bounds-checked reader over the variable header and payload of one packet."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "packet shorter than announced")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "packet shorter than announced")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self) -> int:
        value: int = struct.unpack("!H", self._take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack("!I", self._take(4))[0]
        return value

    def varint(self) -> int:
        value, shift = 0, 0
        for _ in range(4):
            digit = self.byte()
            value |= (digit & 0x7F) << shift
            if not digit & 0x80:
                return value
            shift += 7
        raise _ProtocolViolation(RC_MALFORMED_PACKET, "variable byte integer longer than 4 bytes")

    def binary(self) -> bytes:
        return self._take(self.u16())

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "string is not UTF-8") from None
        if "\x00" in text:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "string contains U+0000")
        return text

    def rest(self) -> bytes:
        chunk = self.data[self.pos :]
        self.pos = len(self.data)
        return chunk

    def properties(self) -> _Properties:
        length = self.varint()
        end = self.pos + length
        if end > len(self.data):
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "properties longer than the packet")
        props = _Properties()
        while self.pos < end:
            start = self.pos
            identifier = self.varint()
            kind = _PROPERTY_TYPES.get(identifier)
            if kind is None:
                raise _ProtocolViolation(
                    RC_MALFORMED_PACKET, f"unknown property 0x{identifier:02x}"
                )
            value: Any
            if kind == _BYTE:
                value = self.byte()
            elif kind == _U16:
                value = self.u16()
            elif kind == _U32:
                value = self.u32()
            elif kind == _VARINT:
                value = self.varint()
            elif kind == _STR:
                value = self.string()
            elif kind == _BIN:
                value = self.binary()
            else:
                value = (self.string(), self.string())
            if self.pos > end:
                raise _ProtocolViolation(RC_MALFORMED_PACKET, "property overruns its block")
            if identifier in _REPEATABLE_PROPERTIES:
                props.values.setdefault(identifier, []).append(value)
            elif identifier in props.values:
                raise _ProtocolViolation(RC_PROTOCOL_ERROR, f"property 0x{identifier:02x} repeated")
            else:
                props.values[identifier] = value
            props.raw.append((identifier, self.data[start : self.pos]))
        return props


def _valid_topic_name(topic: str) -> bool:
    return bool(topic) and "+" not in topic and "#" not in topic


def _valid_topic_filter(topic_filter: str) -> bool:
    if not topic_filter:
        return False
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter`` (``+``/``#`` rules, ``$`` topics)."""
    filter_levels = topic_filter.split("/")
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(topic_levels) == len(filter_levels)


# --------------------------------------------------------------------------- model


@dataclass(slots=True, eq=False)
class _Message:
    """An application message as the broker holds it between publisher and receivers."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: bytes  # forwarded MQTT 5 properties, already encoded
    expires_at: float | None  # event-loop time, or None
    sender: str | None
    topic_field: bytes = b""
    qos0_packets: dict[tuple[bool, bool], bytes] | None = None

    def __post_init__(self) -> None:
        if not self.topic_field:
            self.topic_field = _string(self.topic)


@dataclass(slots=True)
class _Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: bytes
    expiry_interval: int | None
    delay: int


@dataclass(slots=True, eq=False)
class _Outgoing:
    """A QoS 1/2 message on its way to one session."""

    message: _Message
    qos: int
    retain: bool
    sub_ids: tuple[int, ...]
    packet_id: int = 0
    released: bool = False  # QoS 2: PUBREC received, PUBREL sent


@dataclass(slots=True, eq=False)
class _Subscription:
    session: _Session
    topic_filter: str  # as subscribed, including any $share/group/ prefix
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    sub_id: int | None = None
    share_group: str | None = None


class _Node:
    __slots__ = ("children", "rotation", "shared", "subs")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.subs: dict[str, _Subscription] = {}
        self.shared: dict[str, list[_Subscription]] = {}
        self.rotation: dict[str, int] = {}


class _TopicTree:
    """Subscriptions indexed by topic level: matching costs O(topic depth), not O(subscriptions)."""

    def __init__(self) -> None:
        self._root = _Node()

    def add(self, topic_filter: str, sub: _Subscription) -> bool:
        """Store ``sub``; return True when the session had no such subscription yet."""
        node = self._root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = _Node()
            node = child
        client_id = sub.session.client_id
        if sub.share_group is None:
            new = client_id not in node.subs
            node.subs[client_id] = sub
            return new
        members = node.shared.setdefault(sub.share_group, [])
        for index, member in enumerate(members):
            if member.session.client_id == client_id:
                members[index] = sub
                return False
        members.append(sub)
        return True

    def remove(self, topic_filter: str, client_id: str, share_group: str | None) -> bool:
        """Remove a session's subscription; prune emptied nodes. Return whether it existed."""
        path = [self._root]
        levels = topic_filter.split("/")
        for level in levels:
            child = path[-1].children.get(level)
            if child is None:
                return False
            path.append(child)
        node = path[-1]
        if share_group is None:
            found = node.subs.pop(client_id, None) is not None
        else:
            members = node.shared.get(share_group, [])
            kept = [m for m in members if m.session.client_id != client_id]
            found = len(kept) != len(members)
            if kept:
                node.shared[share_group] = kept
            else:
                node.shared.pop(share_group, None)
                node.rotation.pop(share_group, None)
        for depth in range(len(levels), 0, -1):
            current = path[depth]
            if current.subs or current.shared or current.children:
                break
            del path[depth - 1].children[levels[depth - 1]]
        return found

    def match(self, topic: str) -> list[_Node]:
        """The nodes whose filters match ``topic``."""
        levels = topic.split("/")
        depth = len(levels)
        dollar = topic.startswith("$")
        found: list[_Node] = []
        stack = [(self._root, 0)]
        while stack:
            node, index = stack.pop()
            children = node.children
            if not children and index < depth:
                continue
            if index == depth:
                found.append(node)
                wildcard = children.get("#")
                if wildcard is not None:
                    found.append(wildcard)
                continue
            if index or not dollar:
                wildcard = children.get("#")
                if wildcard is not None:
                    found.append(wildcard)
                plus = children.get("+")
                if plus is not None:
                    stack.append((plus, index + 1))
            child = children.get(levels[index])
            if child is not None:
                stack.append((child, index + 1))
        return found


class _Session:
    """State that outlives a connection: subscriptions and undelivered QoS 1/2 messages."""

    __slots__ = (
        "broker",
        "client_id",
        "conn",
        "delayed_will",
        "expiry",
        "expiry_handle",
        "inbound_qos2",
        "inflight",
        "last_progress",
        "next_packet_id",
        "pending",
        "subscriptions",
        "waiting",
    )

    def __init__(self, broker: EmbeddedBroker, client_id: str, expiry: int) -> None:
        self.broker = broker
        self.client_id = client_id
        self.expiry = expiry
        self.conn: _Connection | None = None
        self.subscriptions: dict[str, _Subscription] = {}
        self.inflight: dict[int, _Outgoing] = {}
        self.pending: deque[_Outgoing] = deque()
        self.inbound_qos2: set[int] = set()
        self.next_packet_id = 1
        self.expiry_handle: asyncio.TimerHandle | None = None
        self.delayed_will: tuple[_Will, asyncio.TimerHandle] | None = None
        # Publishers whose reading is paused until this session's queue drains (backpressure).
        self.waiting: set[_Connection] = set()
        self.last_progress = 0.0

    def deliver(
        self, message: _Message, qos: int, retain: bool, sub_ids: tuple[int, ...], now: float
    ) -> bool:
        """Send ``message`` now, or queue it (QoS > 0) when the window is full or we are offline.

        Returns True when the queue of this online session is full: the
        publisher must then be held (its next packets are not read) until the
        queue drains, so a message the broker acknowledged is never dropped.
        Offline sessions keep at most ``max_queued_messages``; past that, new
        messages are dropped and counted (holding every publisher for a client
        that may never come back would stop the whole territory).
        """
        conn = self.conn
        if qos == 0:
            if conn is not None:
                conn.send_publish(message, 0, retain, 0, False, sub_ids, now)
            return False
        outgoing = _Outgoing(message, qos, retain, sub_ids)
        if conn is not None and not self.pending and len(self.inflight) < conn.send_quota:
            self._send_new(conn, outgoing, now)
            return False
        limit = self.broker.max_queued_messages
        if conn is not None and len(self.pending) < 2 * limit:
            # Past the limit only by what held publishers had already sent; twice the limit
            # is reached only by a client that publishes to itself without reading.
            if not self.pending:
                self.last_progress = now
            self.pending.append(outgoing)
            return len(self.pending) >= limit
        if conn is not None:
            self.broker._note_dropped(self.client_id, "queue full", queued=True)
            return True
        if len(self.pending) < limit:
            self.pending.append(outgoing)
        else:
            self.broker._note_dropped(self.client_id, "offline queue full", queued=True)
        return False

    def release_waiting(self) -> None:
        """Let the held publishers read again (queue drained, or this client went away)."""
        waiting, self.waiting = self.waiting, set()
        for publisher in waiting:
            publisher.release(self)

    def _send_new(self, conn: _Connection, outgoing: _Outgoing, now: float) -> None:
        packet_id = self.next_packet_id
        while packet_id in self.inflight:
            packet_id = packet_id % 0xFFFF + 1
        self.next_packet_id = packet_id % 0xFFFF + 1
        outgoing.packet_id = packet_id
        self.inflight[packet_id] = outgoing
        sent = conn.send_publish(
            outgoing.message, outgoing.qos, outgoing.retain, packet_id, False, outgoing.sub_ids, now
        )
        if not sent:
            del self.inflight[packet_id]

    def pump(self, now: float) -> None:
        """Move queued messages into the in-flight window while there is room."""
        conn = self.conn
        if conn is None:
            return
        pending, inflight, quota = self.pending, self.inflight, conn.send_quota
        while pending and len(inflight) < quota:
            outgoing = pending.popleft()
            expires_at = outgoing.message.expires_at
            if expires_at is not None and expires_at <= now:
                continue
            self._send_new(conn, outgoing, now)
        if self.waiting and len(pending) <= self.broker.max_queued_messages // 2:
            self.release_waiting()

    def resume(self, now: float) -> None:
        """After a reconnect: resend unacknowledged messages (DUP), then the queue."""
        conn = self.conn
        if conn is None:
            return
        for packet_id, outgoing in list(self.inflight.items()):
            if outgoing.released:
                conn.send_ack(PUBREL, packet_id)
            elif not conn.send_publish(
                outgoing.message,
                outgoing.qos,
                outgoing.retain,
                packet_id,
                True,
                outgoing.sub_ids,
                now,
            ):
                del self.inflight[packet_id]
        self.pump(now)

    def acknowledge(self, packet_type: int, packet_id: int, reason: int, now: float) -> None:
        """Handle PUBACK, PUBREC or PUBCOMP from the client for one of our messages."""
        outgoing = self.inflight.get(packet_id)
        conn = self.conn
        if packet_type == PUBREC:
            if outgoing is None or outgoing.qos != 2:
                if conn is not None:
                    conn.send_ack(PUBREL, packet_id, RC_PACKET_ID_NOT_FOUND)
                return
            if reason >= 0x80:
                del self.inflight[packet_id]
            else:
                outgoing.released = True
                if conn is not None:
                    conn.send_ack(PUBREL, packet_id)
                return
        elif outgoing is None:
            return
        elif (
            packet_type == PUBACK
            and outgoing.qos == 1
            or packet_type == PUBCOMP
            and outgoing.released
        ):
            del self.inflight[packet_id]
        else:
            return
        self.last_progress = now
        self.pump(now)


# --------------------------------------------------------------------------- connection


class _Connection(asyncio.Protocol):
    """One client's network connection: framing, packet handling, keep-alive."""

    def __init__(self, broker: EmbeddedBroker) -> None:
        self.broker = broker
        self.loop = broker._require_loop()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.buffer = bytearray()
        self.version = 0  # 0 until CONNECT; then 4 (3.1.1, also 3.1) or 5
        self.connected = False  # CONNACK accepted sent
        self.closing = False
        self.session: _Session | None = None
        self.client_id = ""
        self.will: _Will | None = None
        self.keepalive = 0
        self.last_rx = self.loop.time()
        self.timer: asyncio.TimerHandle | None = None
        self.send_quota = broker.max_inflight
        self.max_outgoing_packet = 0  # 0: no limit announced by the client
        self.topic_aliases: dict[int, str] = {}
        # Reading stops while our socket to this client is full (write_paused) or while a
        # session this client publishes to has a full queue (holds): TCP then slows it down.
        self.write_paused = False
        self.holds: set[_Session] = set()
        self.reading_paused = False
        self.stall_timer: asyncio.TimerHandle | None = None
        self.grants: Grants | None = None  # None: no authenticator, everything allowed

    # ---------------------------------------------------------------- asyncio protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.broker._connections.add(self)
        self.timer = self.loop.call_later(self.broker.connect_timeout, self._connect_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None
        for session in self.holds:
            session.waiting.discard(self)
        self.holds.clear()
        self.broker._connections.discard(self)
        self.broker._detach(self, publish_will=True)
        logger.debug("connection closed: %s (%s)", self.client_id or "-", self.peer)

    def pause_writing(self) -> None:
        # The client does not read what we send: stop reading what it sends (and so
        # stop queueing acknowledgements for it) until its socket drains.
        self.write_paused = True
        self._sync_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._sync_reading()

    def _sync_reading(self) -> None:
        paused = self.write_paused or bool(self.holds)
        if paused == self.reading_paused or self.transport is None or self.closing:
            return
        self.reading_paused = paused
        if paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def hold(self, sessions: list[_Session]) -> None:
        """Stop reading this publisher until every session in ``sessions`` has room again."""
        for session in sessions:
            if session.conn is not None and session.conn is not self:
                session.waiting.add(self)
                self.holds.add(session)
        if self.holds:
            self.broker.publishers_held += 1
            self._sync_reading()
            if self.stall_timer is None:
                self.stall_timer = self.loop.call_later(
                    self.broker.stall_timeout, self._check_stall
                )

    def release(self, session: _Session) -> None:
        self.holds.discard(session)
        if self.holds or self.closing:
            return
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None
        self._sync_reading()
        # Packets already read before the hold are handled now, in order.
        self.loop.call_soon(self._process)

    def _check_stall(self) -> None:
        """A subscriber that acknowledged nothing for ``stall_timeout`` seconds is disconnected.

        Its session stays (and keeps its bounded queue) like any offline
        session, and the publishers it held can go on.
        """
        self.stall_timer = None
        now = self.loop.time()
        for session in list(self.holds):
            conn = session.conn
            if conn is not None and now - session.last_progress >= self.broker.stall_timeout:
                logger.warning(
                    "disconnecting %s: it acknowledged nothing for %.0f s while %d messages waited "
                    "and publishers were held",
                    session.client_id,
                    now - session.last_progress,
                    len(session.pending),
                )
                conn.close(RC_QUOTA_EXCEEDED)
                self.broker._detach(conn, publish_will=True)
        if self.holds and not self.closing:
            self.stall_timer = self.loop.call_later(self.broker.stall_timeout, self._check_stall)

    def data_received(self, data: bytes) -> None:
        self.last_rx = self.loop.time()
        self.buffer += data
        self._process()

    def _process(self) -> None:
        buffer = self.buffer
        size = len(buffer)
        pos = 0
        limit = self.broker.max_packet_size
        try:
            if not self.version and size and buffer[0] != CONNECT << 4:
                # Not MQTT at all (an HTTP probe, a stray client): do not wait for more.
                raise _ProtocolViolation(RC_PROTOCOL_ERROR, "first packet is not CONNECT")
            while not self.closing and not self.holds and size - pos >= 2:
                length, multiplier, index = 0, 1, pos + 1
                while True:
                    if index >= size:
                        length = -1
                        break
                    digit = buffer[index]
                    index += 1
                    length += (digit & 0x7F) * multiplier
                    if not digit & 0x80:
                        break
                    multiplier <<= 7
                    if index - pos > 4:
                        raise _ProtocolViolation(RC_MALFORMED_PACKET, "bad remaining length")
                if length < 0:
                    break
                if index - pos + length > limit:
                    raise _ProtocolViolation(
                        RC_PACKET_TOO_LARGE,
                        f"packet of {index - pos + length} bytes is over the limit of {limit} bytes "
                        "(ECLOR_MQTT_MAX_PACKET_BYTES)"
                        + ("" if self.version == 5 else "; MQTT 3.1.1 cannot tell the client why"),
                    )
                end = index + length
                if end > size:
                    break
                first = buffer[pos]
                body = bytes(buffer[index:end])
                pos = end
                self._handle(first >> 4, first & 0x0F, body)
        except _ProtocolViolation as exc:
            logger.warning(
                "closing %s (%s): %s", self.client_id or "unidentified client", self.peer, exc
            )
            self.close(exc.reason_code)
        except Exception:
            logger.exception("closing %s (%s): internal error", self.client_id or "-", self.peer)
            self.close(RC_IMPLEMENTATION_SPECIFIC)
        finally:
            if pos:
                del buffer[:pos]

    # ---------------------------------------------------------------- sending

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closing:
            self.transport.write(data)

    def close(self, reason: int | None = None) -> None:
        """Close the connection, telling an MQTT 5 client why when ``reason`` is given."""
        if self.closing or self.transport is None:
            return
        if reason is not None and self.version == 5 and self.connected:
            self.transport.write(_packet(DISCONNECT << 4, bytes((reason, 0))))
        self.closing = True
        self.transport.close()

    def send_ack(self, packet_type: int, packet_id: int, reason: int = RC_SUCCESS) -> None:
        flags = 0x02 if packet_type == PUBREL else 0
        if self.version == 5 and reason != RC_SUCCESS:
            body = struct.pack("!HB", packet_id, reason)
        else:
            body = struct.pack("!H", packet_id)
        self.write(_packet(packet_type << 4 | flags, body))

    def send_publish(
        self,
        message: _Message,
        qos: int,
        retain: bool,
        packet_id: int,
        dup: bool,
        sub_ids: tuple[int, ...],
        now: float,
    ) -> bool:
        """Write a PUBLISH; False when it was not sent (expired, too large, slow reader)."""
        transport = self.transport
        if transport is None or self.closing:
            return False
        v5 = self.version == 5
        expires_at = message.expires_at
        cacheable = qos == 0 and expires_at is None and not sub_ids
        packet = None
        if cacheable:
            if message.qos0_packets is None:
                message.qos0_packets = {}
            else:
                packet = message.qos0_packets.get((v5, retain))
        if packet is None:
            parts = [message.topic_field]
            if qos:
                parts.append(packet_id.to_bytes(2, "big"))
            if v5:
                props = message.properties
                if expires_at is not None:
                    remaining = math.ceil(expires_at - now)
                    if remaining <= 0:
                        return False
                    props += b"\x02" + remaining.to_bytes(4, "big")
                for sub_id in sub_ids:
                    props += b"\x0b" + _varint(sub_id)
                parts.append(_varint(len(props)))
                parts.append(props)
            elif expires_at is not None and expires_at <= now:
                return False
            parts.append(message.payload)
            body = b"".join(parts)
            flags = (0x08 if dup else 0) | qos << 1 | (1 if retain else 0)
            packet = bytes((0x30 | flags,)) + _varint(len(body)) + body
            if cacheable and message.qos0_packets is not None:
                message.qos0_packets[(v5, retain)] = packet
        if self.max_outgoing_packet and len(packet) > self.max_outgoing_packet:
            self.broker._note_dropped(
                self.client_id, "larger than the client accepts", qos0=qos == 0
            )
            return False
        if qos == 0 and transport.get_write_buffer_size() > self.broker.max_write_buffer:
            self.broker._note_dropped(self.client_id, "slow reader", qos0=True)
            return False
        transport.write(packet)
        self.broker.messages_sent += 1
        return True

    # ---------------------------------------------------------------- timers

    def _connect_timed_out(self) -> None:
        self.timer = None
        if not self.connected:
            logger.info("closing %s: no CONNECT in time", self.peer)
            self.close()

    def _arm_keepalive(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.keepalive:
            self.timer = self.loop.call_later(self.keepalive * 1.5, self._check_keepalive)

    def _check_keepalive(self) -> None:
        limit = self.keepalive * 1.5
        idle = self.loop.time() - self.last_rx
        if idle >= limit:
            self.timer = None
            logger.info("keep-alive timeout: %s (%s)", self.client_id, self.peer)
            self.close(RC_KEEP_ALIVE_TIMEOUT)
        else:
            self.timer = self.loop.call_later(limit - idle, self._check_keepalive)

    # ---------------------------------------------------------------- packets

    def _handle(self, packet_type: int, flags: int, body: bytes) -> None:
        if not self.version:
            if packet_type != CONNECT:
                raise _ProtocolViolation(RC_PROTOCOL_ERROR, "first packet is not CONNECT")
            self._on_connect(flags, body)
            return
        expected_flags = 0x02 if packet_type in (PUBREL, SUBSCRIBE, UNSUBSCRIBE) else 0
        if packet_type != PUBLISH and flags != expected_flags:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "reserved header flags set")
        if packet_type == PUBLISH:
            self._on_publish(flags, body)
        elif packet_type in (PUBACK, PUBREC, PUBCOMP):
            reader = _Reader(body)
            packet_id = reader.u16()
            reason = reader.byte() if self.version == 5 and reader.remaining else RC_SUCCESS
            if self.session is not None:
                self.session.acknowledge(packet_type, packet_id, reason, self.loop.time())
        elif packet_type == PUBREL:
            packet_id = _Reader(body).u16()
            found = True
            if self.session is not None:
                found = packet_id in self.session.inbound_qos2
                self.session.inbound_qos2.discard(packet_id)
            self.send_ack(PUBCOMP, packet_id, RC_SUCCESS if found else RC_PACKET_ID_NOT_FOUND)
        elif packet_type == SUBSCRIBE:
            self._on_subscribe(body)
        elif packet_type == UNSUBSCRIBE:
            self._on_unsubscribe(body)
        elif packet_type == PINGREQ:
            self.write(_PINGRESP)
        elif packet_type == DISCONNECT:
            self._on_disconnect(body)
        elif packet_type == CONNECT:
            raise _ProtocolViolation(RC_PROTOCOL_ERROR, "second CONNECT")
        else:
            raise _ProtocolViolation(RC_PROTOCOL_ERROR, f"unexpected packet type {packet_type}")

    def _refuse(self, v5_reason: int, v3_code: int) -> None:
        """Answer CONNECT with a refusal and close."""
        if self.version == 5:
            self.write(_packet(CONNACK << 4, bytes((0, v5_reason, 0))))
        else:
            self.write(_packet(CONNACK << 4, bytes((0, v3_code))))
        self.close()

    def _on_connect(self, flags: int, body: bytes) -> None:
        if flags:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "reserved CONNECT flags set")
        reader = _Reader(body)
        name = reader.string()
        level = reader.byte()
        if (name, level) not in (("MQTT", 5), ("MQTT", 4), ("MQIsdp", 3)):
            self.version = 4
            self._refuse(RC_UNSUPPORTED_PROTOCOL_VERSION, 0x01)
            return
        self.version = 5 if level == 5 else 4
        v5 = self.version == 5
        connect_flags = reader.byte()
        if connect_flags & 0x01:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "reserved connect flag set")
        keepalive = reader.u16()
        props = reader.properties() if v5 else _EMPTY_PROPERTIES
        client_id = reader.string()
        will: _Will | None = None
        if connect_flags & 0x04:
            will_props = reader.properties() if v5 else _EMPTY_PROPERTIES
            will_topic = reader.string()
            will_payload = reader.binary()
            will_qos = (connect_flags >> 3) & 0x03
            if will_qos == 3:
                raise _ProtocolViolation(RC_MALFORMED_PACKET, "will QoS 3")
            if not _valid_topic_name(will_topic):
                raise _ProtocolViolation(RC_TOPIC_NAME_INVALID, "invalid will topic")
            will = _Will(
                topic=will_topic,
                payload=will_payload,
                qos=will_qos,
                retain=bool(connect_flags & 0x20),
                properties=will_props.forwardable(),
                expiry_interval=will_props.get(P_MESSAGE_EXPIRY),
                delay=will_props.get(P_WILL_DELAY, 0),
            )
        elif connect_flags & 0x38:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "will QoS/retain without a will")
        username = password = None
        if connect_flags & 0x80:
            username = reader.string()
        elif connect_flags & 0x40 and not v5:
            raise _ProtocolViolation(RC_PROTOCOL_ERROR, "password without user name")
        if connect_flags & 0x40:
            password = reader.binary()
        if reader.remaining:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "trailing bytes after CONNECT payload")
        clean = bool(connect_flags & 0x02)
        broker = self.broker
        if props.get(P_AUTH_METHOD) is not None:
            self._refuse(RC_BAD_AUTHENTICATION_METHOD, 0x05)
            return
        if broker.authenticator is not None:
            grants = broker.authenticator.authenticate(client_id, username, password)
            if grants is None or (will is not None and not grants.may_publish(will.topic)):
                broker.refused_connections += 1
                logger.warning("refusing %s (%s): not authorized", username or "-", self.peer)
                self._refuse(RC_NOT_AUTHORIZED, 0x05)
                return
            self.grants = grants
        receive_maximum = props.get(P_RECEIVE_MAXIMUM, 65535)
        max_packet = props.get(P_MAXIMUM_PACKET_SIZE, 0)
        if v5 and (receive_maximum == 0 or props.values.get(P_MAXIMUM_PACKET_SIZE) == 0):
            raise _ProtocolViolation(RC_PROTOCOL_ERROR, "zero receive maximum or packet size")
        requested_expiry = props.get(P_SESSION_EXPIRY, 0) if v5 else (0 if clean else -1)
        expiry = broker.max_session_expiry if requested_expiry == -1 else requested_expiry
        expiry = min(expiry, broker.max_session_expiry)
        assigned = None
        if not client_id:
            if not v5 and not clean:
                self._refuse(RC_UNSPECIFIED_ERROR, 0x02)
                return
            client_id = assigned = f"eclor-auto-{uuid.uuid4().hex}"
        self.client_id = client_id
        self.keepalive = keepalive
        self.send_quota = min(receive_maximum, broker.max_inflight)
        self.max_outgoing_packet = max_packet
        self.will = will
        attached = broker._attach(self, client_id, clean, expiry)
        if attached is None:
            self.will = None
            self._refuse(RC_QUOTA_EXCEEDED, 0x03)
            return
        session_present = attached
        self.connected = True
        if v5:
            encoded = (
                _property(P_RECEIVE_MAXIMUM, broker.receive_maximum)
                + _property(P_MAXIMUM_PACKET_SIZE, broker.max_packet_size)
                + _property(P_TOPIC_ALIAS_MAXIMUM, broker.topic_alias_maximum)
            )
            if assigned is not None:
                encoded += _property(P_ASSIGNED_CLIENT_ID, assigned)
            if expiry != requested_expiry:
                encoded += _property(P_SESSION_EXPIRY, expiry)
            body_out = bytes((1 if session_present else 0, RC_SUCCESS)) + _properties_block(encoded)
        else:
            body_out = bytes((1 if session_present else 0, 0))
        self.write(_packet(CONNACK << 4, body_out))
        self._arm_keepalive()
        logger.debug(
            "client connected: %s (%s) MQTT %s, session present: %s",
            client_id,
            self.peer,
            "5" if v5 else "3.1.1",
            session_present,
        )
        if self.session is not None and session_present:
            self.session.resume(self.loop.time())

    def _on_publish(self, flags: int, body: bytes) -> None:
        qos = (flags >> 1) & 0x03
        if qos == 3:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "PUBLISH with QoS 3")
        if qos == 0 and flags & 0x08:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "DUP set on a QoS 0 PUBLISH")
        reader = _Reader(body)
        topic = reader.string()
        packet_id = reader.u16() if qos else 0
        if qos and not packet_id:
            raise _ProtocolViolation(RC_MALFORMED_PACKET, "packet identifier 0")
        properties = b""
        expiry = None
        if self.version == 5:
            props = reader.properties()
            alias = props.get(P_TOPIC_ALIAS)
            if alias is not None:
                if not 0 < alias <= self.broker.topic_alias_maximum:
                    raise _ProtocolViolation(RC_TOPIC_ALIAS_INVALID, f"topic alias {alias}")
                if topic:
                    self.topic_aliases[alias] = topic
                else:
                    known = self.topic_aliases.get(alias)
                    if known is None:
                        raise _ProtocolViolation(RC_PROTOCOL_ERROR, f"unknown topic alias {alias}")
                    topic = known
            if props.raw:
                properties = props.forwardable()
            expiry = props.get(P_MESSAGE_EXPIRY)
        if not _valid_topic_name(topic):
            raise _ProtocolViolation(RC_TOPIC_NAME_INVALID, f"invalid topic name {topic!r}")
        if self.grants is not None and not self.grants.may_publish(topic):
            self.broker.refused_publications += 1
            if qos and self.version == 5:
                self.send_ack(PUBACK if qos == 1 else PUBREC, packet_id, RC_NOT_AUTHORIZED)
            elif qos:  # MQTT 3.1.1 has no refusal: acknowledged, not delivered
                self.send_ack(PUBACK if qos == 1 else PUBREC, packet_id)
            return
        session = self.session
        if qos == 2 and session is not None:
            if packet_id in session.inbound_qos2:
                self.send_ack(PUBREC, packet_id)
                return
            if len(session.inbound_qos2) >= self.broker.receive_maximum:
                raise _ProtocolViolation(RC_RECEIVE_MAXIMUM_EXCEEDED, "too many QoS 2 in flight")
            session.inbound_qos2.add(packet_id)
        now = self.loop.time()
        message = _Message(
            topic=topic,
            payload=reader.rest(),
            qos=qos,
            retain=bool(flags & 0x01),
            properties=properties,
            expires_at=None if expiry is None else now + expiry,
            sender=self.client_id,
        )
        receivers, full = self.broker._publish(message, now)
        if qos:
            # Acknowledged once queued for every receiver: nothing acknowledged is dropped
            # while they are online, since a full queue holds this publisher (below).
            reason = RC_SUCCESS if receivers or self.version != 5 else RC_NO_MATCHING_SUBSCRIBERS
            self.send_ack(PUBACK if qos == 1 else PUBREC, packet_id, reason)
        if full:
            self.hold(full)

    def _on_subscribe(self, body: bytes) -> None:
        reader = _Reader(body)
        packet_id = reader.u16()
        v5 = self.version == 5
        sub_id = None
        if v5:
            props = reader.properties()
            ids = props.get(P_SUBSCRIPTION_ID)
            if ids:
                sub_id = ids[0]
                if sub_id == 0:
                    raise _ProtocolViolation(RC_PROTOCOL_ERROR, "subscription identifier 0")
        requests: list[tuple[str, int]] = []
        while reader.remaining:
            requests.append((reader.string(), reader.byte()))
        if not requests:
            raise _ProtocolViolation(RC_PROTOCOL_ERROR, "SUBSCRIBE without topic filters")
        session = self.session
        assert session is not None
        codes = bytearray()
        accepted: list[tuple[_Subscription, bool]] = []
        for topic_filter, options in requests:
            qos = options & 0x03
            if qos == 3 or options & (0xC0 if v5 else 0xFC) or (options >> 4) & 0x03 == 3:
                raise _ProtocolViolation(RC_MALFORMED_PACKET, "bad subscription options")
            sub = _Subscription(
                session=session,
                topic_filter=topic_filter,
                qos=qos,
                no_local=bool(options & 0x04),
                retain_as_published=bool(options & 0x08),
                retain_handling=(options >> 4) & 0x03,
                sub_id=sub_id,
            )
            tree_filter = topic_filter
            if topic_filter.startswith("$share/"):
                parts = topic_filter.split("/", 2)
                if len(parts) < 3 or not parts[1] or "+" in parts[1] or "#" in parts[1]:
                    codes.append(RC_TOPIC_FILTER_INVALID if v5 else 0x80)
                    continue
                if sub.no_local:
                    raise _ProtocolViolation(RC_PROTOCOL_ERROR, "no local on a shared subscription")
                sub.share_group, tree_filter = parts[1], parts[2]
            if not _valid_topic_filter(tree_filter):
                codes.append(RC_TOPIC_FILTER_INVALID if v5 else 0x80)
                continue
            if self.grants is not None and not self.grants.may_subscribe(tree_filter):
                self.broker.refused_subscriptions += 1
                codes.append(RC_NOT_AUTHORIZED if v5 else 0x80)
                continue
            is_new = self.broker._subscribe(session, tree_filter, sub)
            accepted.append((sub, is_new))
            codes.append(qos)
        if v5:
            self.write(_packet(SUBACK << 4, struct.pack("!H", packet_id) + b"\x00" + bytes(codes)))
        else:
            self.write(_packet(SUBACK << 4, struct.pack("!H", packet_id) + bytes(codes)))
        for sub, is_new in accepted:
            if sub.share_group is None and (
                sub.retain_handling == 0 or (sub.retain_handling == 1 and is_new)
            ):
                self.broker._send_retained(session, sub)

    def _on_unsubscribe(self, body: bytes) -> None:
        reader = _Reader(body)
        packet_id = reader.u16()
        if self.version == 5:
            reader.properties()
        filters: list[str] = []
        while reader.remaining:
            filters.append(reader.string())
        if not filters:
            raise _ProtocolViolation(RC_PROTOCOL_ERROR, "UNSUBSCRIBE without topic filters")
        session = self.session
        assert session is not None
        codes = bytearray()
        for topic_filter in filters:
            found = self.broker._unsubscribe(session, topic_filter)
            codes.append(RC_SUCCESS if found else RC_NO_SUBSCRIPTION_EXISTED)
        if self.version == 5:
            self.write(
                _packet(UNSUBACK << 4, struct.pack("!H", packet_id) + b"\x00" + bytes(codes))
            )
        else:
            self.write(_packet(UNSUBACK << 4, struct.pack("!H", packet_id)))

    def _on_disconnect(self, body: bytes) -> None:
        reason = RC_SUCCESS
        if self.version == 5 and body:
            reader = _Reader(body)
            reason = reader.byte()
            if reader.remaining:
                props = reader.properties()
                new_expiry = props.get(P_SESSION_EXPIRY)
                if new_expiry is not None and self.session is not None:
                    if self.session.expiry == 0 and new_expiry != 0:
                        raise _ProtocolViolation(
                            RC_PROTOCOL_ERROR, "session expiry set after connecting with 0"
                        )
                    self.session.expiry = min(new_expiry, self.broker.max_session_expiry)
        if reason != RC_DISCONNECT_WITH_WILL:
            self.will = None
        self.broker._detach(self, publish_will=True)
        self.closing = True
        if self.transport is not None:
            self.transport.close()


# --------------------------------------------------------------------------- broker


class EmbeddedBroker:
    """An in-process MQTT 3.1.1 / 5 broker on asyncio.

    Args:
        host: address to bind (loopback by default: the broker does not authenticate).
        port: TCP port; 0 picks a free one, read it from :attr:`port` after start.
        max_packet_size: largest packet accepted from or sent to a client, in bytes.
        max_queued_messages: QoS 1/2 messages kept per session beyond the in-flight
            window (offline or slow clients); newer ones are dropped past it.
        max_inflight: QoS 1/2 messages sent to one client and not yet acknowledged.
        max_retained: retained topics kept; new retained topics are refused past it.
        max_sessions: sessions kept (online and offline); the oldest offline session
            is dropped to make room, a new client is refused when all are online.
        max_session_expiry: cap, in seconds, of a session's expiry interval; also the
            lifetime of MQTT 3.1.1 persistent sessions.
        receive_maximum: QoS 2 messages a client may have in flight towards us.
        topic_alias_maximum: topic aliases a client may use towards us.
        connect_timeout: seconds a new connection has to send CONNECT.
        max_write_buffer: bytes buffered for a slow reader before QoS 0 is dropped.
        stall_timeout: seconds a subscriber may hold publishers without acknowledging
            anything before it is disconnected.
        authenticator: checks credentials and gives each client its rights; None lets
            every client in with every right (loopback only).
        ssl: a server TLS context: the listener speaks ``mqtts``.

    Backpressure: when an online subscriber's queue reaches ``max_queued_messages``,
    the publishers sending to it are not read any further (TCP slows them down)
    until the queue is half empty; so a QoS 1/2 message the broker acknowledged
    is never dropped for an online subscriber. What is dropped (QoS 0 for a slow
    reader or a too-large packet, QoS 1/2 past the queue of an offline session)
    is counted in :attr:`messages_dropped`, split in :attr:`qos0_dropped` and
    :attr:`queued_dropped`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_packet_size: int = 1 << 20,
        max_queued_messages: int = 1000,
        max_inflight: int = 256,
        max_retained: int = 100_000,
        max_sessions: int = 10_000,
        max_session_expiry: int = 24 * 3600,
        receive_maximum: int = 1024,
        topic_alias_maximum: int = 32,
        connect_timeout: float = 10.0,
        max_write_buffer: int = 8 << 20,
        stall_timeout: float = 60.0,
        authenticator: Authenticator | None = None,
        ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.max_packet_size = max_packet_size
        self.max_queued_messages = max_queued_messages
        self.max_inflight = max(1, min(max_inflight, 65535))
        self.max_retained = max_retained
        self.max_sessions = max_sessions
        self.max_session_expiry = max_session_expiry
        self.receive_maximum = max(1, min(receive_maximum, 65535))
        self.topic_alias_maximum = min(topic_alias_maximum, 65535)
        self.connect_timeout = connect_timeout
        self.max_write_buffer = max_write_buffer
        self.stall_timeout = stall_timeout
        self.authenticator = authenticator
        self.ssl = ssl
        self.refused_connections = 0
        self.refused_publications = 0
        self.refused_subscriptions = 0
        self.messages_received = 0
        self.messages_sent = 0
        self.messages_dropped = 0
        self.qos0_dropped = 0
        self.queued_dropped = 0
        self.publishers_held = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._sessions: dict[str, _Session] = {}
        self._tree = _TopicTree()
        self._retained: dict[str, _Message] = {}
        self._stopping = False
        self._last_drop_log = 0.0

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the running broker."""
        return f"{'mqtts' if self.ssl else 'mqtt'}://{self.host}:{self.port}"

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    @property
    def retained_count(self) -> int:
        return len(self._retained)

    async def start(self) -> None:
        """Bind the listening socket and start accepting clients."""
        if self._server is not None:
            raise RuntimeError("broker already started")
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._server = await self._loop.create_server(
            lambda: _Connection(self), self.host, self.port, reuse_address=True, ssl=self.ssl
        )
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("embedded MQTT broker listening on %s", self.url)

    async def stop(self) -> None:
        """Stop accepting, close every connection (no wills) and drop all state."""
        server = self._server
        if server is None:
            return
        self._stopping = True
        server.close()
        for conn in list(self._connections):
            conn.close(RC_SERVER_SHUTTING_DOWN)
        await server.wait_closed()
        # Let the transports run connection_lost before clearing state.
        for _ in range(3):
            if not self._connections:
                break
            await asyncio.sleep(0)
        for session in self._sessions.values():
            if session.expiry_handle is not None:
                session.expiry_handle.cancel()
            if session.delayed_will is not None:
                session.delayed_will[1].cancel()
        self._sessions.clear()
        self._retained.clear()
        self._tree = _TopicTree()
        self._server = None
        logger.info("embedded MQTT broker on port %s stopped", self.port)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def start_in_thread(self) -> BrokerThread:
        """Run this broker on its own event loop in a daemon thread (for sync callers)."""
        return BrokerThread(self)

    # ---------------------------------------------------------------- internals

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("broker not started")
        return self._loop

    def stats(self) -> dict[str, int]:
        """Counters for operations: messages in, out, dropped (QoS 0 / queued), publishers held."""
        return {
            "received": self.messages_received,
            "sent": self.messages_sent,
            "dropped": self.messages_dropped,
            "qos0_dropped": self.qos0_dropped,
            "queued_dropped": self.queued_dropped,
            "publishers_held": self.publishers_held,
            "refused_connections": self.refused_connections,
            "refused_publications": self.refused_publications,
            "refused_subscriptions": self.refused_subscriptions,
        }

    def _note_dropped(
        self, client_id: str, why: str, *, qos0: bool = False, queued: bool = False
    ) -> None:
        self.messages_dropped += 1
        self.qos0_dropped += qos0
        self.queued_dropped += queued
        now = self._require_loop().time()
        if now - self._last_drop_log >= 10.0:
            self._last_drop_log = now
            logger.warning(
                "dropping messages for %s (%s); %d dropped so far (%d at QoS 0, %d from offline queues)",
                client_id,
                why,
                self.messages_dropped,
                self.qos0_dropped,
                self.queued_dropped,
            )

    def _attach(
        self, conn: _Connection, client_id: str, clean_start: bool, expiry: int
    ) -> bool | None:
        """Bind a connection to its session. Return session-present, or None when refused."""
        session = self._sessions.get(client_id)
        if session is not None and session.conn is not None:
            old = session.conn
            logger.info("client id %s taken over by %s", client_id, conn.peer)
            self._detach(old, publish_will=True, ending_session=clean_start)
            old.close(RC_SESSION_TAKEN_OVER)
            session = self._sessions.get(client_id)
        if session is not None and clean_start:
            self._end_session(session)
            session = None
        present = session is not None
        if session is None:
            if len(self._sessions) >= self.max_sessions and not self._evict_offline_session():
                logger.warning("refusing %s: %d sessions", client_id, len(self._sessions))
                return None
            session = _Session(self, client_id, expiry)
            self._sessions[client_id] = session
        else:
            if session.expiry_handle is not None:
                session.expiry_handle.cancel()
                session.expiry_handle = None
            if session.delayed_will is not None:
                session.delayed_will[1].cancel()
                session.delayed_will = None
        session.expiry = expiry
        session.conn = conn
        conn.session = session
        return present

    def _evict_offline_session(self) -> bool:
        for session in self._sessions.values():
            if session.conn is None:
                logger.warning("dropping offline session %s: too many sessions", session.client_id)
                self._end_session(session)
                return True
        return False

    def _detach(
        self, conn: _Connection, *, publish_will: bool, ending_session: bool = False
    ) -> None:
        """Unbind a closed connection; publish or delay its will; expire or keep its session."""
        session = conn.session
        if session is None:
            return
        conn.session = None
        session.conn = None
        session.release_waiting()
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        will, conn.will = conn.will, None
        if self._stopping:
            return
        if will is not None and publish_will:
            delay = 0 if ending_session else min(will.delay, session.expiry)
            if delay <= 0:
                self._publish_will(will, session.client_id)
            else:
                handle = self._require_loop().call_later(delay, self._fire_delayed_will, session)
                session.delayed_will = (will, handle)
        if session.expiry == 0:
            self._end_session(session)
        else:
            lifetime = min(session.expiry, self.max_session_expiry)
            session.expiry_handle = self._require_loop().call_later(
                lifetime, self._expire_session, session
            )

    def _fire_delayed_will(self, session: _Session) -> None:
        if session.delayed_will is not None:
            will, _ = session.delayed_will
            session.delayed_will = None
            self._publish_will(will, session.client_id)

    def _expire_session(self, session: _Session) -> None:
        session.expiry_handle = None
        if session.conn is None and self._sessions.get(session.client_id) is session:
            logger.debug("session expired: %s", session.client_id)
            self._end_session(session)

    def _end_session(self, session: _Session) -> None:
        if session.expiry_handle is not None:
            session.expiry_handle.cancel()
            session.expiry_handle = None
        if session.delayed_will is not None:
            will, handle = session.delayed_will
            handle.cancel()
            session.delayed_will = None
            self._publish_will(will, session.client_id)
        for sub in session.subscriptions.values():
            tree_filter = sub.topic_filter
            if sub.share_group is not None:
                tree_filter = tree_filter.split("/", 2)[2]
            self._tree.remove(tree_filter, session.client_id, sub.share_group)
        session.subscriptions.clear()
        session.inflight.clear()
        session.pending.clear()
        session.release_waiting()
        if self._sessions.get(session.client_id) is session:
            del self._sessions[session.client_id]

    def _publish_will(self, will: _Will, client_id: str) -> None:
        now = self._require_loop().time()
        message = _Message(
            topic=will.topic,
            payload=will.payload,
            qos=will.qos,
            retain=will.retain,
            properties=will.properties,
            expires_at=None if will.expiry_interval is None else now + will.expiry_interval,
            sender=client_id,
        )
        logger.debug("publishing the will of %s on %s", client_id, will.topic)
        self._publish(message, now)

    def _subscribe(self, session: _Session, tree_filter: str, sub: _Subscription) -> bool:
        is_new = self._tree.add(tree_filter, sub)
        session.subscriptions[sub.topic_filter] = sub
        return is_new

    def _unsubscribe(self, session: _Session, topic_filter: str) -> bool:
        sub = session.subscriptions.pop(topic_filter, None)
        if sub is None:
            return False
        tree_filter = topic_filter
        if sub.share_group is not None:
            tree_filter = topic_filter.split("/", 2)[2]
        self._tree.remove(tree_filter, session.client_id, sub.share_group)
        return True

    def _store_retained(self, message: _Message) -> None:
        topic = message.topic
        if not message.payload:
            self._retained.pop(topic, None)
        elif topic in self._retained or len(self._retained) < self.max_retained:
            self._retained[topic] = message
        else:
            self._note_dropped(message.sender or "-", "retained store full")

    def _send_retained(self, session: _Session, sub: _Subscription) -> None:
        now = self._require_loop().time()
        topic_filter = sub.topic_filter
        if "+" in topic_filter or "#" in topic_filter:
            candidates = [m for t, m in self._retained.items() if topic_matches(topic_filter, t)]
        else:
            found = self._retained.get(topic_filter)
            candidates = [found] if found is not None else []
        sub_ids = (sub.sub_id,) if sub.sub_id else _NO_SUB_IDS
        for message in candidates:
            if message.expires_at is not None and message.expires_at <= now:
                self._retained.pop(message.topic, None)
                continue
            session.deliver(message, min(message.qos, sub.qos), True, sub_ids, now)

    def _publish(self, message: _Message, now: float) -> tuple[int, list[_Session]]:
        """Store (if retained) and route a message.

        Returns the number of receiving sessions and the online sessions whose
        queue is now full (the publisher is held until they drain).
        """
        self.messages_received += 1
        if message.retain:
            self._store_retained(message)
        if message.expires_at is not None and message.expires_at <= now:
            return 0, []
        nodes = self._tree.match(message.topic)
        if not nodes:
            return 0, []
        full: list[_Session] = []
        sender = message.sender
        qos = message.qos
        retain = message.retain
        targets: dict[_Session, tuple[int, bool, tuple[int, ...]]] = {}
        shared = 0
        for node in nodes:
            for sub in node.subs.values():
                session = sub.session
                if sub.no_local and session.client_id == sender:
                    continue
                previous = targets.get(session)
                ids = (sub.sub_id,) if sub.sub_id else _NO_SUB_IDS
                if previous is None:
                    targets[session] = (sub.qos, sub.retain_as_published, ids)
                else:
                    targets[session] = (
                        max(previous[0], sub.qos),
                        previous[1] or sub.retain_as_published,
                        previous[2] + ids,
                    )
            if node.shared:
                for group, members in node.shared.items():
                    chosen = self._pick_shared_member(node, group, members)
                    if chosen.session.deliver(
                        message,
                        min(qos, chosen.qos),
                        retain and chosen.retain_as_published,
                        (chosen.sub_id,) if chosen.sub_id else _NO_SUB_IDS,
                        now,
                    ):
                        full.append(chosen.session)
                    shared += 1
        for session, (sub_qos, retain_as_published, ids) in targets.items():
            if session.deliver(
                message, min(sub_qos, qos), retain and retain_as_published, ids, now
            ):
                full.append(session)
        return len(targets) + shared, full

    @staticmethod
    def _pick_shared_member(node: _Node, group: str, members: list[_Subscription]) -> _Subscription:
        """Round robin over the group's members, preferring connected ones."""
        start = node.rotation.get(group, 0)
        count = len(members)
        for step in range(count):
            candidate = members[(start + step) % count]
            if candidate.session.conn is not None:
                node.rotation[group] = (start + step + 1) % count
                return candidate
        node.rotation[group] = (start + 1) % count
        return members[start % count]


class BrokerThread:
    """An :class:`EmbeddedBroker` running on its own event loop in a daemon thread."""

    def __init__(self, broker: EmbeddedBroker, start_timeout: float = 10.0) -> None:
        self.broker = broker
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="eclor-mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(start_timeout):
            raise RuntimeError("embedded MQTT broker did not start in time")
        if self._error is not None:
            raise RuntimeError("embedded MQTT broker failed to start") from self._error

    @property
    def port(self) -> int:
        return self.broker.port

    @property
    def url(self) -> str:
        return self.broker.url

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.broker.start())
        except Exception as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.broker.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker and wait for its thread to end."""
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_in_thread(host: str = "127.0.0.1", port: int = 0, **options: Any) -> BrokerThread:
    """Start an :class:`EmbeddedBroker` in a background thread; ``.port``, ``.stop()``."""
    return EmbeddedBroker(host, port, **options).start_in_thread()


def main(argv: list[str] | None = None) -> None:
    """Run the embedded broker in the foreground (``python -m app.mqtt_broker``)."""
    parser = argparse.ArgumentParser(description="Eclor embedded MQTT broker")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)

    async def serve() -> None:
        async with EmbeddedBroker(args.host, args.port):
            await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
