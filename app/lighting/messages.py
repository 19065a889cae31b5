"""The MQTT contract of DESIGN.md as code: topics, the command payload, times and bounds.

One definition read by both ends: the relay (``app.lighting.relay``) builds
commands with :func:`command_payload` and checks what devices send with
:func:`reading_time` and :func:`light_bounds`; the fleet simulator
(``workers.fleet``) reads commands with :func:`parse_command`. Nothing here
touches the database or the network.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from app.timeseries import parse_time, reading_time

__all__ = [
    "Command",
    "CommandRefused",
    "LightBounds",
    "command_payload",
    "iso",
    "light_bounds",
    "parse_command",
    "parse_time",
    "reading_time",
    "topic",
]
UTC = dt.UTC
COMMAND_KINDS = ("setLevel",)
ACK_STATUSES = ("accepted", "applied", "rejected", "expired")
STANDBY_W = 0.7  # a lamp's driver and controller, lit or not
LAMP_LIFETIME_H = 30 * 365 * 24.0  # an energy counter older than thirty years is not a lamp's


def topic(prefix: str, kind: str, device_id: str) -> str:
    """``{p}/{kind}/{id}``: ``kind`` is ``cmd/light``, ``ack/light``, ``tele/light``,
    ``tele/sensor`` or ``status``."""
    return f"{prefix.rstrip('/')}/{kind}/{device_id}"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class LightBounds:
    """What a lamp of a given rating can physically report."""

    max_power_w: float
    max_energy_wh: float

    def energy_possible(self, delta_wh: float, hours: float) -> bool:
        """Could the lamp have used ``delta_wh`` in ``hours`` (a quarter of an hour of slack)?"""
        return delta_wh <= self.max_power_w * (max(hours, 0.0) + 0.25)


def light_bounds(nominal_w: float | None) -> LightBounds:
    """Bounds for a lamp of ``nominal_w`` watts (its model's rating, ballast included)."""
    rating = float(nominal_w) if nominal_w and math.isfinite(nominal_w) and nominal_w > 0 else 250.0
    max_power = rating * 1.25 + STANDBY_W + 5.0
    return LightBounds(max_power_w=max_power, max_energy_wh=max_power * LAMP_LIFETIME_H)


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Command:
    """A ``setLevel`` command as a device reads it from ``{p}/cmd/light/{id}`` (see parse_command)."""

    command_id: str
    level: int
    ramp_s: float
    issued_at: dt.datetime
    expires_at: dt.datetime | None
    reason: str = "override"
    kind: str = "setLevel"


def command_payload(
    command_id: str,
    level: int,
    *,
    ramp_s: float,
    reason: str,
    issued_at: dt.datetime,
    expires_at: dt.datetime | None,
) -> dict[str, Any]:
    """The JSON object of a command (DESIGN.md)."""
    return {
        "command_id": command_id,
        "issued_at": iso(issued_at),
        "expires_at": None if expires_at is None else iso(expires_at),
        "kind": "setLevel",
        "level": level,
        "ramp_s": ramp_s,
        "reason": reason,
    }


class CommandRefused(ValueError):
    """A command a device must answer ``rejected`` (``command_id`` is known) or ignore."""

    def __init__(self, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id


def parse_command(data: Any) -> Command:
    """Read a command object as a device does; raise :class:`CommandRefused` when malformed."""
    command_id = data.get("command_id") if isinstance(data, dict) else None
    if not isinstance(command_id, str) or not command_id:
        raise CommandRefused("command without command_id")
    level, ramp_s = data.get("level"), data.get("ramp_s") or 0
    if (
        data.get("kind") not in COMMAND_KINDS
        or isinstance(level, bool)
        or not isinstance(level, int | float)
        or not 0 <= level <= 100
        or isinstance(ramp_s, bool)
        or not isinstance(ramp_s, int | float)
        or not 0 <= ramp_s < math.inf
    ):
        raise CommandRefused("malformed setLevel", command_id)
    try:
        expires = data.get("expires_at")
        expires_at = None if expires is None else parse_time(expires)
        issued = data.get("issued_at")
        issued_at = dt.datetime.now(UTC) if issued is None else parse_time(issued)
    except (ValueError, OverflowError) as exc:
        raise CommandRefused(f"bad time: {exc}", command_id) from exc
    given = data.get("reason")
    reason = given if isinstance(given, str) else "override"
    return Command(command_id, round(level), float(ramp_s), issued_at, expires_at, reason)
