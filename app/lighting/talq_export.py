"""Eclor's programs and calendars as TALQ ``ControlProgramOne`` and ``Calendar`` objects, so that a
TALQ gateway keeps every group on its schedule while the link to Eclor is down.

- a program's fixed-time steps are ``fixedTimeControls`` (local time, in time
  order), its sun steps ``astroClockTimeControls``: each sun step sets its
  level (``Set``) until the next sun step, except the last one of the evening,
  which hands over to the fixed-time steps (``Min`` with 100); the fixed-time
  controls start at noon with that evening level. This is exact for the
  programs Eclor's editor makes (open at a sun event, fixed times through the
  night, close at a sun event); TALQ has no dusk or dawn: they are sunset and
  sunrise shifted by their gap on the day of the export at the territory's
  position (it varies by a few minutes through the year). The presence boost
  has no TALQ counterpart here (Eclor still sends it as a ``sensor`` command);
- a calendar's rules are TALQ rules in Eclor's order of precedence (priority,
  then a date range before weekdays alone, then list order), as the TALQ
  ``Calendar`` orders its rules; weekdays are a ``ccDay`` condition, date
  ranges ``startDate``/``endDate`` (``--MM-DD`` when yearly; a yearly range
  over the new year becomes two rules);
- a group with a program and no calendar gets a calendar with that program
  as its ``defaultProgram``.

Ids: ``eclor-program-{id}``, ``eclor-calendar-{id}``, ``eclor-group-{group}``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from app.lighting import control, nights
from app.lighting.calendars import Calendar, CalendarRule
from app.lighting.programs import Position, Program, Step, SunEvent
from app.models.lighting import LightCalendar, LightGroup, LightProgram

_BASE = {SunEvent.SUNSET: SunEvent.SUNSET, SunEvent.DUSK: SunEvent.SUNSET}
_BASE.update({SunEvent.SUNRISE: SunEvent.SUNRISE, SunEvent.DAWN: SunEvent.SUNRISE})


def program_address(program_id: int) -> str:
    return f"eclor-program-{program_id}"


def calendar_address(calendar_id: int) -> str:
    return f"eclor-calendar-{calendar_id}"


def _level(level: int) -> dict[str, Any]:
    return {"state": {"name": "LevelState", "value": level}}


def _offset(step: Step, position: Position, day: dt.date, twilight_deg: float) -> int:
    """The step's offset from TALQ's sunset or sunrise, dusk and dawn included."""
    assert step.event is not None
    offset = step.offset_min
    base = _BASE[step.event]
    if base is not step.event:
        ours = nights.sun_utc(position, day, step.event, twilight_deg)
        theirs = nights.sun_utc(position, day, base, twilight_deg)
        if ours is not None and theirs is not None:
            offset += round((ours - theirs).total_seconds() / 60)
    return offset


def control_program(
    program: Program, address: str, owner: str, position: Position, day: dt.date
) -> dict[str, Any]:
    """``program`` as a ``ControlProgramOne``."""
    sun = [s for s in program.steps if s.event is not None]
    evening = [s for s in sun if s.event is not None and s.event.is_evening]
    fixed = sorted(
        (s for s in program.steps if s.time is not None), key=lambda s: s.at
    )  # HH:MM sorts as the time does
    fixed_controls: list[dict[str, Any]] = []
    if fixed and evening and all(s.time != dt.time(12, 0) for s in fixed):
        fixed_controls.append({"startTime": "12:00:00", "command": _level(evening[-1].level)})
    for s in fixed:
        assert s.time is not None
        fixed_controls.append(
            {"startTime": s.time.strftime("%H:%M:%S"), "command": _level(s.level)}
        )
    fixed_controls.sort(key=lambda c: str(c["startTime"]))
    astro = []
    for s in sun:
        assert s.event is not None
        hands_over = bool(fixed) and s is (evening[-1] if evening else None)
        astro.append(
            {
                "offset": _offset(s, position, day, program.twilight_deg),
                "solarEventType": _BASE[s.event].value,
                "operation": "Min" if hands_over else "Set",
                "command": _level(100 if hands_over else s.level),
            }
        )
    found: dict[str, Any] = {
        "type": "ControlProgramOne",
        "id": address,
        "ownerCMS": owner,
        "activePeriods": [],  # active the whole day (TALQ)
        "fixedTimeControls": fixed_controls,
    }
    if astro:
        found["astroClockTimeControls"] = astro
    return found


def _ordered(rules: tuple[CalendarRule, ...]) -> list[CalendarRule]:
    indexed = list(enumerate(rules))
    indexed.sort(key=lambda pair: (-pair[1].rank()[0], -pair[1].rank()[1], pair[0]))
    return [rule for _index, rule in indexed]


def _rules(rule: CalendarRule, program: str) -> list[dict[str, Any]]:
    base: dict[str, Any] = {"program": program}
    if rule.weekdays:
        base["condition"] = {
            "type": "ccDay",
            "days": [{"start": day + 1} for day in sorted(rule.weekdays)],
        }
    dates = rule.dates
    if dates is None:
        return [base]
    if not dates.yearly:
        return [{**base, "startDate": dates.start.isoformat(), "endDate": dates.end.isoformat()}]
    start, end = dates.start.strftime("--%m-%d"), dates.end.strftime("--%m-%d")
    if start <= end:
        return [{**base, "startDate": start, "endDate": end}]
    return [  # over the new year
        {**base, "startDate": start, "endDate": "--12-31"},
        {**base, "startDate": "--01-01", "endDate": end},
    ]


def calendar(calendar: Calendar, address: str, owner: str, ids: dict[str, str]) -> dict[str, Any]:
    """``calendar`` as a TALQ ``Calendar``; ``ids`` maps Eclor program names to TALQ ids."""
    rules = [
        item for rule in _ordered(calendar.rules) for item in _rules(rule, ids[rule.program_id])
    ]
    return {
        "id": address,
        "ownerCMS": owner,
        "rules": rules,
        "defaultProgram": ids[calendar.default_program_id],
    }


@dataclass
class Export:
    programs: list[dict[str, Any]] = field(default_factory=list)
    calendars: list[dict[str, Any]] = field(default_factory=list)
    assignments: dict[str, str] = field(default_factory=dict)  # group id -> calendar address


def export(session: Session, owner: str, day: dt.date | None = None) -> Export:
    """Every program and calendar in use by a group, and which calendar each group follows."""
    position = control.territory_position(session)
    day = day or dt.datetime.now(position.tz).date()
    rows = session.scalars(select(LightProgram).order_by(col(LightProgram.id))).all()
    programs = {row.name: (row, control.load_program(row)) for row in rows}
    ids = {name: program_address(row.id or 0) for name, (row, _p) in programs.items()}
    found = Export()
    used_programs: set[str] = set()
    calendars: dict[str, dict[str, Any]] = {}
    groups = session.scalars(select(LightGroup).order_by(col(LightGroup.id))).all()
    for group in groups:
        if group.calendar_id is not None:
            calendar_row = session.get(LightCalendar, group.calendar_id)
            if calendar_row is None:
                continue
            address = calendar_address(calendar_row.id or 0)
            if address not in calendars:
                loaded = control.load_calendar(session, calendar_row)
                calendars[address] = calendar(loaded, address, owner, ids)
                used_programs.add(loaded.default_program_id)
                used_programs.update(rule.program_id for rule in loaded.rules)
        elif group.program_id is not None:
            program_row = session.get(LightProgram, group.program_id)
            if program_row is None:
                continue
            address = f"{program_address(group.program_id)}-calendar"
            calendars[address] = {
                "id": address,
                "ownerCMS": owner,
                "rules": [],
                "defaultProgram": program_address(group.program_id),
            }
            used_programs.add(program_row.name)
        else:
            continue
        found.assignments[group.id] = address
    for name in sorted(used_programs, key=lambda n: ids[n]):
        row, program = programs[name]
        found.programs.append(control_program(program, ids[name], owner, position, day))
    found.calendars = list(calendars.values())
    return found


def as_json(found: Export) -> str:
    return json.dumps(
        {
            "controlPrograms": found.programs,
            "calendars": found.calendars,
            "assignments": found.assignments,
        },
        ensure_ascii=False,
        indent=2,
    )
