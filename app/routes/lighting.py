"""Public lighting, staff pages: map and state, groups and lights (override, back to program),
inventory import; the domain's routes.

Programs live in ``lighting_programs``, calendars in ``lighting_calendars``,
alarms in ``lighting_alarms``, energy and savings in ``lighting_energy``;
``lighting_labels`` holds the words they show. ``ROUTES`` lists them all.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter, QueryParameter
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlmodel import Session, col

from app.auth import STAFF, current_user
from app.db import utcnow
from app.forms import Form, parse_form
from app.forms import Multipart as Upload
from app.i18n import gettext as _
from app.interfaces import Contribution, Link
from app.lighting import control, nights
from app.lighting import scope as territory
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
from app.numbers import is_ascii_digits
from app.routes import lighting_calendars, lighting_talq
from app.routes.lighting_alarms import alarm_ack, alarms
from app.routes.lighting_energy import energy
from app.routes.lighting_labels import page_labels
from app.routes.lighting_programs import (
    program_create,
    program_delete,
    program_edit,
    program_new,
    program_update,
    programs,
)
from app.templating import page
from app.territories import request_territory


class OverrideForm(BaseModel):
    level: int = Field(ge=0, le=100)
    minutes: int | None = Field(default=None, ge=1, le=control.MAX_OVERRIDE_MINUTES)


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


def _territory(request: Request[Any, Any, Any]) -> int:
    """The request's territory id: every lighting query of a page keeps to it."""
    return request_territory(request).id


def _live_map(db: Session, territory_id: int, group_id: str | None = None) -> dict[str, Any]:
    """The count of the territory's lights and where the live map opens (the operations centre,
    lights layer; a group's map opens on its first light)."""
    query = select(func.count()).select_from(Streetlight)
    query = query.where(col(Streetlight.territory_id) == territory_id)
    first = select(col(Streetlight.id)).order_by(col(Streetlight.id)).limit(1)
    if group_id:
        query = query.where(col(Streetlight.group_id) == group_id)
        first = first.where(col(Streetlight.group_id) == group_id)
    light_id = db.scalar(first)
    return {
        "total": int(db.scalar(query) or 0),
        "live_map": f"/staff/ops?open=lights/{light_id}" if group_id and light_id else "/staff/ops",
    }


# --------------------------------------------------------------------------- overview


GROUPS_PAGE = 100  # groups listed per page of the overview (a territory 20× larger has 5,000+)


@get("/staff/lighting", opt=STAFF, sync_to_thread=True, name="staff_lighting")
def overview(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    page_no: Annotated[int, QueryParameter(name="page", ge=1, le=100_000)] = 1,
) -> Template:
    """The fleet's figures and its groups a page at a time (``ix_light_groups_commune_name``), the
    lights counted for the groups shown only; the lights themselves are on the live map."""
    territory_id = _territory(request)
    group_total = int(
        db.scalar(
            territory.scoped(select(func.count()).select_from(LightGroup), LightGroup, territory_id)
        )
        or 0
    )
    pages = max(1, -(-group_total // GROUPS_PAGE))
    page_no = min(page_no, pages)
    groups = db.scalars(
        territory.scoped(select(LightGroup), LightGroup, territory_id)
        .order_by(col(LightGroup.commune_insee), col(LightGroup.name), col(LightGroup.id))
        .offset((page_no - 1) * GROUPS_PAGE)
        .limit(GROUPS_PAGE)
    ).all()
    per_group = dict(
        db.execute(
            select(col(Streetlight.group_id), func.count())
            .where(col(Streetlight.group_id).in_([g.id for g in groups]))
            .group_by(col(Streetlight.group_id))
        ).all()
    )
    overrides = {
        o.target_id: o
        for o in db.scalars(
            select(LightOverride).where(
                col(LightOverride.state) == "active", col(LightOverride.scope) == "group"
            )
        ).all()
    }
    open_alarms = int(
        db.scalar(
            select(func.count())
            .select_from(LightAlarm)
            .where(
                col(LightAlarm.territory_id) == territory_id, col(LightAlarm.cleared_at).is_(None)
            )
        )
        or 0
    )
    pending = int(
        db.scalar(
            select(func.count())
            .select_from(LightCommand)
            .where(
                col(LightCommand.state).in_(("queued", "sent", "accepted")),
                # A correlated EXISTS, not IN (the territory's light ids): the count walks the few
                # open commands by state and looks each light up, whatever the fleet's size.
                select(col(Streetlight.id))
                .where(
                    col(Streetlight.id) == col(LightCommand.light_id),
                    col(Streetlight.territory_id) == territory_id,
                )
                .exists(),
            )
        )
        or 0
    )
    programs = {
        p.id: p.name
        for p in db.scalars(territory.scoped(select(LightProgram), LightProgram, territory_id))
    }
    calendars = {
        c.id: c.name
        for c in db.scalars(territory.scoped(select(LightCalendar), LightCalendar, territory_id))
    }
    commune_names = dict(
        db.execute(
            select(col(Commune.insee), col(Commune.name)).where(
                col(Commune.territory_id) == territory_id
            )
        ).all()
    )
    return page(
        request,
        "lighting/overview.html",
        section="staff",
        groups=groups,
        group_total=group_total,
        page_no=page_no,
        pages=pages,
        prev_url=f"/staff/lighting?page={page_no - 1}" if page_no > 1 else None,
        next_url=f"/staff/lighting?page={page_no + 1}" if page_no < pages else None,
        per_group=per_group,
        commune_names=commune_names,
        overrides=overrides,
        open_alarms=open_alarms,
        pending=pending,
        programs=programs,
        calendars=calendars,
        **_live_map(db, territory_id),
        **page_labels(),
    )


# --------------------------------------------------------------------------- groups


def _group(request: Request[Any, Any, Any], db: Session, group_id: str) -> LightGroup:
    """The group, when it is the request's territory's (another's is not found on this host)."""
    group = territory.row_in(db, LightGroup, group_id, _territory(request))
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
        .where(col(Streetlight.group_id) == group.id)
        .order_by(Streetlight.id)
        .limit(200)
    ).all()
    ids = select(col(Streetlight.id)).where(col(Streetlight.group_id) == group.id)
    since = now - timedelta(days=1)
    counts = control.command_counts(db, ids, since)
    override = db.scalars(
        select(LightOverride).where(
            col(LightOverride.state) == "active",
            col(LightOverride.scope) == "group",
            col(LightOverride.target_id) == group.id,
        )
    ).first()
    source = control.group_source(db, group)
    position = control.territory_position(db)
    schedule = nights.schedule(source, lighting.night_of(now, position), position) if source else []
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
            for p in db.scalars(
                territory.scoped(select(LightProgram), LightProgram, group.territory_id).order_by(
                    col(LightProgram.name)
                )
            )
            if p.archived_at is None or p.id == group.program_id
        ],
        calendars=db.scalars(
            territory.scoped(select(LightCalendar), LightCalendar, group.territory_id).order_by(
                col(LightCalendar.name)
            )
        ).all(),
        cabinet=territory.row_in(db, LightCabinet, group.cabinet_id, group.territory_id or 0),
        **_live_map(db, _territory(request), group.id),
        **page_labels(),
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
    return _group_page(request, db, _group(request, db, group_id), done=done)


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
    group = _group(request, db, group_id)
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
    group = _group(request, db, group_id)
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
    group = _group(request, db, group_id)
    errors: dict[str, str] = {}
    values: dict[str, int | None] = {}
    choosable: tuple[tuple[str, Any], ...] = (
        ("program_id", LightProgram),
        ("calendar_id", LightCalendar),
    )
    for name, model in choosable:
        raw = data.get(name) if isinstance(data.get(name), str) else ""
        if not raw:
            values[name] = None
        elif (
            not is_ascii_digits(raw)
            or (chosen := territory.row_in(db, model, int(raw), group.territory_id or 0)) is None
        ):
            errors[name] = _("Choix invalide.")
        elif getattr(chosen, "archived_at", None) and int(raw) != group.program_id:
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


def _light(request: Request[Any, Any, Any], db: Session, light_id: str) -> Streetlight:
    """The light, when it is the request's territory's (another's is not found on this host)."""
    light = territory.row_in(db, Streetlight, light_id, _territory(request))
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
        .where(col(LightCommand.light_id) == light.id)
        .order_by(col(LightCommand.id).desc())
        .limit(10)
    ).all()
    readings = db.scalars(
        select(LightReading)
        .where(col(LightReading.light_id) == light.id)
        .order_by(col(LightReading.ts).desc())
        .limit(12)
    ).all()
    alarms = db.scalars(
        select(LightAlarm)
        .where(col(LightAlarm.device_id) == light.device_id)
        .order_by(col(LightAlarm.id).desc())
        .limit(10)
    ).all()
    target = (
        db.scalars(
            select(LightCommand).where(col(LightCommand.command_id) == light.target_command_id)
        ).first()
        if light.target_command_id
        else None
    )
    override = db.scalars(
        select(LightOverride).where(
            col(LightOverride.state) == "active",
            col(LightOverride.scope) == "light",
            col(LightOverride.target_id) == light.id,
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
        group=territory.row_in(db, LightGroup, light.group_id, light.territory_id or 0),
        errors=errors or {},
        form=form or {},
        done=done,
        now=now,
        **page_labels(),
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
    return _light_page(request, db, _light(request, db, light_id), done=done)


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
    light = _light(request, db, light_id)
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
    light = _light(request, db, light_id)
    control.resume_program(db, "light", light.id, now=utcnow())
    db.commit()
    return Redirect(f"/staff/lighting/lights/{light.id}?done=resume", status_code=303)


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
    if isinstance(upload, UploadFile) and upload.filename:
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
        result = import_inventory(db, content, filename, territory_id=_territory(request))
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
    *lighting_talq.ROUTES,
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
