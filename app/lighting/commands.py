"""The effective command of a light: its program, a staff override or a boost, and why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from app.lighting.programs import LightingError, check_level, require_aware

# --------------------------------------------------------------------------- commands


class Reason(StrEnum):
    """Why a lamp gets its level (the ``reason`` of the MQTT command)."""

    OVERRIDE = "override"
    PROGRAM = "program"
    SENSOR = "sensor"


@dataclass(frozen=True)
class Override:
    """A staff override: ``level`` until ``expires_at`` (None: until cancelled).

    A new override replaces the previous one; removing it returns the lamp to
    its program (TALQ).
    """

    level: int
    expires_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        check_level(self.level, "level", LightingError)
        if self.expires_at is not None:
            require_aware(self.expires_at, "expires_at")

    def active(self, now: dt.datetime) -> bool:
        """True while the override holds."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class Boost:
    """A sensor boost: at least ``level`` until ``expires_at``."""

    level: int
    expires_at: dt.datetime

    def __post_init__(self) -> None:
        check_level(self.level, "level", LightingError)
        require_aware(self.expires_at, "expires_at")

    def active(self, now: dt.datetime) -> bool:
        """True while the boost holds."""
        return now < self.expires_at


@dataclass(frozen=True)
class Command:
    """A target level with its reason, valid until ``expires_at`` (None: open-ended)."""

    level: int
    reason: Reason
    expires_at: dt.datetime | None = None


def effective_command(
    now: dt.datetime,
    program_level: int,
    override: Override | None = None,
    boost: Boost | None = None,
    program_until: dt.datetime | None = None,
) -> Command:
    """The target a lamp or group should have at ``now``.

    An active override wins until it expires; otherwise the program's level,
    raised by an active sensor boost when the boost is higher (reason
    ``sensor``). ``program_until`` (the next programmed change, see
    :func:`next_change`) becomes the program command's ``expires_at``.
    """
    require_aware(now, "now")
    check_level(program_level, "program_level", LightingError)
    if override is not None and override.active(now):
        return Command(override.level, Reason.OVERRIDE, override.expires_at)
    if boost is not None and boost.active(now) and boost.level > program_level:
        expires = boost.expires_at
        return Command(boost.level, Reason.SENSOR, expires)
    return Command(program_level, Reason.PROGRAM, program_until)


@dataclass(frozen=True)
class LightState:
    """TALQ's three values for a lamp or group.

    ``target``: the last command decided by Eclor; ``in_effect``: the last
    command the device acknowledged as applied; ``actual_level``: the level the
    device last reported in telemetry.
    """

    target: Command | None = None
    in_effect: Command | None = None
    actual_level: int | None = None

    def decide(
        self,
        now: dt.datetime,
        program_level: int,
        override: Override | None = None,
        boost: Boost | None = None,
        program_until: dt.datetime | None = None,
    ) -> Command:
        """The effective target now (see :func:`effective_command`)."""
        return effective_command(now, program_level, override, boost, program_until)

    def needs_command(self, desired: Command) -> bool:
        """True when ``desired`` differs from the current target in level or reason."""
        return (
            self.target is None
            or self.target.level != desired.level
            or self.target.reason != desired.reason
        )

    def with_target(self, command: Command) -> LightState:
        """This state with a new target (in effect and actual level unchanged)."""
        return LightState(command, self.in_effect, self.actual_level)

    @property
    def converged(self) -> bool:
        """True when the device applied the target and reports its level."""
        return (
            self.target is not None
            and self.in_effect is not None
            and self.in_effect.level == self.target.level
            and self.actual_level == self.target.level
        )
