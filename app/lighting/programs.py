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

Energy model
------------
``P = nominal × (floor + (1 − floor) × level / 100)`` when ``level > 0`` and
``P = standby`` when ``level = 0``: an LED driver does not dim to zero power (it
draws roughly ``floor`` = 10 % of nominal at the lowest dimming level) and the
control node draws ~0.5–1 W when the lamp is off. With ``floor = 0`` and
``standby = 0`` this is REFERENCE's ``E = Σ P × level × Δt``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise
from typing import Any, Final, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from astral import Observer
from astral import sun as astral_sun

from app.i18n import gettext as _

UTC: Final = dt.UTC
NOON: Final = dt.time(12, 0)
MAX_STEPS: Final = 48
MAX_OFFSET_MIN: Final = 120
MAX_HOLD_S: Final = 3600
PROGRAM_FORMAT_VERSION: Final = 1
CALENDAR_FORMAT_VERSION: Final = 1

_EPSILON: Final = dt.timedelta(microseconds=1)


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


def _require_aware(value: dt.datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def night_of(when: dt.datetime, position: Position) -> dt.date:
    """The day whose evening started the night ``when`` belongs to (noon to noon, local)."""
    _require_aware(when, "when")
    local = when.astimezone(position.tz)
    return local.date() if local.time() >= NOON else local.date() - dt.timedelta(days=1)


def _local_to_utc(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
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


def _check_level(value: Any, field_name: str, error: type[LightingError]) -> int:
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
        _check_level(self.level, "level", ProgramError)
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
            _check_level(self.boost_level, "boost_level", ProgramError)
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
        _require_aware(detected_at, "detected_at")
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


# --------------------------------------------------------------------------- calendars


@dataclass(frozen=True)
class DateRange:
    """Inclusive range of days. ``yearly`` ranges repeat every year (the year of
    ``start``/``end`` is ignored, and ``12-24`` to ``01-02`` wraps the new year)."""

    start: dt.date
    end: dt.date
    yearly: bool = False

    def __post_init__(self) -> None:
        if not self.yearly and self.end < self.start:
            raise CalendarError(
                _("La fin de la période ({end}) précède son début ({start}).").format(
                    start=self.start.isoformat(), end=self.end.isoformat()
                ),
                "end",
            )

    def contains(self, day: dt.date) -> bool:
        """True when ``day`` is inside the range."""
        if not self.yearly:
            return self.start <= day <= self.end
        key = (day.month, day.day)
        first, last = (self.start.month, self.start.day), (self.end.month, self.end.day)
        if first <= last:
            return first <= key <= last
        return key >= first or key <= last

    def to_dict(self) -> dict[str, Any]:
        """``{"start", "end", "yearly"}``; yearly dates are written ``MM-DD``."""
        if self.yearly:
            return {
                "start": self.start.strftime("%m-%d"),
                "end": self.end.strftime("%m-%d"),
                "yearly": True,
            }
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "yearly": False}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> DateRange:
        """Read :meth:`to_dict`'s form, with French errors."""
        yearly = data.get("yearly", False)
        if not isinstance(yearly, bool):
            raise CalendarError(_("« yearly » doit valoir true ou false."), f"{where}.yearly")
        start = _parse_day(data.get("start"), yearly, f"{where}.start")
        end = _parse_day(data.get("end"), yearly, f"{where}.end")
        try:
            return cls(start=start, end=end, yearly=yearly)
        except CalendarError as exc:
            raise CalendarError(exc.message, f"{where}.end") from None


def _parse_day(value: Any, yearly: bool, where: str) -> dt.date:
    if not isinstance(value, str):
        raise CalendarError(_("Date manquante."), where)
    try:
        if yearly:
            # 2000 is a leap year, so 02-29 is accepted (it matches leap years only).
            return dt.date.fromisoformat(f"2000-{value}")
        return dt.date.fromisoformat(value)
    except ValueError:
        expected = "MM-JJ" if yearly else "AAAA-MM-JJ"
        raise CalendarError(
            _("Date invalide « {value} » : attendu {expected}.").format(
                value=value, expected=expected
            ),
            where,
        ) from None


@dataclass(frozen=True)
class CalendarRule:
    """Use ``program_id`` on matching days.

    A rule matches on its weekdays (0 = Monday … 6 = Sunday), its date range, or
    both (both must then match). The highest ``priority`` wins; at equal
    priority a rule with a date range beats a weekdays-only rule; then the rule
    listed first wins.
    """

    program_id: str
    weekdays: frozenset[int] = frozenset()
    dates: DateRange | None = None
    priority: int = 0
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        if not self.weekdays and self.dates is None:
            raise CalendarError(
                _("Une règle porte sur des jours de la semaine, une période, ou les deux."),
                "weekdays",
            )
        if any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in self.weekdays
        ):
            raise CalendarError(
                _("Jours de la semaine : entiers de 0 (lundi) à 6 (dimanche)."), "weekdays"
            )
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise CalendarError(_("La priorité doit être un nombre entier."), "priority")

    def matches(self, day: dt.date) -> bool:
        """True when the rule applies to ``day``."""
        if self.weekdays and day.weekday() not in self.weekdays:
            return False
        return self.dates is None or self.dates.contains(day)

    def rank(self) -> tuple[int, int]:
        """Sort key, higher wins: (priority, specificity)."""
        return (self.priority, 1 if self.dates is not None else 0)


@dataclass(frozen=True)
class Calendar:
    """Which program applies on which night.

    ``programs`` maps program ids (as stored) to programs; ``default_program_id``
    applies when no rule matches. The day of a night is the day of its evening
    (see :func:`night_of`): the New Year's Eve program runs until the morning
    of January 1st.
    """

    default_program_id: str
    programs: Mapping[str, Program]
    rules: tuple[CalendarRule, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        if self.default_program_id not in self.programs:
            raise CalendarError(
                _("Programme par défaut inconnu : « {value} ».").format(
                    value=self.default_program_id
                ),
                "default",
            )
        for index, rule in enumerate(self.rules):
            if rule.program_id not in self.programs:
                raise CalendarError(
                    _("Règle {number} : programme inconnu « {value} ».").format(
                        number=index + 1, value=rule.program_id
                    ),
                    f"rules[{index}].program",
                )

    def rule_for(self, day: dt.date) -> CalendarRule | None:
        """The winning rule on ``day``, or None when the default program applies."""
        best: CalendarRule | None = None
        for rule in self.rules:
            if rule.matches(day) and (best is None or rule.rank() > best.rank()):
                best = rule
        return best

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; programs are referenced by id and stored on their own."""
        rules = []
        for rule in self.rules:
            item: dict[str, Any] = {"program": rule.program_id, "priority": rule.priority}
            if rule.weekdays:
                item["weekdays"] = sorted(rule.weekdays)
            if rule.dates is not None:
                item.update(rule.dates.to_dict())
            if rule.label:
                item["label"] = rule.label
            rules.append(item)
        return {
            "version": CALENDAR_FORMAT_VERSION,
            "default": self.default_program_id,
            "rules": rules,
        }

    @classmethod
    def from_dict(cls, data: Any, programs: Mapping[str, Program]) -> Calendar:
        """Validate stored or submitted calendar data against the known programs."""
        if not isinstance(data, Mapping):
            raise CalendarError(_("Un calendrier doit être un objet JSON."))
        if data.get("version", CALENDAR_FORMAT_VERSION) != CALENDAR_FORMAT_VERSION:
            raise CalendarError(_("Version de calendrier non prise en charge."), "version")
        default = data.get("default")
        if not isinstance(default, str):
            raise CalendarError(_("Programme par défaut manquant."), "default")
        raw_rules = data.get("rules", [])
        if not isinstance(raw_rules, list):
            raise CalendarError(_("Les règles doivent être une liste."), "rules")
        rules: list[CalendarRule] = []
        allowed = {"program", "priority", "weekdays", "start", "end", "yearly", "label"}
        for index, raw in enumerate(raw_rules):
            where = f"rules[{index}]"
            if not isinstance(raw, Mapping):
                raise CalendarError(_("Règle invalide."), where)
            unknown = sorted(str(key) for key in raw if key not in allowed)
            if unknown:
                raise CalendarError(
                    _("Champ inconnu dans la règle : « {value} ».").format(value=unknown[0]),
                    f"{where}.{unknown[0]}",
                )
            program_id = raw.get("program")
            if not isinstance(program_id, str):
                raise CalendarError(_("Programme de la règle manquant."), f"{where}.program")
            weekdays = raw.get("weekdays", [])
            if not isinstance(weekdays, list):
                raise CalendarError(
                    _("Jours de la semaine : entiers de 0 (lundi) à 6 (dimanche)."),
                    f"{where}.weekdays",
                )
            dates = None
            if "start" in raw or "end" in raw:
                dates = DateRange.from_dict(raw, where)
            label = raw.get("label", "")
            if not isinstance(label, str):
                raise CalendarError(_("Le libellé doit être un texte."), f"{where}.label")
            try:
                rules.append(
                    CalendarRule(
                        program_id=program_id,
                        weekdays=frozenset(weekdays),
                        dates=dates,
                        priority=raw.get("priority", 0),
                        label=label,
                    )
                )
            except (CalendarError, TypeError) as exc:
                message = exc.message if isinstance(exc, CalendarError) else _("Règle invalide.")
                raise CalendarError(
                    _("Règle {number} : {message}").format(number=index + 1, message=message),
                    where,
                ) from None
        return cls(default_program_id=default, programs=dict(programs), rules=tuple(rules))


def program_for(day: dt.date, calendar: Calendar) -> Program:
    """The program that runs on the night starting on the evening of ``day``."""
    rule = calendar.rule_for(day)
    return calendar.programs[rule.program_id if rule else calendar.default_program_id]


ProgramSource: TypeAlias = Program | Calendar


def _program_on(source: ProgramSource, day: dt.date) -> Program:
    return program_for(day, source) if isinstance(source, Calendar) else source


# --------------------------------------------------------------------------- nights


@lru_cache(maxsize=16384)
def _sun_utc(
    position: Position, day: dt.date, event: SunEvent, twilight_deg: float
) -> dt.datetime | None:
    """The event on the local date ``day`` in UTC, or None when it does not happen."""
    observer = position.observer
    tz = position.tz
    try:
        if event is SunEvent.SUNSET:
            moment = astral_sun.sunset(observer, day, tzinfo=tz)
        elif event is SunEvent.SUNRISE:
            moment = astral_sun.sunrise(observer, day, tzinfo=tz)
        elif event is SunEvent.DUSK:
            moment = astral_sun.dusk(observer, day, depression=twilight_deg, tzinfo=tz)
        else:
            moment = astral_sun.dawn(observer, day, depression=twilight_deg, tzinfo=tz)
    except ValueError:
        return None
    return moment.astimezone(UTC)


def _sun_is_up(position: Position, moment: dt.datetime) -> bool:
    return astral_sun.elevation(position.observer, moment) > -0.833


@dataclass(frozen=True)
class _Night:
    """One night of one program, resolved to instants (UTC)."""

    start: dt.datetime  # noon of the day
    end: dt.datetime  # noon of the next day
    dark_from: dt.datetime
    dark_until: dt.datetime
    times: tuple[dt.datetime, ...]  # effective start of each present step, non-decreasing
    levels: tuple[int, ...]

    def step_level(self, moment: dt.datetime, carry: int) -> int:
        level = carry
        for time, step_level in zip(self.times, self.levels, strict=True):
            if time > moment:
                break
            level = step_level
        return level

    def is_dark(self, moment: dt.datetime) -> bool:
        return self.dark_from <= moment < self.dark_until


@lru_cache(maxsize=8192)
def _night(program: Program, day: dt.date, position: Position) -> _Night:
    tz = position.tz
    next_day = day + dt.timedelta(days=1)
    start = _local_to_utc(day, NOON, tz)
    end = _local_to_utc(next_day, NOON, tz)

    # Resolve every step; sun-anchored ones are the fixed points, kept in list order.
    resolved: list[tuple[Step, dt.datetime]] = []
    for step in program.steps:
        if step.time is not None:
            on = day if step.time >= NOON else next_day
            resolved.append((step, _local_to_utc(on, step.time, tz)))
            continue
        assert step.event is not None
        on = day if step.event.is_evening else next_day
        moment = _sun_utc(position, on, step.event, program.twilight_deg)
        if moment is not None:
            resolved.append((step, moment + dt.timedelta(minutes=step.offset_min)))

    anchors: list[dt.datetime | None] = []
    latest: dt.datetime | None = None
    for step, moment in resolved:
        if step.is_sun_anchored:
            latest = moment if latest is None else max(latest, moment)
            anchors.append(latest)
        else:
            anchors.append(None)

    times: list[dt.datetime] = []
    for index, (step, moment) in enumerate(resolved):
        effective = anchors[index]
        if effective is None:
            low = next((a for a in reversed(anchors[:index]) if a is not None), None)
            high = next((a for a in anchors[index + 1 :] if a is not None), None)
            effective = moment
            if low is not None and effective < low:
                effective = low
            if high is not None and effective > high:
                effective = high
        times.append(min(max(effective, start), end))

    # The dark hours: sunset to sunrise, unless sun-anchored steps say otherwise.
    sunset = _sun_utc(position, day, SunEvent.SUNSET, program.twilight_deg)
    sunrise = _sun_utc(position, next_day, SunEvent.SUNRISE, program.twilight_deg)
    if sunset is None:
        dark_from = start if not _sun_is_up(position, start) else end
    else:
        dark_from = sunset
    if sunrise is None:
        dark_until = end
    else:
        dark_until = sunrise
    for (step, _moment), time in zip(resolved, times, strict=True):
        if step.event is None:
            continue
        if step.event.is_evening and step.level > 0 and time < dark_from:
            dark_from = time
        if not step.event.is_evening and step.level == 0 and time > dark_until:
            dark_until = time
    dark_from = min(max(dark_from, start), end)
    dark_until = min(max(dark_until, dark_from), end)
    return _Night(
        start=start,
        end=end,
        dark_from=dark_from,
        dark_until=dark_until,
        times=tuple(times),
        levels=tuple(step.level for step, _ in resolved),
    )


def _carry(program: Program, day: dt.date, position: Position) -> int:
    """The level in force when the night of ``day`` begins: the program's last step."""
    previous = _night(program, day - dt.timedelta(days=1), position)
    return previous.levels[-1] if previous.levels else 0


def _level_in_night(
    program: Program,
    day: dt.date,
    position: Position,
    moment: dt.datetime,
    presence_until: dt.datetime | None,
) -> int:
    night = _night(program, day, position)
    if not night.is_dark(moment):
        return 0
    level = night.step_level(moment, _carry(program, day, position))
    if program.boost_level is not None and presence_until is not None and moment < presence_until:
        level = max(level, program.boost_level)
    return level


def level_at(
    program: ProgramSource,
    when: dt.datetime,
    position: Position,
    presence_until: dt.datetime | None = None,
) -> int:
    """The level (0..100) the program asks for at ``when``.

    ``program`` may be a :class:`Calendar`, which picks the night's program.
    ``presence_until`` is when the latest presence boost ends (see
    :meth:`Program.boost_until`); it only matters for programs with a boost.
    """
    _require_aware(when, "when")
    if presence_until is not None:
        _require_aware(presence_until, "presence_until")
        presence_until = presence_until.astimezone(UTC)
    day = night_of(when, position)
    return _level_in_night(
        _program_on(program, day), day, position, when.astimezone(UTC), presence_until
    )


def _points_utc(
    program: Program, day: dt.date, position: Position
) -> list[tuple[dt.datetime, int]]:
    """Every instant where the level may change in the night of ``day`` (UTC), with its level.

    The first point is the night's start (noon), so the list fully describes
    the level from noon to the next noon.
    """
    night = _night(program, day, position)
    candidates = sorted({night.start, night.dark_from, night.dark_until, *night.times})
    return [
        (moment, _level_in_night(program, day, position, moment, None))
        for moment in candidates
        if moment < night.end
    ]


def _changes_utc(
    program: Program, day: dt.date, position: Position
) -> list[tuple[dt.datetime, int]]:
    """Level changes within the night of ``day`` (UTC), relative to the level just before it."""
    night = _night(program, day, position)
    before = _level_in_night(
        program, day - dt.timedelta(days=1), position, night.start - _EPSILON, None
    )
    changes: list[tuple[dt.datetime, int]] = []
    for moment, level in _points_utc(program, day, position):
        if level != before:
            changes.append((moment, level))
            before = level
    return changes


def schedule(
    program: ProgramSource, day: dt.date, position: Position
) -> list[tuple[dt.datetime, int]]:
    """The level changes over the night that starts on the evening of ``day``.

    Each item is (local time, new level), in order, between noon on ``day`` and
    noon the next day. A change is listed when the level differs from the level
    just before it, so a night that starts and ends off lists its switch-on
    first and its switch-off last. Presence boosts are not part of a schedule.
    """
    tz = position.tz
    return [
        (moment.astimezone(tz), level)
        for moment, level in _changes_utc(_program_on(program, day), day, position)
    ]


def next_change(
    program: ProgramSource, when: dt.datetime, position: Position
) -> tuple[dt.datetime, int] | None:
    """The first programmed change strictly after ``when`` (local time, level), within two nights."""
    _require_aware(when, "when")
    moment = when.astimezone(UTC)
    day = night_of(when, position)
    for offset in range(3):
        current = day + dt.timedelta(days=offset)
        for change, level in _changes_utc(_program_on(program, current), current, position):
            if change > moment:
                return change.astimezone(position.tz), level
    return None


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
        _check_level(self.level, "level", LightingError)
        if self.expires_at is not None:
            _require_aware(self.expires_at, "expires_at")

    def active(self, now: dt.datetime) -> bool:
        """True while the override holds."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class Boost:
    """A sensor boost: at least ``level`` until ``expires_at``."""

    level: int
    expires_at: dt.datetime

    def __post_init__(self) -> None:
        _check_level(self.level, "level", LightingError)
        _require_aware(self.expires_at, "expires_at")

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
    _require_aware(now, "now")
    _check_level(program_level, "program_level", LightingError)
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


# --------------------------------------------------------------------------- energy


def power_w(
    nominal_w: float, level: int, driver_floor: float = 0.10, standby_w: float = 0.7
) -> float:
    """Electrical power (W) of a lamp at ``level``; the model is in the module docstring.

    ``nominal_w`` is the power at 100 % (ballast included for discharge lamps).
    """
    if nominal_w < 0:
        raise ValueError("nominal_w must be >= 0")
    if not 0.0 <= driver_floor < 1.0:
        raise ValueError("driver_floor must be in [0, 1)")
    if standby_w < 0:
        raise ValueError("standby_w must be >= 0")
    _check_level(level, "level", LightingError)
    if level == 0:
        return standby_w
    return nominal_w * (driver_floor + (1.0 - driver_floor) * level / 100.0)


def energy_kwh(
    samples: Iterable[tuple[dt.datetime, float]],
    method: Literal["trapezoid", "step"] = "trapezoid",
    max_gap_s: float | None = None,
) -> float:
    """Energy (kWh) from power samples (timestamp, W).

    ``trapezoid`` interpolates linearly between samples (power readings);
    ``step`` holds each value until the next sample (level changes, commands).
    Samples are sorted by time; an interval longer than ``max_gap_s`` (a device
    that stopped reporting) is left out rather than guessed.
    """
    ordered = sorted(samples, key=lambda item: item[0])
    for moment, _power in ordered:
        _require_aware(moment, "sample timestamp")
    total_wh = 0.0
    for (t0, p0), (t1, p1) in pairwise(ordered):
        seconds = (t1.astimezone(UTC) - t0.astimezone(UTC)).total_seconds()
        if seconds <= 0 or (max_gap_s is not None and seconds > max_gap_s):
            continue
        mean = (p0 + p1) / 2.0 if method == "trapezoid" else p0
        total_wh += mean * seconds / 3600.0
    return total_wh / 1000.0


def energy_between_kwh(
    program: ProgramSource,
    nominal_w: float,
    position: Position,
    start: dt.datetime,
    end: dt.datetime,
    *,
    driver_floor: float = 0.10,
    standby_w: float = 0.7,
) -> float:
    """Energy (kWh) of one lamp following ``program`` from ``start`` to ``end``.

    Integrated exactly between level changes (no per-minute sampling), so a
    year takes a few milliseconds. Presence boosts are not simulated.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if hi <= lo:
        return 0.0
    first = night_of(start, position)
    last = night_of(end, position)
    level = _level_in_night(_program_on(program, first), first, position, lo, None)
    cursor = lo
    watts = {lvl: power_w(nominal_w, lvl, driver_floor, standby_w) for lvl in range(101)}
    total_wh = 0.0
    day = first
    while day <= last:
        for moment, new_level in _points_utc(_program_on(program, day), day, position):
            if moment <= cursor:
                continue
            if moment >= hi:
                break
            total_wh += watts[level] * (moment - cursor).total_seconds() / 3600.0
            cursor, level = moment, new_level
        day += dt.timedelta(days=1)
    total_wh += watts[level] * (hi - cursor).total_seconds() / 3600.0
    return total_wh / 1000.0


def yearly_energy_kwh(
    program: ProgramSource,
    nominal_w: float,
    position: Position,
    year: int,
    *,
    driver_floor: float = 0.10,
    standby_w: float = 0.7,
) -> float:
    """Energy (kWh) of one lamp over the calendar ``year`` (local time)."""
    tz = position.tz
    start = dt.datetime(year, 1, 1, tzinfo=tz)
    end = dt.datetime(year + 1, 1, 1, tzinfo=tz)
    return energy_between_kwh(
        program, nominal_w, position, start, end, driver_floor=driver_floor, standby_w=standby_w
    )


def savings(actual_kwh: float, baseline_kwh: float) -> float:
    """Fraction saved against a baseline: 0.73 means 73 % less (negative: more)."""
    if baseline_kwh <= 0:
        raise ValueError("baseline_kwh must be > 0")
    return 1.0 - actual_kwh / baseline_kwh


@dataclass(frozen=True)
class Baseline:
    """A reference lamp and program the savings page compares against.

    ``label`` and ``description`` are French source strings: pass them through
    ``app.i18n.gettext`` when rendering. ``reference_kwh`` is REFERENCE's
    published figure for Lorraine; :meth:`yearly_kwh` recomputes it for a
    position and year with the same model (power proportional to level, no
    driver floor, no standby), so the page can show both.
    """

    key: str
    label: str
    description: str
    nominal_w: float
    program: Program
    reference_kwh: float
    driver_floor: float = 0.0
    standby_w: float = 0.0

    def yearly_kwh(self, position: Position, year: int) -> float:
        """The baseline's energy for one lamp at ``position`` over ``year``."""
        return yearly_energy_kwh(
            self.program,
            self.nominal_w,
            position,
            year,
            driver_floor=self.driver_floor,
            standby_w=self.standby_w,
        )


_ALL_NIGHT = Program.from_pairs([("dusk", 100), ("dawn", 0)], name="Toute la nuit")
_DIMMED_22_06 = Program.from_pairs(
    [("dusk", 100), ("22:00", 50), ("06:00", 100), ("dawn", 0)],
    name="Abaissement à 50 % de 22 h à 6 h",
)

BASELINES: Final[Mapping[str, Baseline]] = {
    baseline.key: baseline
    for baseline in (
        Baseline(
            key="hps_150_all_night",
            label=N_("Sodium haute pression 150 W, toute la nuit"),
            description=N_(
                "Ancienne lanterne au sodium haute pression de 150 W (170 W avec son "
                "ballast), allumée à pleine puissance du crépuscule à l'aube (soleil à "
                "3° sous l'horizon), sans abaissement : environ 699 kWh par an et par "
                "point lumineux en Lorraine."
            ),
            nominal_w=170.0,
            program=_ALL_NIGHT,
            reference_kwh=699.0,
        ),
        Baseline(
            key="led_70_all_night",
            label=N_("LED 70 W, toute la nuit"),
            description=N_(
                "Lanterne LED de 70 W allumée à pleine puissance du crépuscule à l'aube "
                "(soleil à 3° sous l'horizon), sans abaissement : environ 288 kWh par an."
            ),
            nominal_w=70.0,
            program=_ALL_NIGHT,
            reference_kwh=288.0,
        ),
        Baseline(
            key="led_70_dimmed_50",
            label=N_("LED 70 W, abaissée à 50 % de 22 h à 6 h"),
            description=N_(
                "Lanterne LED de 70 W allumée du crépuscule à l'aube, abaissée à 50 % "
                "entre 22 h et 6 h : environ 187 kWh par an (puissance proportionnelle "
                "au niveau, sans plancher du driver ni veille)."
            ),
            nominal_w=70.0,
            program=_DIMMED_22_06,
            reference_kwh=187.0,
        ),
    )
}

__all__ = [
    "BASELINES",
    "Baseline",
    "Boost",
    "Calendar",
    "CalendarError",
    "CalendarRule",
    "Command",
    "DateRange",
    "LightState",
    "LightingError",
    "Override",
    "Position",
    "Program",
    "ProgramError",
    "ProgramSource",
    "Reason",
    "Step",
    "SunEvent",
    "effective_command",
    "energy_between_kwh",
    "energy_kwh",
    "level_at",
    "next_change",
    "night_of",
    "power_w",
    "program_for",
    "savings",
    "schedule",
    "yearly_energy_kwh",
]
