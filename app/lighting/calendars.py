"""Lighting calendars: which program runs on which night (date ranges, weekdays, the default program)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from app.i18n import gettext as _
from app.lighting.programs import CALENDAR_FORMAT_VERSION, CalendarError, Program

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


def program_on(source: ProgramSource, day: dt.date) -> Program:
    return program_for(day, source) if isinstance(source, Calendar) else source
