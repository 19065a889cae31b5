"""Alerts: the public list with its history, one alert (also as CAP 1.2), and the staff pages to
write, preview, send, update and cancel an alert or import a CAP message."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from zoneinfo import ZoneInfo
from typing import Annotated, Any

import anyio
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from app import cache
from app.alerts import cap, cap_alerts, cap_import, cap_read, fanout, topics
from app.alerts import publish as alerts
from app.auth import PUBLIC, STAFF, signed_in_user
from app.db import saved_id, utcnow
from app.forms import Form
from app.i18n import NC_
from app.forms import Multipart as Upload
from app.i18n import gettext as _
from app.interfaces import Contribution
from app.models.push import Alert, CapIgnored, PushSubscription
from app.numbers import is_ascii_digits
from app.routes.push import getlist
from app.templating import page, rendered
from app.territories import request_territory
from app.territories import zone as territory_zone

PAGE_SIZE = 20
STATE_LABELS = {
    "active": NC_("alert state", "En cours"),
    "updated": "Remplacée",
    "cancelled": "Levée",
}
MSG_LABELS = {"Alert": "Alerte", "Update": "Mise à jour", "Cancel": "Fin d’alerte"}
SOURCE_LABELS = {
    "staff": "Formulaire des agents",
    "cli": "Ligne de commande",
    "cap": "Import CAP",
    "demo": "Démonstration",
}


def _territory(request: Request[Any, Any, Any]) -> int:
    """The request's territory id (0: an install without territories, nothing to keep apart)."""
    return request_territory(request).id


def _context(db: Session, territory_id: int) -> dict[str, Any]:
    return {
        "topics": topics.TOPICS,
        "communes": topics.commune_names(db, territory_id=territory_id),
        "urgencies": topics.URGENCIES,
        "state_labels": STATE_LABELS,
        "msg_labels": MSG_LABELS,
        "source_labels": SOURCE_LABELS,
        "unpack": topics.unpack,
        "now": utcnow(),
    }


def _is_current(alert: Alert, now: datetime) -> bool:
    return (
        alert.state == "active"
        and alert.msg_type != "Cancel"
        and (alert.expires_at is None or alert.expires_at > now)
    )


# --- public -------------------------------------------------------------------------------------


@get("/alerts", opt=PUBLIC, sync_to_thread=True, name="alerts")
def alert_list(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    commune: FromQuery[str | None] = None,
    page_: Annotated[int, QueryParameter(name="page", ge=1, le=1000)] = 1,
) -> Template:
    territory_id = _territory(request)
    names = topics.commune_names(db, territory_id=territory_id)
    if commune not in names:
        commune = None
    current = alerts.active_alerts(db, commune=commune, limit=50, territory_id=territory_id)
    now = utcnow()
    page_number = max(1, min(page_, 1000))
    history_query = select(Alert).where(
        or_(
            col(Alert.state) != "active",
            col(Alert.msg_type) == "Cancel",
            col(Alert.expires_at) <= now,
        )
    )
    history_query = alerts.of_territory(history_query, territory_id)
    if commune:
        history_query = history_query.where(
            or_(col(Alert.communes) == ",", col(Alert.communes).like(f"%,{commune},%"))
        )
    history = db.scalars(
        history_query.order_by(col(Alert.sent_at).desc(), col(Alert.id).desc())
        .offset((page_number - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    return page(
        request,
        "alerts/list.html",
        section="alerts",
        current=current,
        history=history[:PAGE_SIZE],
        more=len(history) > PAGE_SIZE,
        page_number=page_number,
        commune=commune,
        **_context(db, territory_id),
    )


# The page an alert points to is opened by everyone who got the push at about the same time: its data
# is read once per process every few seconds and shared (an update shows within that delay).
ALERT_PAGE_TTL_S = 5.0


def _alert_page_data(engine: Any, alert_id: int) -> dict[str, Any] | None:
    with Session(engine, expire_on_commit=False) as db:
        alert = db.get(Alert, alert_id)
        if alert is None:
            return None
        thread = alerts.thread_of(db, alert)
        reached, everywhere = cap_import.communes_reached(db, alert)
        return {
            "alert": alert,
            "thread": thread,
            "latest": thread[-1] if thread else alert,
            "reached": reached,
            "everywhere": everywhere,
            **_context(db, alert.territory_id or 0),
        }


def _alert_cap(engine: Any, alert_id: int, base_url: str, territory_id: int) -> bytes | None:
    with Session(engine, expire_on_commit=False) as db:
        alert = db.get(Alert, alert_id)
        if alert is None or (territory_id and alert.territory_id != territory_id):
            return None
        return cap_alerts.to_cap(db, alert, base_url)


MAX_ALERT_ID = 2**31 - 1


@get("/alerts/{ref:str}", opt=PUBLIC, name="alert")
async def alert_detail(
    request: Request[Any, Any, Any], ref: FromPath[str]
) -> Template | Response[bytes]:
    """``/alerts/12``: the page; ``/alerts/12.cap``: the same alert as a CAP 1.2 document."""
    as_cap = ref.endswith(".cap")
    number = ref[:-4] if as_cap else ref
    if not is_ascii_digits(number, max_digits=12):
        raise NotFoundException()
    alert_id = int(number)
    if alert_id > MAX_ALERT_ID:  # past PostgreSQL's integer: no such alert (never a 500)
        raise NotFoundException()
    engine = request.app.state.engine
    if as_cap:
        document = await anyio.to_thread.run_sync(
            _alert_cap,
            engine,
            alert_id,
            request.app.state.settings.base_url,
            _territory(request),
        )
        if document is None:
            raise NotFoundException()
        return Response(
            document,
            media_type=f"application/cap+xml; charset={cap_read.declared_encoding(document)}",
            headers={"content-disposition": f'inline; filename="eclor-alert-{alert_id}.cap"'},
        )
    data = await cache.shared(
        ("alert-page", request.app.state.cache_ns, alert_id),
        ALERT_PAGE_TTL_S,
        lambda: _alert_page_data(engine, alert_id),
    )
    territory_id = _territory(request)
    if data is None or (territory_id and data["alert"].territory_id != territory_id):
        raise NotFoundException()  # another territory's alert is not on this host
    # Rendered off the event loop: this is the page a burst follows an alert to.
    return await rendered(
        request,
        page(
            request,
            "alerts/detail.html",
            section="alerts",
            current=_is_current(data["alert"], utcnow()),
            **{**data, "now": utcnow()},
        ),
    )


# --- staff --------------------------------------------------------------------------------------


def _parse_local(value: str, zone: ZoneInfo) -> datetime | None:
    """A date and time typed by staff, on the clock of their territory (``zone``)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise topics.AlertError(_("Date et heure invalides."), "expires") from None
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=zone)
    return naive


def _form_values(data: dict[str, Any]) -> dict[str, Any]:
    def text(name: str) -> str:
        value = data.get(name, "")
        return value if isinstance(value, str) else ""

    return {
        "title": text("title"),
        "body": text("body"),
        "link": text("link"),
        "topic": text("topic"),
        "urgency": text("urgency") or "normal",
        "expires": text("expires"),
        "communes": getlist(data, "communes"),
        "note": text("note")[:500],
    }


def _clean(db: Session, form: dict[str, Any], territory_id: int) -> alerts.AlertInput:
    expires = _parse_local(form["expires"], territory_zone(db, territory_id))
    return alerts.clean_input(
        db,
        territory_id=territory_id,
        title=form["title"],
        body=form["body"],
        topic=form["topic"],
        communes=form["communes"],
        urgency=form["urgency"],
        link=form["link"],
        expires_at=expires,
    )


def _editor(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    form: dict[str, Any],
    action: str,
    original: Alert | None = None,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    preview: dict[str, Any] | None = None,
    reach: int | None = None,
) -> Template:
    return page(
        request,
        "alerts/staff_form.html",
        section="staff",
        status_code=status_code,
        form=form,
        action=action,
        original=original,
        errors=errors or {},
        preview=preview,
        reach=reach,
        **_context(db, _territory(request)),
    )


def _reach(db: Session, data: alerts.AlertInput, territory_id: int) -> int:
    conditions: list[ColumnElement[bool]] = [col(PushSubscription.topics).like(f"%,{data.topic},%")]
    if territory_id:
        conditions.append(col(PushSubscription.territory_id) == territory_id)
    if data.communes:
        conditions.append(
            or_(
                col(PushSubscription.communes) == ",",
                *[col(PushSubscription.communes).like(f"%,{c},%") for c in data.communes],
            )
        )
    return int(
        db.scalar(select(func.count()).select_from(PushSubscription).where(*conditions)) or 0
    )


def _blank_form() -> dict[str, Any]:
    return {
        "title": "",
        "body": "",
        "link": "",
        "topic": "traffic",
        "urgency": "normal",
        "expires": "",
        "communes": [],
        "note": "",
    }


@get("/staff/alerts", opt=STAFF, sync_to_thread=True, name="staff_alerts")
def staff_alerts(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    territory_id = _territory(request)
    rows = db.scalars(
        alerts.of_territory(select(Alert), territory_id)
        .order_by(col(Alert.sent_at).desc(), col(Alert.id).desc())
        .limit(100)
    ).all()
    counts = {a.id: fanout.delivery_counts(db, saved_id(a)) for a in rows}
    subscriptions = select(func.count()).select_from(PushSubscription)
    if territory_id:
        subscriptions = subscriptions.where(col(PushSubscription.territory_id) == territory_id)
    subscribers = int(db.scalar(subscriptions) or 0)
    return page(
        request,
        "alerts/staff_list.html",
        section="staff",
        rows=rows,
        counts=counts,
        subscribers=subscribers,
        **_context(db, territory_id),
    )


def _prefilled(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The form, pre-filled by a link (an alarm's prepared alert): for the person to review and send.

    Only fills the form; nothing is checked or written until staff send it."""
    form = _blank_form()
    query = request.query_params
    for name, limit in (("title", 200), ("body", 1200), ("note", 500), ("link", 300)):
        value = query.get(name)
        if isinstance(value, str):
            form[name] = value[:limit]
    if query.get("topic") in topics.ALERT_TOPICS:
        form["topic"] = query.get("topic")
    if query.get("urgency") in topics.URGENCIES:
        form["urgency"] = query.get("urgency")
    form["communes"] = [c for c in query.getall("communes", []) if c.isascii() and c.isalnum()][:40]
    form["prepared"] = query.get("prepared") == "1"
    return form


@get("/staff/alerts/new", opt=STAFF, sync_to_thread=True, name="staff_alert_new")
def staff_alert_new(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    return _editor(request, db, form=_prefilled(request), action="/staff/alerts/new")


@post("/staff/alerts/new", opt=STAFF, sync_to_thread=True, name="staff_alert_create")
def staff_alert_create(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    form = _form_values(data)
    try:
        clean = _clean(db, form, _territory(request))
    except topics.AlertError as exc:
        db.rollback()
        return _editor(
            request,
            db,
            form=form,
            action="/staff/alerts/new",
            status_code=400,
            errors={exc.field: exc.message},
        )
    if data.get("do") != "send":
        db.rollback()
        return _editor(
            request,
            db,
            form=form,
            action="/staff/alerts/new",
            preview=_preview(clean),
            reach=_reach(db, clean, _territory(request)),
        )
    alert = alerts.publish(
        db,
        clean,
        source="staff",
        sender=alerts.cap_sender(request.app.state.settings),
        user_id=signed_in_user(request).id,
        territory_id=_territory(request),
    )
    db.commit()
    cache.drop("alert-page")  # this process shows the change at once; others within the TTL
    return Redirect(f"/staff/alerts/{alert.id}?sent=1", status_code=303)


def _preview(data: alerts.AlertInput, prefix: str = "") -> dict[str, Any]:
    return {
        "title": prefix + data.title,
        "body": data.body,
        "urgency": data.urgency,
        "topic": topics.topic_label(data.topic),
    }


def _staff_alert(db: Session, alert_id: int, territory_id: int) -> Alert:
    """The alert, when it is the territory's (another territory's is not found on this host)."""
    alert = db.get(Alert, alert_id)
    if alert is None or (territory_id and alert.territory_id != territory_id):
        raise NotFoundException()
    return alert


@get("/staff/alerts/{alert_id:int}", opt=STAFF, sync_to_thread=True, name="staff_alert")
def staff_alert(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    alert_id: FromPath[int],
    sent: FromQuery[str | None] = None,
) -> Template:
    alert = _staff_alert(db, alert_id, _territory(request))
    thread = alerts.thread_of(db, alert)
    counts = {a.id: fanout.delivery_counts(db, saved_id(a)) for a in thread}
    reached, everywhere = cap_import.communes_reached(db, alert)
    return page(
        request,
        "alerts/staff_detail.html",
        section="staff",
        alert=alert,
        thread=thread,
        counts=counts,
        latest=thread[-1],
        sent=bool(sent),
        current=_is_current(thread[-1], utcnow()),
        reached=reached,
        everywhere=everywhere,
        **_context(db, _territory(request)),
    )


def _form_from(db: Session, alert: Alert) -> dict[str, Any]:
    expires = (
        alert.expires_at.astimezone(territory_zone(db, alert.territory_id)).strftime(
            "%Y-%m-%dT%H:%M"
        )
        if alert.expires_at
        else ""
    )
    return {
        "title": alert.title,
        "body": alert.body,
        "link": alert.link,
        "topic": alert.topic,
        "urgency": alert.push_urgency if alert.push_urgency in topics.URGENCIES else "normal",
        "expires": expires,
        "communes": topics.unpack(alert.communes),
        "note": "",
    }


@get("/staff/alerts/{alert_id:int}/update", opt=STAFF, sync_to_thread=True, name="staff_alert_edit")
def staff_alert_edit(
    request: Request[Any, Any, Any], db: NamedDependency[Session], alert_id: FromPath[int]
) -> Template | Redirect:
    alert = _staff_alert(db, alert_id, _territory(request))
    latest = alerts.latest_of_thread(db, alert)
    if latest.id != alert.id:
        return Redirect(f"/staff/alerts/{latest.id}/update", status_code=303)
    return _editor(
        request,
        db,
        form=_form_from(db, alert),
        action=f"/staff/alerts/{alert.id}/update",
        original=alert,
    )


@post(
    "/staff/alerts/{alert_id:int}/update", opt=STAFF, sync_to_thread=True, name="staff_alert_update"
)
def staff_alert_update(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    alert_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    original = _staff_alert(db, alert_id, _territory(request))
    form = _form_values(data)
    action = f"/staff/alerts/{alert_id}/update"
    try:
        clean = _clean(db, form, _territory(request))
        if data.get("do") != "send":
            db.rollback()
            return _editor(
                request,
                db,
                form=form,
                action=action,
                original=original,
                preview=_preview(clean, _("Mise à jour : ")),
                reach=_reach(db, clean, _territory(request)),
            )
        alert = alerts.amend(
            db,
            original,
            clean,
            source="staff",
            sender=alerts.cap_sender(request.app.state.settings),
            user_id=signed_in_user(request).id,
            note=form["note"],
        )
    except topics.AlertError as exc:
        db.rollback()
        return _editor(
            request,
            db,
            form=form,
            action=action,
            original=original,
            status_code=400,
            errors={exc.field: exc.message},
        )
    db.commit()
    cache.drop("alert-page")  # this process shows the change at once; others within the TTL
    return Redirect(f"/staff/alerts/{alert.id}?sent=1", status_code=303)


@post(
    "/staff/alerts/{alert_id:int}/cancel", opt=STAFF, sync_to_thread=True, name="staff_alert_cancel"
)
def staff_alert_cancel(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    alert_id: FromPath[int],
    data: Form,
) -> Template | Redirect:
    original = _staff_alert(db, alert_id, _territory(request))
    note = data.get("note", "") if isinstance(data.get("note"), str) else ""
    try:
        alert = alerts.amend(
            db,
            original,
            None,
            source="staff",
            sender=alerts.cap_sender(request.app.state.settings),
            user_id=signed_in_user(request).id,
            note=note.strip()[:500],
        )
    except topics.AlertError as exc:
        db.rollback()
        thread = alerts.thread_of(db, original)
        counts = {a.id: fanout.delivery_counts(db, saved_id(a)) for a in thread}
        return page(
            request,
            "alerts/staff_detail.html",
            section="staff",
            status_code=400,
            alert=original,
            thread=thread,
            counts=counts,
            latest=thread[-1],
            sent=False,
            error=exc.message,
            current=_is_current(thread[-1], utcnow()),
            **_context(db, _territory(request)),
        )
    db.commit()
    cache.drop("alert-page")  # this process shows the change at once; others within the TTL
    return Redirect(f"/staff/alerts/{alert.id}?sent=1", status_code=303)


@get("/staff/alerts/import", opt=STAFF, sync_to_thread=True, name="staff_alert_import_form")
def staff_alert_import_form(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Template:
    return page(
        request,
        "alerts/staff_import.html",
        section="staff",
        error=None,
        xml="",
        topic="auto",
        preview=None,
        recorded=None,
        document_b64="",
        **_context(db, _territory(request)),
    )


def _cap_document(data: dict[str, Any]) -> bytes:
    """The CAP message of the import form: the file, else the previewed bytes, else the pasted XML."""
    upload = data.get("file")
    if upload is not None and not isinstance(upload, str) and getattr(upload, "filename", None):
        return upload.file.read(cap.MAX_BYTES + 1)
    carried = data.get("document_b64")
    if isinstance(carried, str) and carried:
        try:
            return base64.b64decode(carried.encode("ascii"), validate=True)[: cap.MAX_BYTES + 1]
        except (ValueError, binascii.Error):
            return b""
    pasted = data.get("xml")
    xml_text = pasted if isinstance(pasted, str) else ""
    return (xml_text or "").strip().encode("utf-8")


@post("/staff/alerts/import", opt=STAFF, sync_to_thread=True, name="staff_alert_import")
def staff_alert_import(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Upload
) -> Template | Redirect:
    """Import → preview (nothing written, nothing sent) → send (``do=send``, the same bytes)."""
    pasted = data.get("xml")
    xml_text = pasted if isinstance(pasted, str) else ""
    given = data.get("topic")
    topic = given if isinstance(given, str) else "auto"
    document = _cap_document(data)
    chosen = None if topic in ("", "auto") else topic
    user_id = signed_in_user(request).id
    error: str | None = None
    preview = None
    alert: Alert | CapIgnored | None = None
    if not document:
        error = _("Collez le message CAP ou choisissez un fichier.")
    else:
        try:
            if data.get("do") == "send":
                alert = cap_alerts.import_cap(
                    db, document, user_id=user_id, topic=chosen, territory_id=_territory(request)
                )
            else:
                preview = cap_import.preview(
                    db, document, topic=chosen, user_id=user_id, territory_id=_territory(request)
                )
        except cap.CapError as exc:
            error = _("Message CAP invalide — {path} : {message}").format(
                path=exc.path, message=exc.message
            )
        except topics.AlertError as exc:
            error = exc.message
    recorded = None
    if isinstance(alert, CapIgnored):
        db.commit()
        recorded, alert, xml_text = alert.reason, None, ""
    elif alert is not None:
        db.commit()
        cache.drop("alert-page")  # this process shows the change at once; others within the TTL
        return Redirect(f"/staff/alerts/{alert.id}?sent=1", status_code=303)
    else:
        db.rollback()
    if not xml_text and document and not recorded:
        xml_text = cap_read.document_text(document)
    return page(
        request,
        "alerts/staff_import.html",
        section="staff",
        status_code=400 if error else 200,
        error=error,
        recorded=recorded,
        xml=xml_text[:20_000],
        topic=topic,
        preview=preview,
        document_b64=base64.b64encode(document).decode("ascii") if preview else "",
        **_context(db, _territory(request)),
    )


ROUTES = [
    alert_list,
    alert_detail,
    staff_alerts,
    staff_alert_new,
    staff_alert_create,
    staff_alert,
    staff_alert_edit,
    staff_alert_update,
    staff_alert_cancel,
    staff_alert_import_form,
    staff_alert_import,
]

CONTRIBUTES = Contribution(routes=ROUTES)
