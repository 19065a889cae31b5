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
import threading
from typing import TYPE_CHECKING, Any, Self

from app.mqtt_codec import (
    RC_SERVER_SHUTTING_DOWN,
    RC_SESSION_TAKEN_OVER,
    _NO_SUB_IDS,
    topic_matches,
)
from app.mqtt_session import (
    _Message,
    _Node,
    _Session,
    _Subscription,
    _TopicTree,
    _Will,
)
from app.mqtt_connection import _Connection
from app.mqtt_session import Authenticator, Grants

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

    def has_subscriber(self, topic: str) -> bool:
        """Whether a session (online or kept) subscribes to a filter ``topic`` matches. Safe to
        call from another thread: it reads copies, and a subscription made meanwhile is seen on
        the next call."""
        for session in list(self._sessions.values()):
            for topic_filter in list(session.subscriptions):
                if topic_filter.startswith("$share/"):
                    topic_filter = (
                        topic_filter.split("/", 2)[2] if topic_filter.count("/") >= 2 else ""
                    )
                if topic_filter and topic_matches(topic_filter, topic):
                    return True
        return False

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
