"""One client connection of the embedded broker (``app.mqtt_broker``): framing, CONNECT with
credentials and rights, PUBLISH / SUBSCRIBE handling, keep-alive and backpressure."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import struct
import uuid
from typing import Any

from app.mqtt_codec import (
    CONNACK,
    CONNECT,
    DISCONNECT,
    PINGREQ,
    PUBACK,
    PUBCOMP,
    PUBLISH,
    PUBREC,
    PUBREL,
    P_ASSIGNED_CLIENT_ID,
    P_AUTH_METHOD,
    P_MAXIMUM_PACKET_SIZE,
    P_MESSAGE_EXPIRY,
    P_RECEIVE_MAXIMUM,
    P_SESSION_EXPIRY,
    P_SUBSCRIPTION_ID,
    P_TOPIC_ALIAS,
    P_TOPIC_ALIAS_MAXIMUM,
    P_WILL_DELAY,
    RC_BAD_AUTHENTICATION_METHOD,
    RC_DISCONNECT_WITH_WILL,
    RC_IMPLEMENTATION_SPECIFIC,
    RC_KEEP_ALIVE_TIMEOUT,
    RC_MALFORMED_PACKET,
    RC_NOT_AUTHORIZED,
    RC_NO_MATCHING_SUBSCRIBERS,
    RC_NO_SUBSCRIPTION_EXISTED,
    RC_PACKET_ID_NOT_FOUND,
    RC_PACKET_TOO_LARGE,
    RC_PROTOCOL_ERROR,
    RC_QUOTA_EXCEEDED,
    RC_RECEIVE_MAXIMUM_EXCEEDED,
    RC_SUCCESS,
    RC_TOPIC_ALIAS_INVALID,
    RC_TOPIC_FILTER_INVALID,
    RC_TOPIC_NAME_INVALID,
    RC_UNSPECIFIED_ERROR,
    RC_UNSUPPORTED_PROTOCOL_VERSION,
    SUBACK,
    SUBSCRIBE,
    UNSUBACK,
    UNSUBSCRIBE,
    _EMPTY_PROPERTIES,
    _PINGRESP,
    _ProtocolViolation,
    _Reader,
    _packet,
    _properties_block,
    _property,
    _valid_topic_filter,
    _valid_topic_name,
    _varint,
)
from app.mqtt_session import (
    Grants,
    _Message,
    _Session,
    _Subscription,
    _Will,
)


EmbeddedBroker = Any  # the broker side, typed loosely here to keep the modules acyclic
logger = logging.getLogger("eclor.mqtt_broker")


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
                    # Rounded to the microsecond first: ``(t + 120) - t`` in floating point can be
                    # 120.00000000000045, which ceil made 121 (longer than the publisher asked).
                    remaining = math.ceil(round(expires_at - now, 6))
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
