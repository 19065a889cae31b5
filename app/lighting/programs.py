"""Public lighting logic: dimming programs, calendars, the effective command, energy.

Pure logic shared by the staff pages, the worker and the CLI: frozen dataclasses
in, values out; no database and no I/O. Times are timezone-aware datetimes; all
arithmetic is done in UTC (Python compares and subtracts two datetimes that share
a ``ZoneInfo`` on their wall clocks, which is wrong across a DST change), and
results are returned in the position's local time.

Programs (TALQ-like)
--------------------
A :class:`Program` is an ordered list of :class:`Step`. A step starts either at a
fixed local time (``"22:00"``) or at a sun event with an offset in minutes
(``"sunset+15"``, ``"dawn-10"``) and sets a level 0..100. The list describes one
*night*, read from noon to the next noon:

* the night of day ``D`` runs from noon on ``D`` to noon on ``D + 1`` (local time);
  a fixed time at or after 12:00 falls on ``D``, one before 12:00 on ``D + 1``;
  ``sunset``/``dusk`` are taken on ``D`` and ``sunrise``/``dawn`` on ``D + 1``;
* ``dusk``/``dawn`` are the instants the sun crosses ``twilight_deg`` degrees below
  the horizon (3° by default: the usual switching point of public lighting, and
  the convention behind the ~4,100 burning hours a year of Lorraine);
* sun-anchored steps are the fixed points of the night; a fixed-time step is kept
  between the sun-anchored steps listed around it. So in
  ``dusk → 100, 22:00 → 50, 06:00 → 100, dawn → 0`` a summer dusk at 22:10 moves
  the 22:00 step to 22:10 (the lamp comes on at 50 %), and a summer dawn at 05:05
  moves the 06:00 step to 05:05, where ``dawn → 0`` (listed later) wins. This is
  the natural reading "dimmed from 22:00 to 06:00, within the dark hours";
* the level in force at an instant is set by the latest step; before the first
  step of a night the last step of the program is still in force (programs are
  daily cycles);
* **off in daylight**: between sunrise and sunset the level is 0 unless a step
  says otherwise. Only sun-anchored steps can: an evening step (``sunset``/``dusk``)
  with a level above 0 that falls before sunset starts the night early
  (``sunset-10 → 100``), and a morning step (``sunrise``/``dawn``) with level 0 that
  falls after sunrise ends it late (``sunrise+10 → 0``). Fixed-time steps never
  light a lamp in daylight, so ``06:00 → 100`` does nothing on a June morning;
* presence boost: with ``boost_level`` and ``hold_s``, a presence detection raises
  the level to at least ``boost_level`` until ``hold_s`` seconds after it, during
  the dark hours only.

Steps at a local time that does not exist (the skipped hour of the spring DST
change) fire one hour later by the clock; ambiguous times (the repeated autumn
hour) fire at their first occurrence.

The rest of the lighting logic lives by what it does: ``calendars`` (which
program runs on which night), ``nights`` (levels over real nights, schedules),
``commands`` (the effective command: program, override, boost) and
``consumption`` (the energy model).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from astral import Observer

from app.i18n import gettext as _

UTC: Final = dt.UTC
NOON: Final = dt.time(12, 0)
MAX_STEPS: Final = 48
MAX_OFFSET_MIN: Final = 120
MAX_HOLD_S: Final = 3600
PROGRAM_FORMAT_VERSION: Final = 1
CALENDAR_FORMAT_VERSION: Final = 1

EPSILON: Final = dt.timedelta(microseconds=1)


def N_(message: str) -> str:
    """Mark a French string for translation without translating it now.

    Used for module-level constants (baseline labels): translate them with
    ``app.i18n.gettext`` when rendering, in the reader's locale.
    """
    return message


# --------------------------------------------------------------------------- errors


class LightingError(ValueError):
    """Invalid lighting input; the message is French (through gettext) and user-facing.

    ``field`` names the offending value (``"steps[2].level"``) so a form can put
    the message next to it.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ProgramError(LightingError):
    """A dimming program that cannot be stored or run."""


class CalendarError(LightingError):
    """A calendar that cannot be stored or used."""


# --------------------------------------------------------------------------- position


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class Position:
    """Where sun events are computed: a territory's or a lamp group's centre.

    ``timezone`` is an IANA name; the territory record carries it (Eclor keeps
    the territory as data, so nothing here assumes one place).
    """

    latitude: float
    longitude: float
    timezone: str = "Europe/Paris"

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0:
            raise LightingError(
                _("Latitude invalide : {value} (attendu entre -90 et 90).").format(
                    value=self.latitude
                ),
                "latitude",
            )
        if not -180.0 <= self.longitude <= 180.0:
            raise LightingError(
                _("Longitude invalide : {value} (attendu entre -180 et 180).").format(
                    value=self.longitude
                ),
                "longitude",
            )
        try:
            _zone(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise LightingError(
                _("Fuseau horaire inconnu : « {value} ».").format(value=self.timezone),
                "timezone",
            ) from exc

    @property
    def tz(self) -> ZoneInfo:
        """The position's time zone."""
        return _zone(self.timezone)

    @property
    def observer(self) -> Observer:
        """The astral observer for this position (sea level)."""
        return Observer(latitude=self.latitude, longitude=self.longitude)


def require_aware(value: dt.datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def night_of(when: dt.datetime, position: Position) -> dt.date:
    """The day whose evening started the night ``when`` belongs to (noon to noon, local)."""
    require_aware(when, "when")
    local = when.astimezone(position.tz)
    return local.date() if local.time() >= NOON else local.date() - dt.timedelta(days=1)


def local_to_utc(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    # fold=0: a skipped wall time keeps the offset in force before the change
    # (so 02:30 on the spring-forward night is 03:30 CEST); a repeated one is
    # its first occurrence.
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(UTC)


# --------------------------------------------------------------------------- steps


class SunEvent(StrEnum):
    """Sun events a step can be anchored to."""

    SUNSET = "sunset"
    SUNRISE = "sunrise"
    DUSK = "dusk"
    DAWN = "dawn"

    @property
    def is_evening(self) -> bool:
        """Sunset and dusk close the day; sunrise and dawn open the next one."""
        return self in (SunEvent.SUNSET, SunEvent.DUSK)


_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
_EVENT_RE = re.compile(r"^([a-z]+)\s*(?:([+-])\s*(\d{1,4})\s*(?:min)?)?$")


def check_level(value: Any, field_name: str, error: type[LightingError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise error(
            _("Le niveau doit être un entier entre 0 et 100 (reçu : {value}).").format(value=value),
            field_name,
        )
    return value


@dataclass(frozen=True)
class Step:
    """One step of a program: from ``at`` on, the level is ``level`` (0..100).

    Exactly one of ``time`` (a fixed local time) and ``event`` (a sun event,
    shifted by ``offset_min`` minutes, −120..120) is set. Build one from its
    text form with :meth:`parse`.
    """

    level: int
    time: dt.time | None = None
    event: SunEvent | None = None
    offset_min: int = 0

    def __post_init__(self) -> None:
        check_level(self.level, "level", ProgramError)
        if (self.time is None) == (self.event is None):
            raise ProgramError(
                _("Une étape commence soit à une heure fixe, soit à un événement solaire."),
                "at",
            )
        if self.time is not None:
            if self.offset_min != 0:
                raise ProgramError(_("Un décalage ne s'applique qu'à un événement solaire."), "at")
            if self.time.second or self.time.microsecond or self.time.tzinfo is not None:
                raise ProgramError(
                    _("Une heure d'étape s'écrit HH:MM, heure locale, sans secondes."), "at"
                )
        if self.event is not None:
            object.__setattr__(self, "event", SunEvent(self.event))
            if (
                isinstance(self.offset_min, bool)
                or not isinstance(self.offset_min, int)
                or abs(self.offset_min) > MAX_OFFSET_MIN
            ):
                raise ProgramError(
                    _(
                        "Le décalage doit être un nombre entier de minutes entre "
                        "-{limit} et {limit} (reçu : {value})."
                    ).format(limit=MAX_OFFSET_MIN, value=self.offset_min),
                    "at",
                )

    @classmethod
    def parse(cls, at: str, level: int) -> Step:
        """A step from its text form: ``"22:00"``, ``"sunset"``, ``"sunset+15"``, ``"dawn-10"``."""
        if not isinstance(at, str) or not at.strip():
            raise ProgramError(
                _("Début d'étape manquant : une heure (HH:MM) ou un événement solaire."), "at"
            )
        text = at.strip().lower()
        match = _TIME_RE.match(text)
        if match:
            hour, minute = int(match.group(1)), int(match.group(2))
            if hour > 23 or minute > 59:
                raise ProgramError(
                    _("Heure invalide « {value} » : attendu HH:MM entre 00:00 et 23:59.").format(
                        value=at
                    ),
                    "at",
                )
            return cls(level=level, time=dt.time(hour, minute))
        match = _EVENT_RE.match(text)
        if match is None:
            if any(ch.isdigit() for ch in text) and ":" in text:
                message = _("Heure invalide « {value} » : attendu HH:MM entre 00:00 et 23:59.")
            else:
                message = _(
                    "Début d'étape invalide « {value} » : attendu une heure HH:MM ou un "
                    "événement (sunset, sunrise, dusk, dawn) suivi d'un décalage en minutes, "
                    "par exemple sunset+15."
                )
            raise ProgramError(message.format(value=at), "at")
        name, sign, minutes = match.groups()
        try:
            event = SunEvent(name)
        except ValueError:
            raise ProgramError(
                _(
                    "Événement inconnu « {value} » : attendu sunset (coucher du soleil), "
                    "sunrise (lever), dusk (crépuscule) ou dawn (aube)."
                ).format(value=name),
                "at",
            ) from None
        offset = int(minutes) if minutes else 0
        return cls(level=level, event=event, offset_min=-offset if sign == "-" else offset)

    @property
    def at(self) -> str:
        """The text form of the start: ``"22:00"`` or ``"sunset+15"``."""
        if self.time is not None:
            return self.time.strftime("%H:%M")
        assert self.event is not None
        if self.offset_min == 0:
            return self.event.value
        return f"{self.event.value}{self.offset_min:+d}"

    @property
    def is_sun_anchored(self) -> bool:
        """True when the step follows the sun."""
        return self.event is not None

    def night_minutes(self) -> int:
        """Minutes after noon of a fixed-time step (its place in a noon-to-noon night)."""
        assert self.time is not None
        return (self.time.hour * 60 + self.time.minute - 12 * 60) % (24 * 60)


# --------------------------------------------------------------------------- programs


@dataclass(frozen=True)
class Program:
    """A dimming program: the steps of one night, plus the presence boost.

    ``boost_level`` (0..100 or None) and ``hold_s`` (1..3600 s when a boost is
    set): a presence detection raises the level to at least ``boost_level``
    until ``hold_s`` after the detection, during the dark hours.
    ``twilight_deg`` is the sun's depression that defines ``dusk`` and ``dawn``.
    """

    steps: tuple[Step, ...]
    boost_level: int | None = None
    hold_s: int = 0
    twilight_deg: float = 3.0
    name: str = ""

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        object.__setattr__(self, "steps", steps)
        if len(steps) > MAX_STEPS:
            raise ProgramError(
                _("Un programme a au plus {limit} étapes.").format(limit=MAX_STEPS), "steps"
            )
        for index, step in enumerate(steps):
            if not isinstance(step, Step):
                raise ProgramError(_("Étape invalide."), f"steps[{index}]")
        _check_night_order(steps)
        if self.boost_level is not None:
            check_level(self.boost_level, "boost_level", ProgramError)
            if (
                isinstance(self.hold_s, bool)
                or not isinstance(self.hold_s, int)
                or not 1 <= self.hold_s <= MAX_HOLD_S
            ):
                raise ProgramError(
                    _(
                        "La durée de maintien après détection doit être un nombre entier de "
                        "secondes entre 1 et {limit} (reçu : {value})."
                    ).format(limit=MAX_HOLD_S, value=self.hold_s),
                    "hold_s",
                )
        elif self.hold_s != 0:
            raise ProgramError(
                _("Une durée de maintien demande un niveau de détection de présence."),
                "hold_s",
            )
        if (
            isinstance(self.twilight_deg, bool)
            or not isinstance(self.twilight_deg, int | float)
            or not 0.0 < float(self.twilight_deg) <= 18.0
        ):
            raise ProgramError(
                _(
                    "L'angle du crépuscule doit être entre 0 et 18 degrés sous l'horizon "
                    "(reçu : {value})."
                ).format(value=self.twilight_deg),
                "twilight_deg",
            )
        object.__setattr__(self, "twilight_deg", float(self.twilight_deg))
        if not isinstance(self.name, str) or len(self.name) > 200:
            raise ProgramError(_("Le nom du programme fait au plus 200 caractères."), "name")

    @property
    def has_boost(self) -> bool:
        """True when presence detection raises the level."""
        return self.boost_level is not None

    def boost_until(self, detected_at: dt.datetime) -> dt.datetime:
        """When the boost started by a presence detection at ``detected_at`` ends."""
        require_aware(detected_at, "detected_at")
        return detected_at + dt.timedelta(seconds=self.hold_s)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict for a database JSON column; :meth:`from_dict` reads it back."""
        return {
            "version": PROGRAM_FORMAT_VERSION,
            "name": self.name,
            "steps": [{"at": step.at, "level": step.level} for step in self.steps],
            "boost_level": self.boost_level,
            "hold_s": self.hold_s,
            "twilight_deg": self.twilight_deg,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Program:
        """Validate and build a program from stored or submitted data.

        Raises :class:`ProgramError` (French message, ``field`` set) on any
        problem: unknown keys, level bounds, bad times, unknown events, order.
        """
        if not isinstance(data, Mapping):
            raise ProgramError(_("Un programme doit être un objet JSON."))
        known = {"version", "name", "steps", "boost_level", "hold_s", "twilight_deg"}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ProgramError(
                _("Champ inconnu dans le programme : « {value} ».").format(value=unknown[0]),
                unknown[0],
            )
        version = data.get("version", PROGRAM_FORMAT_VERSION)
        if version != PROGRAM_FORMAT_VERSION:
            raise ProgramError(
                _("Version de programme non prise en charge : {value}.").format(value=version),
                "version",
            )
        raw_steps = data.get("steps")
        if not isinstance(raw_steps, list):
            raise ProgramError(_("Les étapes doivent être une liste."), "steps")
        steps: list[Step] = []
        for index, raw in enumerate(raw_steps):
            where = f"steps[{index}]"
            if not isinstance(raw, Mapping) or set(raw) != {"at", "level"}:
                raise ProgramError(
                    _("Étape {number} : attendu un objet avec « at » et « level ».").format(
                        number=index + 1
                    ),
                    where,
                )
            try:
                steps.append(Step.parse(raw["at"], raw["level"]))
            except ProgramError as exc:
                raise ProgramError(
                    _("Étape {number} : {message}").format(number=index + 1, message=exc.message),
                    f"{where}.{exc.field or 'at'}",
                ) from None
        boost_level = data.get("boost_level")
        hold_s = data.get("hold_s", 0)
        twilight = data.get("twilight_deg", 3.0)
        name = data.get("name", "")
        return cls(
            steps=tuple(steps),
            boost_level=boost_level,
            hold_s=hold_s,
            twilight_deg=twilight,
            name=name,
        )

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, int]], **options: Any) -> Program:
        """Shorthand: ``Program.from_pairs([("sunset", 100), ("22:00", 50), ("sunrise", 0)])``."""
        return cls.from_dict(
            {"steps": [{"at": at, "level": level} for at, level in pairs], **options}
        )


def _check_night_order(steps: Sequence[Step]) -> None:
    """Steps must follow the night, noon to noon, as far as it is known in advance.

    Fixed times strictly increase from noon to noon; evening sun events come
    before morning ones; a fixed time listed before an evening event is an
    afternoon/evening time, and one listed after a morning event is a morning time.
    """
    previous_fixed: Step | None = None
    seen_morning = False
    for index, step in enumerate(steps):
        problem = False
        if step.time is not None:
            if (
                previous_fixed is not None
                and step.night_minutes() <= previous_fixed.night_minutes()
            ):
                problem = True
            is_morning = step.time < NOON
            later = steps[index + 1 :]
            if not is_morning and seen_morning:
                problem = True
            if is_morning and any(s.event is not None and s.event.is_evening for s in later):
                problem = True
            previous_fixed = step
        else:
            assert step.event is not None
            if step.event.is_evening and seen_morning:
                problem = True
            seen_morning = seen_morning or not step.event.is_evening
        if problem:
            raise ProgramError(
                _(
                    "Étape {number} (« {at} ») : les étapes doivent suivre l'ordre de la nuit, "
                    "de midi au lendemain midi (soirée, puis matin)."
                ).format(number=index + 1, at=step.at),
                f"steps[{index}].at",
            )
