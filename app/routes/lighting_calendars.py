"""Public lighting, staff pages: calendars edited as a form (weekday names, date ranges, programs
picked from a list, an error next to each field) and programs archived or restored.

A program in use cannot be deleted, but it can be archived: it is no longer
offered to groups and calendars, and those that use it keep running it and are
shown as needing a new choice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence, Set
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from app.auth import STAFF
from app.db import utcnow
from app.forms import Form
from app.i18n import gettext as _
from app.lighting import calendar_form, checks, control
from app.lighting import scope as territory
from app.lighting.calendar_form import CalendarForm, Choice
from app.models.lighting import LightCalendar, LightGroup, LightProgram
from app.templating import page
from app.territories import request_territory

BACK = "/staff/lighting/programs"


def choices(db: Session, territory_id: int) -> list[Choice]:
    """Every program of the territory (archived ones last), as the form's select lists offer them."""
    query = territory.scoped(select(LightProgram), LightProgram, territory_id)
    rows = db.scalars(query.order_by(col(LightProgram.name))).all()
    found = [Choice(row.id or 0, row.name, row.archived_at is not None) for row in rows]
    return sorted(found, key=lambda choice: choice.archived)


def programs_context(
    db: Session, programs: Sequence[LightProgram], calendars: Sequence[LightCalendar]
) -> dict[str, Any]:
    """For the programs page: archived programs with who still uses them, calendars in words,
    and the archived programs each calendar still uses (it needs a new choice)."""
    archived = [row for row in programs if row.archived_at is not None]
    names = {row.name for row in archived}
    return {
        "archived": archived,
        "archived_users": {row.id: checks.users_of(db, row) for row in archived},
        "calendar_lines": {c.id: calendar_form.describe(c.definition) for c in calendars},
        "calendar_archived": {
            c.id: sorted(calendar_form.programs_used(c.definition) & names) for c in calendars
        },
    }


def _editor(
    request: Request[Any, Any, Any],
    db: Session,
    form: CalendarForm,
    *,
    action: str,
    used: Set[str] = frozenset(),
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    offered = [
        c for c in choices(db, request_territory(request).id) if not c.archived or c.name in used
    ]
    return page(
        request,
        "lighting/calendar_form.html",
        section="staff",
        form=form.with_blank_rows(),
        title=form.name,
        action=action,
        choices=offered,
        weekdays=calendar_form.weekday_names(),
        errors=errors or {},
        status_code=status_code,
    )


def _save(
    request: Request[Any, Any, Any],
    db: Session,
    data: dict[str, Any],
    row: LightCalendar | None,
) -> Template | Redirect:
    """Create or update from the form; ``add_rule`` only shows the form again with one more row."""
    form = calendar_form.submitted(data)
    action = f"/staff/lighting/calendars/{row.id}" if row else "/staff/lighting/calendars/new"
    used = calendar_form.programs_used(row.definition) if row else set()
    if data.get("add_rule"):
        form.rules.append(calendar_form.RuleRow())
        return _editor(request, db, form, action=action, used=used)
    territory_id = request_territory(request).id
    mine = territory.scoped(select(LightProgram), LightProgram, territory_id)
    programs = {p.name: control.load_program(p) for p in db.scalars(mine).all()}
    definition, errors = calendar_form.read_form(form, choices(db, territory_id), programs, used)
    # Names are unique per territory: another territory's calendars neither block nor show.
    clash = select(col(LightCalendar.id)).where(
        col(LightCalendar.territory_id) == (row.territory_id if row else territory_id),
        col(LightCalendar.name) == form.name,
    )
    if row is not None:
        clash = clash.where(col(LightCalendar.id) != row.id)
    if form.name and db.scalars(clash).first() is not None:
        errors["name"] = _("Un calendrier porte déjà ce nom.")
        definition = None
    if definition is None:
        db.rollback()
        return _editor(request, db, form, action=action, used=used, errors=errors, status_code=400)
    text = json.dumps(definition, ensure_ascii=False)
    if row is None:
        db.add(LightCalendar(name=form.name, definition=text, territory_id=territory_id))
        db.commit()
        return Redirect(BACK, status_code=303)
    row.name, row.definition, row.updated_at = form.name, text, utcnow()
    db.add(row)
    db.flush()
    users = db.scalars(
        select(col(LightGroup.id)).where(col(LightGroup.calendar_id) == row.id)
    ).all()
    if users:
        control.reconcile(db, utcnow(), group_ids=list(users))
    db.commit()
    return Redirect(BACK, status_code=303)


@get(
    "/staff/lighting/calendars/new",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_calendar_new",
)
def calendar_new(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    offered = [c for c in choices(db, request_territory(request).id) if not c.archived]
    form = CalendarForm(default=str(offered[0].id) if offered else "")
    return _editor(request, db, form, action="/staff/lighting/calendars/new")


@post(
    "/staff/lighting/calendars/new",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_calendar_create",
)
def calendar_create(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    return _save(request, db, data, None)


def _calendar(request: Request[Any, Any, Any], db: Session, calendar_id: int) -> LightCalendar:
    """The calendar, when it is the request's territory's (another's is not found on this host)."""
    row = territory.row_in(db, LightCalendar, calendar_id, request_territory(request).id)
    if row is None:
        raise NotFoundException()
    return row


@get(
    "/staff/lighting/calendars/{calendar_id:int}",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_calendar",
)
def calendar_edit(
    request: Request[Any, Any, Any], db: NamedDependency[Session], calendar_id: FromPath[int]
) -> Template:
    row = _calendar(request, db, calendar_id)
    form = calendar_form.form_of(
        row.name, json.loads(row.definition), choices(db, request_territory(request).id)
    )
    return _editor(
        request,
        db,
        form,
        action=f"/staff/lighting/calendars/{row.id}",
        used=calendar_form.programs_used(row.definition),
    )


@post(
    "/staff/lighting/calendars/{calendar_id:int}",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_calendar_update",
)
def calendar_update(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    calendar_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    return _save(request, db, data, _calendar(request, db, calendar_id))


def _program(request: Request[Any, Any, Any], db: Session, program_id: int) -> LightProgram:
    """The program, when it is the request's territory's (another's is not found on this host)."""
    row = territory.row_in(db, LightProgram, program_id, request_territory(request).id)
    if row is None:
        raise NotFoundException()
    return row


@post(
    "/staff/lighting/programs/{program_id:int}/archive",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_program_archive",
)
def program_archive(
    request: Request[Any, Any, Any], db: NamedDependency[Session], program_id: FromPath[int]
) -> Redirect:
    """No longer offer the program; the groups and calendars using it keep it until changed."""
    row = _program(request, db, program_id)
    if row.archived_at is None:
        row.archived_at = utcnow()
        db.add(row)
        db.commit()
    return Redirect(BACK, status_code=303)


@post(
    "/staff/lighting/programs/{program_id:int}/restore",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_program_restore",
)
def program_restore(
    request: Request[Any, Any, Any], db: NamedDependency[Session], program_id: FromPath[int]
) -> Redirect:
    row = _program(request, db, program_id)
    row.archived_at = None
    db.add(row)
    db.commit()
    return Redirect(BACK, status_code=303)


ROUTES = [
    calendar_new,
    calendar_create,
    calendar_edit,
    calendar_update,
    program_archive,
    program_restore,
]
