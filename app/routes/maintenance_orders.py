"""Staff pages of work orders: the desk list and form (by hand, from an alarm, from reports), the
order's page (state, checklist, photos before/after, time spent, closure) and the field agent's
list for today on a phone, in route order."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import anyio
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter, QueryParameter
from litestar.response import File, Redirect, Template
from sqlalchemy import or_
from sqlmodel import Session, col, select

from app import photo_store
from app.auth import STAFF, current_user
from app.db import read_session, utcnow, write_session
from app.forms import Form, parse_form
from app.i18n import gettext as _
from app.maintenance import alarms, orders, registry, scope, stats, teams
from app.models.maintenance import MaintenanceAlarm, WorkOrder, WorkOrderPhoto
from app.templating import page
from app.territories import bind, request_territory


def _actor(request: Request[Any, Any, Any]) -> int:
    user = current_user(request)
    assert user is not None  # the STAFF guard let the request in
    return user.id


def _context(db: Session) -> dict[str, Any]:
    return {
        "teams": teams.names(db),
        "active_teams": teams.names(db, archived=False),
        "order_states": orders.STATES,
        "staff_people": alarms.staff_members(db),
        "people": {u.id: u for u in alarms.staff_members(db)},
    }


def _desk(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    state: str = "open",
    team: str = "",
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return page(
        request,
        "maintenance/work_orders.html",
        section="staff",
        status_code=status_code,
        rows=orders.listing(db, state=state, team=team),
        state=state,
        team=team,
        form=form or {},
        errors=errors or {},
        today=date.today(),
        **_context(db),
    )


@get("/staff/work-orders", opt=STAFF, sync_to_thread=True, name="staff_work_orders")
def desk(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    show: Annotated[
        str,
        QueryParameter(name="state", pattern="^(open|new|planned|in_progress|done|cancelled|all)$"),
    ] = "open",
    team: str = Parameter(default="", pattern="^(|[a-z][a-z0-9_]{1,19})$"),
) -> Template:
    return _desk(request, db, state=show, team=team)


def _numbers(raw: str) -> list[int] | None:
    """Report numbers or ids typed by staff ("12, 15" or "S-12"), or None when one is not a number."""
    out = []
    for part in raw.replace(";", ",").replace(" ", ",").split(","):
        part = part.strip().upper().removeprefix("S-").removeprefix("#")
        if not part:
            continue
        if not (part.isascii() and part.isdigit()) or len(part) > 9:
            return None
        out.append(int(part))
    return out


@post("/staff/work-orders", opt=STAFF, sync_to_thread=True, name="staff_work_order_create")
def create(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    fields = {k: v for k, v in data.items() if k not in ("_csrf_token", "alarm_id", "reports")}
    form, errors = parse_form(orders.OrderForm, fields)
    alarm = None
    given = data.get("alarm_id")
    raw_alarm = given if isinstance(given, str) else ""
    if raw_alarm:
        alarm = (
            alarms.get(db, int(raw_alarm)) if raw_alarm.isascii() and raw_alarm.isdigit() else None
        )
        if alarm is None:
            errors["alarm_id"] = _("Alarme introuvable.")
    listed = data.get("reports")
    ids = _numbers(listed if isinstance(listed, str) else "")
    if ids is None:
        errors["reports"] = _("Indiquez des numéros de signalement séparés par des virgules.")
    if form is not None and not errors:
        try:
            order = orders.create(
                db, form, actor_id=_actor(request), alarm=alarm, report_ids=ids or ()
            )
        except orders.OrderError as exc:
            text = str(exc)
            field = "assignee_id"
            if "ignalement" in text:
                field = "reports"
            elif "quipe" in text:
                field = "team"
            errors = {field: text}
        else:
            db.commit()
            return Redirect(f"/staff/work-orders/{order.id}", status_code=303)
    db.rollback()
    return _desk(request, db, form=data, errors=errors, status_code=400)


def _order(db: Session, order_id: int) -> WorkOrder:
    order = orders.get(db, order_id)
    if order is None:
        raise NotFoundException()
    return order


def _order_page(
    request: Request[Any, Any, Any],
    db: Session,
    order: WorkOrder,
    *,
    error: str = "",
    status_code: int = 200,
) -> Template:
    source = registry.reports()
    ids = orders.report_ids(db, order.id or 0)
    return page(
        request,
        "maintenance/work_order.html",
        section="staff",
        status_code=status_code,
        order=order,
        checklist=orders.checklist(order),
        photos=orders.photos(db, order.id or 0),
        reports=source.load(db, ids) if source and ids else [],
        alarm=db.get(MaintenanceAlarm, order.alarm_id) if order.alarm_id else None,
        moves=orders.MOVES.get(order.state, ()),
        is_open=order.state in orders.OPEN,
        error=error,
        **_context(db),
    )


@get("/staff/work-orders/{order_id:int}", opt=STAFF, sync_to_thread=True, name="staff_work_order")
def detail(
    request: Request[Any, Any, Any], db: NamedDependency[Session], order_id: FromPath[int]
) -> Template:
    return _order_page(request, db, _order(db, order_id))


def _change(
    request: Request[Any, Any, Any], db: Session, order_id: int, change: Any
) -> Template | Redirect:
    order = _order(db, order_id)
    try:
        change(order)
    except orders.OrderError as exc:
        db.rollback()
        return _order_page(request, db, _order(db, order_id), error=str(exc), status_code=400)
    db.commit()
    return Redirect(f"/staff/work-orders/{order_id}", status_code=303)


@post(
    "/staff/work-orders/{order_id:int}/state",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_work_order_state",
)
def change_state(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    order_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    given = data.get("state")
    to = given if isinstance(given, str) else ""
    return _change(request, db, order_id, lambda o: orders.move(db, o, to))


@post(
    "/staff/work-orders/{order_id:int}/check",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_work_order_check",
)
def check(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    order_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    given = data.get("item")
    raw = given if isinstance(given, str) else ""
    index = int(raw) if raw.isascii() and raw.isdigit() else -1
    return _change(
        request, db, order_id, lambda o: orders.tick(db, o, index, data.get("done") == "on")
    )


async def _upload(request: Request[Any, Any, Any]) -> tuple[dict[str, str], bytes]:
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    photo = form.get("photo")
    data = await photo.read() if isinstance(photo, UploadFile) else b""
    return fields, data


@post("/staff/work-orders/{order_id:int}/photos", opt=STAFF, name="staff_work_order_photo")
async def add_photo(
    request: Request[Any, Any, Any], order_id: FromPath[int]
) -> Template | Redirect:
    fields, data = await _upload(request)
    settings = request.app.state.settings
    actor = _actor(request)
    territory = request_territory(request)

    def work() -> Template | None:
        engine = request.app.state.engine
        try:
            if not data:
                raise orders.OrderError(_("Choisissez une photo."))
            photo = orders.process_photo(data, settings.max_upload_bytes)
            with write_session(engine) as db:
                bind(db, territory)
                orders.add_photo(
                    db,
                    _order(db, order_id),
                    fields.get("kind", ""),
                    photo,
                    settings.resolved_media_dir,
                    actor_id=actor,
                )
            return None
        except orders.OrderError as exc:
            with read_session(engine) as db:
                bind(db, territory)
                return _order_page(
                    request, db, _order(db, order_id), error=str(exc), status_code=400
                )

    result = await anyio.to_thread.run_sync(work)
    return result or Redirect(f"/staff/work-orders/{order_id}", status_code=303)


@post("/staff/work-orders/{order_id:int}/close", opt=STAFF, name="staff_work_order_close")
async def close(request: Request[Any, Any, Any], order_id: FromPath[int]) -> Template | Redirect:
    fields, data = await _upload(request)
    settings = request.app.state.settings
    actor = _actor(request)
    territory = request_territory(request)
    raw_minutes = fields.get("minutes", "").strip()

    def work() -> Template | None:
        engine = request.app.state.engine
        media = settings.resolved_media_dir
        try:
            if raw_minutes and not (raw_minutes.isascii() and raw_minutes.isdigit()):
                raise orders.OrderError(_("Indiquez le temps passé en minutes."))
            minutes = int(raw_minutes) if raw_minutes else None
            if minutes is not None and minutes > 10_000:
                raise orders.OrderError(_("Indiquez le temps passé en minutes."))
            photo = orders.process_photo(data, settings.max_upload_bytes) if data else None
            with write_session(engine) as db:
                bind(db, territory)
                order = _order(db, order_id)
                if photo is not None and order.state in orders.OPEN:
                    orders.add_photo(db, order, "after", photo, media, actor_id=actor)
                elif photo is None:
                    photo = orders.after_photo(db, order_id, media)
                orders.close(
                    db,
                    order_id,
                    actor_id=actor,
                    note=fields.get("note", "")[:2000],
                    minutes=minutes,
                    photo=photo,
                    media_dir=media,
                )
            return None
        except orders.OrderError as exc:
            with read_session(engine) as db:
                bind(db, territory)
                return _order_page(
                    request, db, _order(db, order_id), error=str(exc), status_code=400
                )

    result = await anyio.to_thread.run_sync(work)
    return result or Redirect(f"/staff/work-orders/{order_id}", status_code=303)


@get("/staff/work-orders/today", opt=STAFF, sync_to_thread=True, name="staff_work_orders_today")
def today(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    now = utcnow()
    rows = orders.today_for(db, _actor(request), now.date())
    return page(
        request,
        "maintenance/today.html",
        section="staff",
        rows=rows,
        today=now.date(),
        tile_url=request.app.state.settings.tile_url,
        tile_attribution=request.app.state.settings.tile_attribution,
        **_context(db),
    )


@get(
    "/staff/work-orders/photos/{name:str}",
    opt=STAFF,
    sync_to_thread=True,
    name="staff_work_order_photo_file",
)
def photo_file(
    request: Request[Any, Any, Any], db: NamedDependency[Session], name: FromPath[str]
) -> File:
    row = db.scalars(
        select(WorkOrderPhoto)
        .join(WorkOrder, col(WorkOrder.id) == col(WorkOrderPhoto.order_id))
        .where(
            or_(col(WorkOrderPhoto.display_name) == name, col(WorkOrderPhoto.thumb_name) == name),
            *scope.where(db, WorkOrder),
        )
    ).first()
    if row is None:
        raise NotFoundException("Cette photo n’existe pas.")
    return photo_store.served(
        name,
        request.app.state.settings.resolved_media_dir,
        cache_control="private, no-store",
        missing="Cette photo n’existe pas.",
    )


@get("/staff/work-orders/stats", opt=STAFF, sync_to_thread=True, name="staff_work_order_stats")
def figures(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    now = utcnow()
    source = registry.reports()
    return page(
        request,
        "maintenance/stats.html",
        section="staff",
        since=stats.default_since(now),
        categories=dict(source.categories(db)) if source else {},
        teams_by_code=teams.names(db),
        **stats.figures(db, stats.default_since(now), now.date()),
        **_context(db),
    )


ORDER_ROUTES = [
    figures,
    desk,
    create,
    detail,
    change_state,
    check,
    add_photo,
    close,
    today,
    photo_file,
]
