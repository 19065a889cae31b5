"""What the embedded broker (``app.mqtt_broker``) holds: messages, subscriptions in a topic tree,
sessions with their queues and in-flight windows, and the rights of a client (:class:`Grants`)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from app.mqtt_codec import (
    PUBACK,
    PUBCOMP,
    PUBREC,
    PUBREL,
    RC_PACKET_ID_NOT_FOUND,
    _string,
)


EmbeddedBroker = Any  # the broker side, typed loosely here to keep the modules acyclic
_Connection = Any  # a connection (app.mqtt_connection), typed loosely: no import cycle
logger = logging.getLogger("eclor.mqtt_broker")


class Grants(Protocol):
    """What one authenticated client may do."""

    def may_publish(self, topic: str) -> bool: ...

    def may_subscribe(self, topic_filter: str) -> bool: ...


class Authenticator(Protocol):
    """Checks CONNECT credentials; returns the client's grants, or None to refuse it."""

    def authenticate(
        self, client_id: str, username: str | None, password: bytes | None
    ) -> Grants | None: ...


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
