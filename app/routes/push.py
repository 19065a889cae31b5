"""Web Push subscriptions (the JSON API the page script calls) and one's notification settings.

``POST /push/subscriptions`` takes the browser's ``PushSubscription`` JSON plus
``topics`` and ``communes`` (DESIGN.md); ``DELETE /push/subscriptions`` or
``POST /push/subscriptions/delete`` removes one of the person's own. The
settings page ``/me/push`` works without JavaScript and without any device:
topics, communes, quiet hours and the e-mail channel belong to the account
(``app.alerts.preferences``) and every device follows them; it lists the devices
and unsubscribes them; the script only adds "turn on notifications on this
device", after a tap.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, RawBody
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from app.alerts import preferences, subscriptions
from app.alerts import topics as alerts_topics
from app.auth import SIGNED_IN, signed_in_user
from app.forms import Form
from app.i18n import gettext as _
from app.interfaces import Contribution
from app.models.push import PushSubscription
from app.numbers import parse_int
from app.templating import page
from app.territories import request_territory

MAX_JSON_BYTES = 16 * 1024


def getlist(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str) and v]


def _problem(status: int, message: str) -> Response[dict[str, Any]]:
    return Response({"status_code": status, "detail": message}, status_code=status)


def _read_json(body: bytes) -> Any:
    if len(body) > MAX_JSON_BYTES:
        raise ValueError(_("Demande trop volumineuse."))
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(_("Le corps de la demande doit être du JSON.")) from None


def _allow_loopback(request: Request[Any, Any, Any]) -> bool:
    return bool(request.app.state.settings.outbound_allows_loopback)


@post(
    "/push/subscriptions",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="push_subscribe",
    status_code=201,
)
def subscribe(
    request: Request[Any, Any, Any], db: NamedDependency[Session], body: RawBody
) -> Response[Any]:
    user = signed_in_user(request)
    try:
        data = _read_json(body)
        row, created = subscriptions.save_subscription(
            db,
            user.id,
            data,
            allow_insecure_loopback=_allow_loopback(request),
            user_agent=request.headers.get("user-agent", ""),
            territory_id=request_territory(request).id,
        )
    except alerts_topics.EndpointTaken as exc:
        db.rollback()
        return _problem(409, str(exc))  # the page script then makes a fresh subscription
    except (ValueError, alerts_topics.SubscriptionError) as exc:
        db.rollback()
        return _problem(400, str(exc))
    db.commit()
    return Response(
        {
            "id": row.id,
            "endpoint": row.endpoint,
            "topics": alerts_topics.unpack(row.topics),
            "communes": alerts_topics.unpack(row.communes),
            "device": row.device,
        },
        status_code=201 if created else 200,
    )


def _endpoint_from(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("endpoint"), str) and data["endpoint"]:
        return str(data["endpoint"])
    return None


def _remove_and_commit(
    db: Session, user_id: int, endpoint: str | None, subscription_id: int | None
) -> bool:
    if not subscriptions.remove_subscription(
        db, user_id, endpoint=endpoint, subscription_id=subscription_id
    ):
        db.rollback()
        return False
    db.commit()
    return True


@delete("/push/subscriptions", opt=SIGNED_IN, name="push_unsubscribe", status_code=200)
async def unsubscribe(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[Any]:
    try:
        endpoint = _endpoint_from(_read_json(await request.body()))
    except ValueError as exc:
        return _problem(400, str(exc))
    if endpoint is None:
        return _problem(400, _("« endpoint » manquant."))
    user_id = signed_in_user(request).id
    if not await anyio.to_thread.run_sync(_remove_and_commit, db, user_id, endpoint, None):
        return _problem(404, _("Cet abonnement n’existe pas ou n’est pas le vôtre."))
    return Response(None, status_code=204)


@post("/push/subscriptions/delete", opt=SIGNED_IN, name="push_unsubscribe_post")
async def unsubscribe_post(
    request: Request[Any, Any, Any], db: NamedDependency[Session]
) -> Response[Any]:
    """The same as DELETE, for forms (no JavaScript: answers with a redirect) and for JSON clients."""
    user_id = signed_in_user(request).id
    is_form = request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    )
    subscription_id: int | None = None
    if is_form:
        fields = await request.form()
        endpoint = fields.get("endpoint") or None
        raw_id = fields.get("id") or ""
        subscription_id = parse_int(raw_id)
        if not isinstance(endpoint, str):
            endpoint = None
    else:
        try:
            endpoint = _endpoint_from(_read_json(await request.body()))
        except ValueError as exc:
            return _problem(400, str(exc))
        if endpoint is None:
            return _problem(400, _("« endpoint » manquant."))
    removed = await anyio.to_thread.run_sync(
        _remove_and_commit, db, user_id, endpoint, subscription_id
    )
    if not removed:
        return _problem(404, _("Cet abonnement n’existe pas ou n’est pas le vôtre."))
    if is_form:
        return Redirect("/me/push?removed=1", status_code=303)
    return Response(None, status_code=204)


# --- settings page ----------------------------------------------------------------------------------


def _settings_page(
    request: Request[Any, Any, Any],
    db: Session,
    *,
    status_code: int = 200,
    notice: str = "",
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
) -> Template:
    user = signed_in_user(request)
    devices = db.scalars(
        select(PushSubscription)
        .where(col(PushSubscription.user_id) == user.id)
        .order_by(col(PushSubscription.updated_at).desc())
    ).all()
    if form is None:
        choices = preferences.load(db, user.id)
        form = {
            "topics": choices.topics,
            "communes": choices.communes,
            "quiet_start": alerts_topics.format_minutes(choices.quiet_start),
            "quiet_end": alerts_topics.format_minutes(choices.quiet_end),
            "email_mode": choices.email_mode,
        }
    return page(
        request,
        "push/settings.html",
        status_code=status_code,
        section="me",
        devices=devices,
        form=form,
        errors=errors or {},
        notice=notice,
        topics=alerts_topics.TOPICS,
        communes=alerts_topics.commune_names(db),
        vapid_key=subscriptions.vapid_public_key(request.app.state.settings),
        format_minutes=alerts_topics.format_minutes,
        unpack=alerts_topics.unpack,
        email_modes=preferences.EMAIL_MODE_LABELS,
    )


@get("/me/push", opt=SIGNED_IN, sync_to_thread=True, name="push_settings")
def push_settings(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    saved: FromQuery[str | None] = None,
    removed: FromQuery[str | None] = None,
) -> Template:
    notice = ""
    if saved:
        notice = _("Vos choix sont enregistrés pour votre compte et tous vos appareils.")
    elif removed:
        notice = _("L’appareil ne recevra plus de notifications.")
    return _settings_page(request, db, notice=notice)


@post("/me/push", opt=SIGNED_IN, sync_to_thread=True, name="push_settings_save")
def push_settings_save(
    request: Request[Any, Any, Any], db: NamedDependency[Session], data: Form
) -> Template | Redirect:
    topics = getlist(data, "topics")
    communes = getlist(data, "communes")
    email_mode = str(data.get("email_mode") or "off")
    form: dict[str, Any] = {
        "topics": topics,
        "communes": communes,
        "quiet_start": str(data.get("quiet_start") or ""),
        "quiet_end": str(data.get("quiet_end") or ""),
        "email_mode": email_mode,
    }
    errors: dict[str, str] = {}
    if not topics:
        errors["topics"] = _("Choisissez au moins un sujet.")
    elif set(topics) - set(alerts_topics.TOPICS):
        errors["topics"] = _("Sujet inconnu.")
    if set(communes) - set(alerts_topics.commune_names(db)):
        errors["communes"] = _("Commune inconnue.")
    quiet: list[int | None] = []
    for name in ("quiet_start", "quiet_end"):
        try:
            quiet.append(alerts_topics.parse_minutes(form[name], name))
        except alerts_topics.AlertError as exc:
            errors[name] = exc.message
            quiet.append(None)
    if not errors and (quiet[0] is None) != (quiet[1] is None):
        errors["quiet_end"] = _("Indiquez le début et la fin des heures calmes, ou aucun des deux.")
    if email_mode not in preferences.EMAIL_MODE_LABELS:
        errors["email_mode"] = _("Choix d’e-mail inconnu.")
    if errors:
        db.rollback()
        return _settings_page(request, db, status_code=400, errors=errors, form=form)
    user_id = signed_in_user(request).id
    preferences.save(
        db,
        user_id,
        preferences.Choices(
            topics=topics,
            communes=communes,
            quiet_start=quiet[0],
            quiet_end=quiet[1],
            email_mode=email_mode,
        ),
    )
    db.commit()
    return Redirect("/me/push?saved=1", status_code=303)


ROUTES = [subscribe, unsubscribe, unsubscribe_post, push_settings, push_settings_save]

CONTRIBUTES = Contribution(routes=ROUTES)
