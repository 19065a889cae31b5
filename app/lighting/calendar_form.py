"""The lighting calendar as staff edit it: a form, not JSON.

A calendar is a default program and rules; in the form each rule is one row
with a label, a program chosen from a list, weekday boxes named in the
reader's language, a date range ("chaque année" for ranges that come back
every year) and a priority. :func:`read_form` turns the submitted fields into
the stored definition (``Calendar.to_dict()``'s JSON form) or into one French
message per field, keyed by the id of the field in the page, so each error is
written next to its field. :func:`form_of` does the reverse for editing, and
:func:`describe` says a calendar in words for the list of calendars.

Programs are offered by id; the stored definition names them (as the lighting
logic reads it). An archived program is offered only where the calendar
already uses it, marked as such, so that a calendar keeps working until staff
choose another program.

Used by the staff calendar pages (``app/routes/lighting_calendars.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from babel.dates import format_date, get_day_names

from app.i18n import current_locale
from app.i18n import gettext as _
from app.lighting.calendars import Calendar
from app.lighting.programs import CalendarError, Program

EMPTY_ROWS = 1  # blank rule rows offered under the existing ones
MAX_RULES = 50
_FRENCH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{4}))?$")
_PRIORITY = re.compile(r"^-?[0-9]{1,4}$")
_RULE_FIELD = re.compile(r"^rules\[(\d+)\](?:\.(\w+))?$")


@dataclass(frozen=True)
class Choice:
    """A program staff can pick: its id (the option's value), name, and whether it is archived."""

    id: int
    name: str
    archived: bool = False


@dataclass
class RuleRow:
    """One rule as the form shows it (strings as typed, so a refused form comes back as it was)."""

    label: str = ""
    program: str = ""  # the program's id as a string, "" for an unused row
    weekdays: set[int] = field(default_factory=set)
    start: str = ""
    end: str = ""
    yearly: bool = False
    priority: str = "0"

    @property
    def is_blank(self) -> bool:
        return not (self.program or self.label.strip() or self.weekdays or self.start or self.end)


@dataclass
class CalendarForm:
    name: str = ""
    default: str = ""  # program id as a string
    rules: list[RuleRow] = field(default_factory=list)

    def with_blank_rows(self, count: int = EMPTY_ROWS) -> CalendarForm:
        """The same form with ``count`` empty rows at the end (where a new rule is written)."""
        blanks = sum(1 for rule in self.rules[-count:] if rule.is_blank) if count else 0
        rows = [*self.rules, *(RuleRow() for _ in range(count - blanks))]
        return CalendarForm(self.name, self.default, rows[:MAX_RULES])


def weekday_names() -> list[tuple[int, str]]:
    """(0 = Monday … 6 = Sunday, name) in the reader's language, from Babel."""
    names = get_day_names("wide", locale=current_locale.get())
    return [(day, names[day]) for day in range(7)]


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, list):
        value = value[-1] if value else ""
    return value.strip() if isinstance(value, str) else ""


def _values(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def submitted(data: Mapping[str, Any]) -> CalendarForm:
    """The form as sent (``rules-N-field`` fields, ``rule_count`` rows)."""
    count = _text(data, "rule_count")
    rows = min(int(count), MAX_RULES) if count.isascii() and count.isdigit() else 0
    rules = []
    for index in range(rows):
        key = f"rules-{index}-"
        if _text(data, key + "remove"):
            continue
        weekdays = {
            int(v)
            for v in _values(data, key + "weekdays")
            if v in {"0", "1", "2", "3", "4", "5", "6"}
        }
        rules.append(
            RuleRow(
                label=_text(data, key + "label"),
                program=_text(data, key + "program"),
                weekdays=weekdays,
                start=_text(data, key + "start"),
                end=_text(data, key + "end"),
                yearly=bool(_text(data, key + "yearly")),
                priority=_text(data, key + "priority") or "0",
            )
        )
    return CalendarForm(_text(data, "name"), _text(data, "default"), rules)


def _parse_date(value: str) -> dt.date | None:
    """``AAAA-MM-JJ`` (a date field) or ``JJ/MM/AAAA``, ``JJ/MM`` (typed by hand)."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        pass
    found = _FRENCH_DATE.match(value)
    if not found:
        return None
    day, month, year = found.groups()
    try:
        return dt.date(int(year) if year else 2000, int(month), int(day))
    except ValueError:
        return None


def read_form(
    form: CalendarForm,
    choices: Sequence[Choice],
    programs: Mapping[str, Program],
    already_used: Set[str] = frozenset(),
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The stored definition of ``form``, or (None, field id → French message).

    ``programs`` maps every program's name to the program (archived ones too);
    ``already_used`` names the programs the stored calendar uses: only those may
    stay chosen while archived.
    """
    errors: dict[str, str] = {}
    by_id = {str(choice.id): choice for choice in choices}

    def program_name(value: str, field_id: str) -> str | None:
        choice = by_id.get(value)
        if choice is None:
            errors[field_id] = _("Choisissez un programme dans la liste.")
            return None
        if choice.archived and choice.name not in already_used:
            errors[field_id] = _("Ce programme est archivé : choisissez-en un autre.")
            return None
        return choice.name

    if not form.name or len(form.name) > 120:
        errors["name"] = _("Donnez un nom au calendrier (120 caractères au plus).")
    default = program_name(form.default, "default")
    rules: list[dict[str, Any]] = []
    rows: list[int] = []  # row of each stored rule, to put the logic's errors next to their field
    for index, row in enumerate(form.rules):
        if row.is_blank:
            continue
        key = f"rules-{index}-"
        item: dict[str, Any] = {}
        name = program_name(row.program, key + "program")
        if name is not None:
            item["program"] = name
        if row.weekdays:
            item["weekdays"] = sorted(row.weekdays)
        if row.start or row.end:
            start, end = _parse_date(row.start), _parse_date(row.end)
            for value, parsed, part in ((row.start, start, "start"), (row.end, end, "end")):
                if not value:
                    errors[key + part] = _("Donnez les deux dates de la période.")
                elif parsed is None:
                    errors[key + part] = _("Date invalide : écrivez-la JJ/MM/AAAA.")
            if start and end:
                if row.yearly:
                    item.update(
                        start=start.strftime("%m-%d"), end=end.strftime("%m-%d"), yearly=True
                    )
                elif end < start:
                    errors[key + "end"] = _("La fin de la période précède son début.")
                else:
                    item.update(start=start.isoformat(), end=end.isoformat(), yearly=False)
        elif not row.weekdays:
            errors[key + "weekdays"] = _(
                "Cochez des jours de la semaine, donnez une période, ou les deux."
            )
        if not _PRIORITY.match(row.priority):
            errors[key + "priority"] = _("Un nombre entier est attendu.")
        else:
            item["priority"] = int(row.priority)
        if row.label:
            item["label"] = row.label[:120]
        rules.append(item)
        rows.append(index)
    if errors:
        return None, errors
    definition = {"version": 1, "default": default, "rules": rules}
    try:
        Calendar.from_dict(definition, programs)
    except CalendarError as exc:
        return None, {_field_id(exc.field, rows): exc.message}
    return definition, {}


def _field_id(where: str | None, rows: Sequence[int]) -> str:
    found = _RULE_FIELD.match(where or "")
    if not found:
        return "default" if where == "default" else "__all__"
    row, part = int(found.group(1)), found.group(2) or "program"
    return f"rules-{rows[row] if row < len(rows) else 0}-{part}"


def _shown_date(value: str, yearly: bool, year: int) -> str:
    return f"{year}-{value}" if yearly else value


def form_of(name: str, definition: Mapping[str, Any], choices: Sequence[Choice]) -> CalendarForm:
    """The form of a stored calendar (yearly ranges shown in the coming year)."""
    ids = {choice.name: str(choice.id) for choice in choices}
    year = dt.date.today().year
    rules = []
    for raw in definition.get("rules", []):
        yearly = bool(raw.get("yearly"))
        start, end = raw.get("start", ""), raw.get("end", "")
        end_year = year + 1 if yearly and start and end and end < start else year
        rules.append(
            RuleRow(
                label=raw.get("label", ""),
                program=ids.get(raw.get("program", ""), ""),
                weekdays=set(raw.get("weekdays", [])),
                start=_shown_date(start, yearly, year) if start else "",
                end=_shown_date(end, yearly, end_year) if end else "",
                yearly=yearly,
                priority=str(raw.get("priority", 0)),
            )
        )
    return CalendarForm(name, ids.get(definition.get("default", ""), ""), rules)


def programs_used(definition_text: str) -> set[str]:
    """Names of the programs a stored calendar definition uses."""
    try:
        definition = json.loads(definition_text)
    except ValueError:
        return set()
    if not isinstance(definition, dict):
        return set()
    names = {definition.get("default")} | {
        r.get("program") for r in definition.get("rules", []) if isinstance(r, dict)
    }
    return {n for n in names if isinstance(n, str)}


def renamed(definition_text: str, old: str, new: str) -> str:
    """The definition with program ``old`` called ``new`` (a program renamed keeps its calendars)."""
    definition = json.loads(definition_text)
    if definition.get("default") == old:
        definition["default"] = new
    for rule in definition.get("rules", []):
        if isinstance(rule, dict) and rule.get("program") == old:
            rule["program"] = new
    return json.dumps(definition, ensure_ascii=False)


def _day(value: str, yearly: bool) -> str:
    locale = current_locale.get()
    if yearly:
        return format_date(dt.date.fromisoformat(f"2000-{value}"), "d MMMM", locale=locale)
    return format_date(dt.date.fromisoformat(value), "d MMMM y", locale=locale)


def describe(definition_text: str) -> list[str]:
    """Each rule of a stored calendar in words, then the default: « samedi : Toute la nuit »."""
    try:
        definition = json.loads(definition_text)
    except ValueError:
        return []
    days = dict(weekday_names())
    lines = []
    for rule in definition.get("rules", []):
        when = []
        if rule.get("weekdays"):
            when.append(", ".join(days[d] for d in sorted(rule["weekdays"]) if d in days))
        if rule.get("start") and rule.get("end"):
            yearly = bool(rule.get("yearly"))
            span = _("du {start} au {end}").format(
                start=_day(rule["start"], yearly), end=_day(rule["end"], yearly)
            )
            when.append(span + (" " + _("chaque année") if yearly else ""))
        text = _("{when} : {program}").format(when=" · ".join(when), program=rule.get("program"))
        if rule.get("label"):
            text = f"{rule['label']} — {text}"
        lines.append(text)
    lines.append(_("les autres nuits : {program}").format(program=definition.get("default")))
    return lines
