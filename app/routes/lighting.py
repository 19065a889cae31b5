"""Public lighting, staff pages: map and state, groups and lights (override, back to program),
programs and calendars, alarms, energy and savings, inventory import."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Redirect, Template
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlmodel import Session

from app.numbers import is_ascii_digits, parse_int
from app.auth import STAFF, current_user
from app.db import utcnow
from app.forms import Form, parse_form
from app.forms import Multipart as Upload
from app.i18n import gettext as _
from app.interfaces import Contribution, Link
from app.lighting import checks, control
from app.lighting import energy as lighting_energy
from app.lighting import ops as lighting_ops
from app.lighting import programs as lighting
from app.lighting.inventory import InventoryError, import_inventory
from app.lighting.programs import LightingError
from app.models.lighting import (
    LightAlarm,
    LightCabinet,
    LightCalendar,
    LightCommand,
    LightGroup,
    LightOverride,
    LightProgram,
    LightReading,
    Streetlight,
)
from app.models.territory import Commune
from app.routes import lighting_calendars
from app.templating import page

STATE_LABELS = {
    "queued": "En attente",
    "sent": "Envoyée",
    "accepted": "Acceptée",
    "applied": "Appliquée",
    "failed": "Refusée",
    "expired": "Expirée",
    "cancelled": "Annulée",
    "superseded": "Remplacée",
}
REASON_LABELS = {"override": "Forçage", "program": "Programme", "sensor": "Détection"}
ALARM_LABELS = {
    "offline": "Hors ligne",
    "defectiveLamp": "Lampe défectueuse",
    "columnIssue": "Problème de mât",
    "brokenLantern": "Lanterne cassée",
    "lampFailure": "Panne de lampe",
    "supplyLoss": "Perte d'alimentation",
}


class OverrideForm(BaseModel):
    level: int = Field(ge=0, le=100)
    minutes: int | None = Field(default=None, ge=1, le=control.MAX_OVERRIDE_MINUTES)


def _labels() -> dict[str, Any]:
    return {
        "state_labels": STATE_LABELS,
        "reason_labels": REASON_LABELS,
        "alarm_labels": ALARM_LABELS,
        "status_words": lighting_ops.status_words,
    }


def light_state(light: Streetlight, now: Any) -> str:
    """``offline``, ``fault``, ``off``, ``dimmed``, ``on`` or ``unknown`` (for the map and badges)."""
    if light.offline or control.is_offline(light.last_seen_at, light.reporting_period_s, now):
        return "offline"
    if light.status != "ok":
        return "fault"
    if light.actual_level is None:
        return "unknown"
    if light.actual_level == 0:
        return "off"
    return "dimmed" if light.actual_level < 100 else "on"


def _live_map(db: Session, group_id: str | None = None) -> dict[str, Any]:
    """The count of lights and where the live map opens (the operations centre, lights layer; a
    group's map opens on its first light)."""
    query = select(func.count()).select_from(Streetlight)
    first = select(Streetlight.id).order_by(Streetlight.id).limit(1)
    if group_id:
        query = query.where(Streetlight.group_id == group_id)
        first = first.where(Streetlight.group_id == group_id)
    light_id = db.scalar(first)
    return {
        "total": int(db.scalar(query) or 0),
        "live_map": f"/staff/ops?open=lights/{light_id}" if group_id and light_id else "/staff/ops",
    }


# --------------------------------------------------------------------------- overview


@get("/staff/lighting", opt=STAFF, sync_to_thread=True, name="staff_lighting")
def overview(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    groups = db.scalars(
        select(LightGroup).order_by(LightGroup.commune_insee, LightGroup.name)
    ).all()
    per_group = dict(
        db.execute(select(Streetlight.group_id, func.count()).group_by(Streetlight.group_id)).all()
    )
    overrides = {
        o.target_id: o
        for o in db.scalars(
            select(LightOverride).where(
                LightOverride.state == "active", LightOverride.scope == "group"
            )
        ).all()
    }
    open_alarms = int(
        db.scalar(
            select(func.count()).select_from(LightAlarm).where(LightAlarm.cleared_at.is_(None))
        )
        or 0
    )  # type: ignore[union-attr]
    pending = int(
        db.scalar(
            select(func.count())
            .select_from(LightCommand)
            .where(LightCommand.state.in_(("queued", "sent", "accepted")))
        )
        or 0
    )  # type: ignore[attr-defined]
    programs = {p.id: p.name for p in db.scalars(select(LightProgram)).all()}
    calendars = {c.id: c.name for c in db.scalars(select(LightCalendar)).all()}
    commune_names = dict(db.execute(select(Commune.insee, Commune.name)).all())
    return page(
        request,
        "lighting/overview.html",
        section="staff",
        groups=groups,
        per_group=per_group,
        commune_names=commune_names,
        overrides=overrides,
        open_alarms=open_alarms,
        pending=pending,
        programs=programs,
        calendars=calendars,
        **_live_map(db),
        **_labels(),
    )


# --------------------------------------------------------------------------- groups


def _group(db: Session, group_id: str) -> LightGroup:
    group = db.get(LightGroup, group_id)
    if group is None:
        raise NotFoundException()
    return group


def _group_page(
    request: Request[Any, Any, Any],
    db: Session,
    group: LightGroup,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    done: str | None = None,
) -> Template:
    now = utcnow()
    lights = db.scalars(
        select(Streetlight)
        .where(Streetlight.group_id == group.id)
        .order_by(Streetlight.id)
        .limit(200)
    ).all()
    ids = select(Streetlight.id).where(Streetlight.group_id == group.id)
    since = now - timedelta(days=1)
    counts = control.command_counts(db, ids, since)
    override = db.scalars(
        select(LightOverride).where(
            LightOverride.state == "active",
            LightOverride.scope == "group",
            LightOverride.target_id == group.id,
        )
    ).first()
    source = control.group_source(db, group)
    position = control.territory_position(db)
    schedule = (
        lighting.schedule(source, lighting.night_of(now, position), position) if source else []
    )
    return page(
        request,
        "lighting/group.html",
        section="staff",
        status_code=status_code,
        group=group,
        request_range=request.query_params.get("range", "week"),
        lights=lights,
        counts=counts,
        override=override,
        schedule=schedule,
        now=now,
        errors=errors or {},
        form=form or {},
        done=done,
        state_of=lambda light: light_state(light, now),
        programs=[
            p
            for p in db.scalars(select(LightProgram).order_by(LightProgram.name))
            if p.archived_at is None or p.id == group.program_id
        ],
        calendars=db.scalars(select(LightCalendar).order_by(LightCalendar.name)).all(),
        cabinet=db.get(LightCabinet, group.cabinet_id) if group.cabinet_id else None,
        **_live_map(db, group.id),
        **_labels(),
    )


@get(
    "/staff/lighting/groups/{group_id:str}",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_group",
)
def group_detail(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    group_id: FromPath[str],
    done: str | None = Parameter(default=None, max_length=40),
) -> Template:
    return _group_page(request, db, _group(db, group_id), done=done)


def _override(
    request: Request[Any, Any, Any], db: Session, scope: str, target_id: str, data: dict[str, Any]
) -> tuple[int | None, dict[str, str]]:
    form, errors = parse_form(OverrideForm, data)
    if form is None:
        return None, errors
    user = current_user(request)
    try:
        result = control.set_override(
            db,
            scope,
            target_id,
            form.level,
            form.minutes,
            user_id=user.id if user else None,
            now=utcnow(),
        )
    except LightingError as exc:
        return None, {exc.field or "level": exc.message}
    return result.commands, {}


@post(
    "/staff/lighting/groups/{group_id:str}/override",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_group_override",
)
def group_override(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    group_id: FromPath[str],
    data: Form,
) -> Template | Redirect:
    group = _group(db, group_id)
    count, errors = _override(request, db, "group", group.id, data)
    if errors:
        db.rollback()
        return _group_page(request, db, group, status_code=400, errors=errors, form=data)
    db.commit()
    return Redirect(f"/staff/lighting/groups/{group.id}?done=override-{count}", status_code=303)


@post(
    "/staff/lighting/groups/{group_id:str}/resume",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_group_resume",
)
def group_resume(
    request: Request[Any, Any, Any], db: NamedDependency[Session], group_id: FromPath[str]
) -> Redirect:
    group = _group(db, group_id)
    count = control.resume_program(db, "group", group.id, now=utcnow())
    db.commit()
    return Redirect(f"/staff/lighting/groups/{group.id}?done=resume-{count}", status_code=303)


@post(
    "/staff/lighting/groups/{group_id:str}/program",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_group_program",
)
def group_program(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    group_id: FromPath[str],
    data: Form,
) -> Template | Redirect:
    group = _group(db, group_id)
    errors: dict[str, str] = {}
    values: dict[str, int | None] = {}
    for name, model in (("program_id", LightProgram), ("calendar_id", LightCalendar)):
        raw = data.get(name) if isinstance(data.get(name), str) else ""
        if not raw:
            values[name] = None
        elif not is_ascii_digits(raw) or (chosen := db.get(model, int(raw))) is None:
            errors[name] = _("Choix invalide.")
        elif getattr(chosen, "archived_at", None) and chosen.id != group.program_id:
            errors[name] = _("Ce programme est archivé : choisissez-en un autre.")
        else:
            values[name] = int(raw)
    if errors:
        db.rollback()
        return _group_page(request, db, group, status_code=400, errors=errors)
    group.program_id, group.calendar_id = values["program_id"], values["calendar_id"]
    db.add(group)
    db.flush()
    count = control.reconcile(db, utcnow(), group_ids=[group.id])
    db.commit()
    return Redirect(f"/staff/lighting/groups/{group.id}?done=program-{count}", status_code=303)


# --------------------------------------------------------------------------- lights


def _light(db: Session, light_id: str) -> Streetlight:
    light = db.get(Streetlight, light_id)
    if light is None:
        raise NotFoundException()
    return light


def _light_page(
    request: Request[Any, Any, Any],
    db: Session,
    light: Streetlight,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    done: str | None = None,
) -> Template:
    now = utcnow()
    history = db.scalars(
        select(LightCommand)
        .where(LightCommand.light_id == light.id)
        .order_by(LightCommand.id.desc())
        .limit(10)
    ).all()  # type: ignore[union-attr]
    readings = db.scalars(
        select(LightReading)
        .where(LightReading.light_id == light.id)
        .order_by(LightReading.ts.desc())
        .limit(12)
    ).all()  # type: ignore[attr-defined]
    alarms = db.scalars(
        select(LightAlarm)
        .where(LightAlarm.device_id == light.device_id)
        .order_by(LightAlarm.id.desc())
        .limit(10)
    ).all()  # type: ignore[union-attr]
    target = (
        db.scalars(
            select(LightCommand).where(LightCommand.command_id == light.target_command_id)
        ).first()
        if light.target_command_id
        else None
    )
    override = db.scalars(
        select(LightOverride).where(
            LightOverride.state == "active",
            LightOverride.scope == "light",
            LightOverride.target_id == light.id,
        )
    ).first()
    return page(
        request,
        "lighting/light.html",
        section="staff",
        status_code=status_code,
        light=light,
        request_range=request.query_params.get("range", "week"),
        state=light_state(light, now),
        history=history,
        readings=readings,
        alarms=alarms,
        target=target,
        override=override,
        group=db.get(LightGroup, light.group_id) if light.group_id else None,
        errors=errors or {},
        form=form or {},
        done=done,
        now=now,
        **_labels(),
    )


@get(
    "/staff/lighting/lights/{light_id:str}",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_light",
)
def light_detail(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    light_id: FromPath[str],
    done: str | None = Parameter(default=None, max_length=40),
) -> Template:
    return _light_page(request, db, _light(db, light_id), done=done)


@post(
    "/staff/lighting/lights/{light_id:str}/override",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_light_override",
)
def light_override(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    light_id: FromPath[str],
    data: Form,
) -> Template | Redirect:
    light = _light(db, light_id)
    _count, errors = _override(request, db, "light", light.id, data)
    if errors:
        db.rollback()
        return _light_page(request, db, light, status_code=400, errors=errors, form=data)
    db.commit()
    return Redirect(f"/staff/lighting/lights/{light.id}?done=override", status_code=303)


@post(
    "/staff/lighting/lights/{light_id:str}/resume",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_light_resume",
)
def light_resume(
    request: Request[Any, Any, Any], db: NamedDependency[Session], light_id: FromPath[str]
) -> Redirect:
    light = _light(db, light_id)
    control.resume_program(db, "light", light.id, now=utcnow())
    db.commit()
    return Redirect(f"/staff/lighting/lights/{light.id}?done=resume", status_code=303)


# --------------------------------------------------------------------------- programs and calendars


def _steps_text(definition: dict[str, Any]) -> str:
    return "\n".join(f"{s['at']} {s['level']}" for s in definition.get("steps", []))


def _program_from_form(
    data: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, str]]:
    form = {
        k: (data.get(k) if isinstance(data.get(k), str) else "")
        for k in ("name", "steps", "boost_level", "hold_s", "twilight_deg")
    }
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
    rows = db.scalars(select(LightProgram).order_by(LightProgram.name)).all()
    calendars = db.scalars(select(LightCalendar).order_by(LightCalendar.name)).all()
    position = control.territory_position(db)
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
    if (
        definition is not None
        and db.scalars(select(LightProgram).where(LightProgram.name == definition["name"])).first()
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
    db.add(LightProgram(name=program.name, definition=json.dumps(program.to_dict())))
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
    row = db.get(LightProgram, program_id)
    if row is None:
        raise NotFoundException()
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
    row = db.get(LightProgram, program_id)
    if row is None:
        raise NotFoundException()
    form, definition, errors = _program_from_form(data)
    if definition is not None:
        clash = db.scalars(
            select(LightProgram).where(
                LightProgram.name == definition["name"], LightProgram.id != row.id
            )
        ).first()
        if clash:
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
        select(LightGroup.id).where(
            (LightGroup.program_id == row.id) | LightGroup.calendar_id.in_(calendars)  # type: ignore[union-attr]
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
    row = db.get(LightProgram, program_id)
    if row is None:
        raise NotFoundException()
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


# --------------------------------------------------------------------------- alarms


@get("/staff/lighting/alarms", opt=STAFF, sync_to_thread=True, name="staff_lighting_alarms")
def alarms(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    show: str = Parameter(default="open", pattern="^(open|all)$"),
) -> Template:
    query = select(LightAlarm)
    if show == "open":
        query = query.where(LightAlarm.cleared_at.is_(None))  # type: ignore[union-attr]
    rows = db.scalars(query.order_by(LightAlarm.raised_at.desc()).limit(300)).all()  # type: ignore[attr-defined]
    light_ids = {
        light.device_id: light.id
        for light in db.scalars(
            select(Streetlight).where(
                Streetlight.device_id.in_([r.device_id for r in rows if r.device_kind == "light"])
            )
        ).all()
    }  # type: ignore[attr-defined]
    return page(
        request,
        "lighting/alarms.html",
        section="staff",
        rows=rows,
        show=show,
        light_ids=light_ids,
        **_labels(),
    )


@post(
    "/staff/lighting/alarms/{alarm_id:int}/ack",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_lighting_alarm_ack",
)
def alarm_ack(
    request: Request[Any, Any, Any], db: NamedDependency[Session], alarm_id: FromPath[int]
) -> Redirect:
    alarm = db.get(LightAlarm, alarm_id)
    if alarm is None:
        raise NotFoundException()
    if alarm.acknowledged_at is None:
        user = current_user(request)
        alarm.acknowledged_at, alarm.acknowledged_by = utcnow(), user.id if user else None
        db.add(alarm)
        db.commit()
    return Redirect("/staff/lighting/alarms", status_code=303)


# --------------------------------------------------------------------------- energy


@get("/staff/lighting/energy", opt=STAFF, sync_to_thread=True, name="staff_lighting_energy")
def energy(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    now = utcnow()
    rows = lighting_energy.energy_report(db, now, months=6)
    position = control.territory_position(db)
    year = now.astimezone(position.tz).year - 1
    # Labels hold "%" ("50 %"): translated here, not by the template's formatting gettext.
    per_lamp = {
        key: (b, b.yearly_kwh(position, year), _(b.label), _(b.description))
        for key, b in lighting.BASELINES.items()
    }
    lamps = int(db.scalar(select(func.count()).select_from(Streetlight)) or 0)
    by_tech = dict(
        db.execute(
            select(Streetlight.technology, func.count()).group_by(Streetlight.technology)
        ).all()
    )
    peak = (
        max(
            [max(r.measured_kwh, r.baselines["hps_150_all_night"], r.programmed_kwh) for r in rows]
            or [1.0]
        )
        or 1.0
    )
    measured_rows = [r for r in rows if r.measured_kwh > 0]  # savings only where telemetry exists
    totals = {
        "measured": sum(r.measured_kwh for r in measured_rows),
        "programmed": sum(r.programmed_kwh for r in measured_rows),
        "hps": sum(r.baselines["hps_150_all_night"] for r in measured_rows),
        "led_full": sum(r.baselines["led_full"] for r in measured_rows),
        "months": len(measured_rows),
    }
    return page(
        request,
        "lighting/energy.html",
        section="staff",
        rows=rows,
        per_lamp=per_lamp,
        year=year,
        lamps=lamps,
        by_tech=by_tech,
        peak=peak,
        totals=totals,
        savings=_savings,
    )


def _savings(actual: float, baseline: float) -> str:
    if baseline <= 0 or actual <= 0:
        return "—"
    return f"{lighting.savings(actual, baseline) * 100:.0f} %"


# --------------------------------------------------------------------------- inventory import


@get("/staff/lighting/import", opt=STAFF, sync_to_thread=True, name="staff_lighting_import_form")
def import_form(request: Request[Any, Any, Any]) -> Template:
    return page(request, "lighting/import.html", section="staff", error=None, result=None)


@post("/staff/lighting/import", opt=STAFF, sync_to_thread=True, name="staff_lighting_import")
def import_upload(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Upload
) -> Template:
    upload = data.get("file")
    content, filename = b"", ""
    if upload is not None and not isinstance(upload, str) and getattr(upload, "filename", ""):
        content = upload.file.read(10 * 1024 * 1024 + 1)
        filename = upload.filename
    if not content:
        return page(
            request,
            "lighting/import.html",
            section="staff",
            status_code=400,
            result=None,
            error=_("Choisissez un fichier CSV ou GeoJSON."),
        )
    try:
        result = import_inventory(db, content, filename)
    except InventoryError as exc:
        db.rollback()
        return page(
            request,
            "lighting/import.html",
            section="staff",
            status_code=400,
            result=None,
            error=str(exc),
        )
    db.commit()
    return page(request, "lighting/import.html", section="staff", error=None, result=result)


ROUTES = [
    overview,
    group_detail,
    group_override,
    group_resume,
    group_program,
    light_detail,
    light_override,
    light_resume,
    programs,
    program_new,
    program_create,
    program_edit,
    program_update,
    program_delete,
    *lighting_calendars.ROUTES,
    alarms,
    alarm_ack,
    energy,
    import_form,
    import_upload,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    staff_links=(
        Link(
            30,
            "/staff/lighting",
            "Éclairage public",
            "Carte, groupes, programmes, alarmes et énergie.",
        ),
    ),
)
