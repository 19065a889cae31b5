"""What a dimming program does on the nights that matter, for the staff editor.

- ``warnings``: a program that never switches off, or that lights at noon,
  checked on the shortest night (21 June) and the longest (21 December);
  staff see the warning and save anyway only by saying so.
- ``preview_nights``: the schedule of tonight, a June night and a December night.
- ``users_of``: the groups and calendars that use a program (a program in use
  is not deleted, but may be archived).
- ``rename_in_calendars``: calendars follow a program that is renamed.

Used by the lighting staff pages (``app/routes/lighting.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlmodel import Session, col, select

from app.db import utcnow
from app.i18n import gettext as _
from app.lighting.calendar_form import programs_used, renamed
from app.lighting.nights import schedule
from app.lighting.programs import Position, Program
from app.models.lighting import LightCalendar, LightGroup, LightProgram


def _key_days(year: int) -> list[tuple[str, dt.date]]:
    return [
        (_("nuit de juin (la plus courte)"), dt.date(year, 6, 21)),
        (_("nuit de décembre (la plus longue)"), dt.date(year, 12, 21)),
    ]


MIDDAY = (dt.time(10, 0), dt.time(14, 0))


def warnings(program: Program, position: Position, year: int) -> list[str]:
    """French warnings for a program that never switches off or lights at noon (empty: nothing odd)."""
    found: list[str] = []
    if all(step.level > 0 for step in program.steps):
        found.append(
            _(
                "Ce programme n’éteint jamais l’éclairage : aucune étape n’est à 0 %. Ajoutez par exemple "
                "« dawn 0 »."
            )
        )
    # A clock-time step that asks for light around midday: the lamps would burn in daylight
    # (the controllers only keep them off because the sun is up), which is never what staff mean.
    midday = [
        step
        for step in program.steps
        if step.time is not None and step.level > 0 and MIDDAY[0] <= step.time <= MIDDAY[1]
    ]
    if midday:
        found.append(
            _(
                "Ce programme allume l’éclairage à midi ({steps}) : vérifiez les heures des étapes."
            ).format(steps=", ".join(f"{s.time:%H:%M} → {s.level} %" for s in midday))
        )
    return found


def preview_nights(
    program: Program, position: Position, tonight: dt.date
) -> list[tuple[str, dt.date, list[tuple[dt.datetime, int]]]]:
    """(label, day, schedule) for tonight, the next 21 June and the next 21 December."""
    nights: list[tuple[str, dt.date]] = [(_("Cette nuit"), tonight)]
    for label, day in _key_days(tonight.year):
        if day < tonight:
            day = day.replace(year=tonight.year + 1)
        nights.append((label[:1].upper() + label[1:], day))
    return [(label, day, schedule(program, day, position)) for label, day in nights]


def users_of(session: Session, row: LightProgram) -> tuple[Sequence[str], Sequence[str]]:
    """Names of the lamp groups and calendars that use the program ``row``."""
    groups = session.scalars(
        select(col(LightGroup.name))
        .where(col(LightGroup.program_id) == row.id)
        .order_by(col(LightGroup.name))
    ).all()
    calendars = [
        calendar.name
        for calendar in session.scalars(select(LightCalendar).order_by(col(LightCalendar.name)))
        if row.name in programs_used(calendar.definition)
    ]
    return groups, calendars


def rename_in_calendars(session: Session, old: str, new: str) -> list[int]:
    """Calendars name their programs: a program renamed from ``old`` to ``new`` keeps its calendars.

    Returns the ids of the calendars changed (their groups are reconciled by the caller)."""
    if old == new:
        return []
    changed = []
    for calendar in session.scalars(select(LightCalendar)):
        if old in programs_used(calendar.definition):
            calendar.definition = renamed(calendar.definition, old, new)
            calendar.updated_at = utcnow()
            session.add(calendar)
            changed.append(calendar.id or 0)
    return changed
