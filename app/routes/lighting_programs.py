"""Public lighting staff pages: the dimming programs (list, editor with its warnings, archive)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlmodel import Session, col

from app.auth import STAFF
from app.db import utcnow
from app.deps import end_idle_writes
from app.forms import Form
from app.i18n import gettext as _
from app.lighting import checks, control
from app.lighting import programs as lighting
from app.lighting.programs import LightingError
from app.models.lighting import (
    LightCalendar,
    LightGroup,
    LightProgram,
)
from app.numbers import parse_int
from app.lighting import scope as territory
from app.routes import lighting_calendars
from app.templating import page
from app.territories import request_territory

# --------------------------------------------------------------------------- programs and calendars


def _steps_text(definition: dict[str, Any]) -> str:
    return "\n".join(f"{s['at']} {s['level']}" for s in definition.get("steps", []))


def _program_from_form(
    data: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, str]]:
    form: dict[str, str] = {}
    for k in ("name", "steps", "boost_level", "hold_s", "twilight_deg"):
        value = data.get(k)
        form[k] = value if isinstance(value, str) else ""
    errors: dict[str, str] = {}
    name = form["name"].strip()
    if not name or len(name) > 120:
        errors["name"] = _("Donnez un nom au programme (120 caractères au plus).")
    steps = []
    for number, line in enumerate(form["steps"].splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        at, _sep, level = line.rpartition(" ")
        if not at or parse_int(level, max_digits=4) is None:
            errors["steps"] = _(
                "Ligne {n} : écrivez le début puis le niveau, par exemple « dusk 100 » ou "
                "« 22:00 50 »."
            ).format(n=number)
            break
        steps.append({"at": at.strip(), "level": parse_int(level, max_digits=4)})
    definition: dict[str, Any] = {"name": name, "steps": steps}
    for key, kind in (("boost_level", int), ("hold_s", int), ("twilight_deg", float)):
        raw = form[key].strip().replace(",", ".")
        if raw:
            try:
                definition[key] = kind(raw)
            except ValueError:
                errors[key] = _("Un nombre est attendu.")
    if not errors:
        try:
            lighting.Program.from_dict(definition)
        except LightingError as exc:
            field = (exc.field or "steps").split(".")[0].split("[")[0]
            errors[field if field in form else "steps"] = exc.message
    return form, (None if errors else definition), errors


@get("/staff/lighting/programs", opt=STAFF, sync_to_thread=True, name="staff_lighting_programs")
def programs(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _programs_page(request, db)


def _programs_page(
    request: Request[Any, Any, Any], db: Session, *, error: str = "", status_code: int = 200
) -> Template:
    end_idle_writes()  # a refusal wrote nothing: the page's reading and drawing holds no write lock
    territory_id = request_territory(request).id
    rows = db.scalars(
        territory.scoped(select(LightProgram), LightProgram, territory_id).order_by(
            col(LightProgram.name)
        )
    ).all()
    calendars = db.scalars(
        territory.scoped(select(LightCalendar), LightCalendar, territory_id).order_by(
            col(LightCalendar.name)
        )
    ).all()
    position = control.territory_position(db, territory_id)
    today = lighting.night_of(utcnow(), position)
    previews = {}
    for row in rows:
        try:
            previews[row.id] = checks.preview_nights(control.load_program(row), position, today)
        except LightingError:
            previews[row.id] = []
    return page(
        request,
        "lighting/programs.html",
        section="staff",
        rows=[row for row in rows if row.archived_at is None],
        calendars=calendars,
        previews=previews,
        **lighting_calendars.programs_context(db, rows, calendars),
        error=error,
        status_code=status_code,
    )


def _program_editor(
    request: Request[Any, Any, Any],
    *,
    form: dict[str, Any],
    action: str,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    warnings: list[str] | None = None,
) -> Template:
    return page(
        request,
        "lighting/program_form.html",
        section="staff",
        form=form,
        action=action,
        errors=errors or {},
        status_code=status_code,
        warnings=warnings or [],
    )


def _unconfirmed_warnings(
    db: Session, definition: dict[str, Any], data: dict[str, Any]
) -> list[str]:
    """Warnings about the program (never off, lit at noon) that staff have not confirmed yet."""
    position = control.territory_position(db)
    found = checks.warnings(lighting.Program.from_dict(definition), position, utcnow().year)
    return [] if data.get("confirm_warnings") == "true" else found


@get(
    "/staff/lighting/programs/new",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_program_new",
)
def program_new(request: Request[Any, Any, Any]) -> Template:
    form = {
        "name": "",
        "steps": "dusk 100\n22:30 50\n05:30 100\ndawn 0",
        "boost_level": "",
        "hold_s": "",
        "twilight_deg": "3",
    }
    return _program_editor(request, form=form, action="/staff/lighting/programs/new")


def _name_taken(
    db: Session, territory_id: int | None, name: str, other_than: int | None = None
) -> bool:
    """Whether another program of the territory has this name (names are unique per territory:
    another territory's programs neither block nor reveal theirs)."""
    query = select(col(LightProgram.id)).where(
        col(LightProgram.territory_id) == territory_id, col(LightProgram.name) == name
    )
    if other_than is not None:
        query = query.where(col(LightProgram.id) != other_than)
    return db.scalars(query).first() is not None


@post(
    "/staff/lighting/programs/new",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_program_create",
)
def program_create(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    form, definition, errors = _program_from_form(data)
    if definition is not None and _name_taken(
        db, request_territory(request).id, definition["name"]
    ):
        errors, definition = {"name": _("Un programme porte déjà ce nom.")}, None
    if definition is None:
        db.rollback()
        return _program_editor(
            request,
            form=form,
            action="/staff/lighting/programs/new",
            errors=errors,
            status_code=400,
        )
    if warned := _unconfirmed_warnings(db, definition, data):
        db.rollback()
        return _program_editor(
            request,
            form=form,
            action="/staff/lighting/programs/new",
            warnings=warned,
            status_code=400,
        )
    program = lighting.Program.from_dict(definition)
    db.add(
        LightProgram(
            name=program.name,
            definition=json.dumps(program.to_dict()),
            territory_id=request_territory(request).id,
        )
    )
    db.commit()
    return Redirect("/staff/lighting/programs", status_code=303)


@get(
    "/staff/lighting/programs/{program_id:int}",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_program",
)
def program_edit(
    request: Request[Any, Any, Any], db: NamedDependency[Session], program_id: FromPath[int]
) -> Template:
    row = territory.row_in(db, LightProgram, program_id, request_territory(request).id)
    if row is None:
        raise NotFoundException()  # another territory's program is not found on this host
    definition = json.loads(row.definition)
    form = {
        "name": row.name,
        "steps": _steps_text(definition),
        "boost_level": ""
        if definition.get("boost_level") is None
        else str(definition["boost_level"]),
        "hold_s": str(definition.get("hold_s") or ""),
        "twilight_deg": str(definition.get("twilight_deg", 3)),
    }
    return _program_editor(request, form=form, action=f"/staff/lighting/programs/{row.id}")


@post(
    "/staff/lighting/programs/{program_id:int}",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_program_update",
)
def program_update(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    program_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    row = territory.row_in(db, LightProgram, program_id, request_territory(request).id)
    if row is None:
        raise NotFoundException()  # another territory's program is not found on this host
    form, definition, errors = _program_from_form(data)
    if definition is not None and _name_taken(db, row.territory_id, definition["name"], row.id):
        errors, definition = {"name": _("Un programme porte déjà ce nom.")}, None
    if definition is None:
        db.rollback()
        return _program_editor(
            request,
            form=form,
            action=f"/staff/lighting/programs/{row.id}",
            errors=errors,
            status_code=400,
        )
    if warned := _unconfirmed_warnings(db, definition, data):
        db.rollback()
        return _program_editor(
            request,
            form=form,
            action=f"/staff/lighting/programs/{row.id}",
            warnings=warned,
            status_code=400,
        )
    program = lighting.Program.from_dict(definition)
    calendars = checks.rename_in_calendars(db, row.name, program.name)
    row.name, row.definition, row.updated_at = program.name, json.dumps(program.to_dict()), utcnow()
    db.add(row)
    db.flush()
    users = db.scalars(
        select(col(LightGroup.id)).where(
            (col(LightGroup.program_id) == row.id) | col(LightGroup.calendar_id).in_(calendars)
        )
    ).all()
    if users:
        control.reconcile(db, utcnow(), group_ids=list(users))
    db.commit()
    return Redirect("/staff/lighting/programs", status_code=303)


@post(
    "/staff/lighting/programs/{program_id:int}/delete",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_program_delete",
)
def program_delete(
    request: Request[Any, Any, Any], db: NamedDependency[Session], program_id: FromPath[int]
) -> Template | Redirect:
    """Delete a program no group and no calendar uses; otherwise say which ones do, and keep it."""
    row = territory.row_in(db, LightProgram, program_id, request_territory(request).id)
    if row is None:
        raise NotFoundException()  # another territory's program is not found on this host
    groups, calendars = checks.users_of(db, row)
    if groups or calendars:
        used = [
            *(_("groupe « {n} »").format(n=g) for g in groups[:5]),
            *(_("calendrier « {n} »").format(n=c) for c in calendars[:5]),
        ]
        return _programs_page(
            request,
            db,
            status_code=409,
            error=_(
                "« {name} » est utilisé ({used}) : choisissez un autre programme pour ceux-ci avant de le supprimer."
            ).format(name=row.name, used=", ".join(used)),
        )
    db.delete(row)
    db.commit()
    return Redirect("/staff/lighting/programs", status_code=303)
