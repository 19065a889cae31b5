"""The MQTT 3.1.1 / 5 wire format of the embedded broker (``app.mqtt_broker``): packet types,
reason codes, properties, the packet reader and writers, topic names and filters."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

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
