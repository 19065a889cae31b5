"""Web Push subscriptions: devices, their topics, communes and quiet hours; the VAPID keys; the ``push`` notification channel."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app import push as webpush
from app.alerts import preferences
from app.alerts.topics import (
    DEFAULT_TOPICS,
    MAX_DEVICES,
    TOPICS,
    AlertError,
    EndpointTaken,
    SubscriptionError,
    log,
    pack,
    parse_minutes,
)
from app.db import utcnow, write_session
from app.i18n import gettext as _
from app.jobs import JobContext, enqueue
from app.models.push import (
    PushSubscription,
)
from app.models.territory import Commune
from app.notify import Message


def device_label(user_agent: str, endpoint: str) -> str:
    """A short name for a device: browser and system from the User-Agent, else the push service."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("SamsungBrowser", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        "",
    )
    system = next(
        (
            name
            for token, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS X", "macOS"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        "",
    )
    if browser or system:
        return " · ".join(p for p in (browser, system) if p)[:120]
    host = (urlsplit(endpoint).hostname or "").lower()
    for suffix, name in (
        ("googleapis.com", "Chrome"),
        ("mozilla.com", "Firefox"),
        ("apple.com", "Safari"),
        ("notify.windows.com", "Edge"),
    ):
        if host.endswith(suffix):
            return name
    return _("Appareil")


# --- VAPID keys ---------------------------------------------------------------------------------


def vapid_key_file(settings: Any) -> Path:
    return Path(settings.var_dir) / "vapid_private_key"


def vapid_private_key(settings: Any, *, create: bool = False) -> str | None:
    """The VAPID private key: ``ECLOR_VAPID_PRIVATE_KEY``, else ``var/vapid_private_key``.

    With ``create``, a missing key pair is made once (two processes racing both
    end up with the first one written).
    """
    if settings.vapid_private_key:
        return str(settings.vapid_private_key)
    path = vapid_key_file(settings)
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        if not create:
            return None
    private, _public = webpush.generate_vapid_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_text(private)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def vapid_public_key(settings: Any) -> str | None:
    """The ``applicationServerKey`` for the page (made on first use outside production)."""
    private = vapid_private_key(settings, create=not settings.production)
    if not private:
        return None
    try:
        return webpush.application_server_key(private)
    except webpush.InvalidVapidConfig:
        log.error("the VAPID private key cannot be read")
        return None


# --- subscriptions ------------------------------------------------------------------------------


def _check_topics(topics: Any) -> list[str]:
    if topics is None:
        return list(DEFAULT_TOPICS)
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise SubscriptionError(_("« topics » doit être une liste de sujets."))
    unknown = sorted(set(topics) - set(TOPICS))
    if unknown:
        raise SubscriptionError(
            _("Sujet inconnu : {names}.").format(names=", ".join(unknown)[:100])
        )
    if not topics:
        raise SubscriptionError(_("Choisissez au moins un sujet."))
    return topics


def _check_communes(session: Session, communes: Any) -> list[str]:
    if communes is None:
        return []
    if not isinstance(communes, list) or not all(isinstance(c, str) for c in communes):
        raise SubscriptionError(_("« communes » doit être une liste de codes INSEE."))
    known = set(session.scalars(select(col(Commune.insee))).all())
    unknown = sorted(set(communes) - known)
    if unknown:
        raise SubscriptionError(
            _("Commune inconnue : {codes}.").format(codes=", ".join(unknown)[:100])
        )
    return communes


def save_subscription(
    session: Session,
    user_id: int,
    data: Any,
    *,
    allow_insecure_loopback: bool,
    user_agent: str = "",
    territory_id: int | None = None,
) -> tuple[PushSubscription, bool]:
    """Validate a browser subscription and store it for ``user_id``; return (row, created).

    ``data`` is the ``PushSubscription`` JSON plus ``topics``, ``communes`` and
    optionally ``quiet_start`` / ``quiet_end`` (``"22:00"``). It receives the alerts of
    ``territory_id`` (the request's; None: the first territory). An endpoint seen
    before is updated when it is this person's; another account's endpoint never moves
    (:class:`EndpointTaken`: the browser makes a fresh subscription instead).
    """
    if not isinstance(data, dict):
        raise SubscriptionError(_("Abonnement refusé : un objet JSON est attendu."))
    try:
        info = webpush.PushSubscriptionInfo.from_json(
            data, allow_insecure_loopback=allow_insecure_loopback
        )
    except webpush.InvalidSubscription as exc:
        raise SubscriptionError(str(exc)) from None
    topics = _check_topics(data.get("topics"))
    communes = _check_communes(session, data.get("communes"))
    try:
        quiet_start = parse_minutes(
            data.get("quiet_start") if isinstance(data.get("quiet_start"), str) else None,
            "quiet_start",
        )
        quiet_end = parse_minutes(
            data.get("quiet_end") if isinstance(data.get("quiet_end"), str) else None, "quiet_end"
        )
    except AlertError as exc:
        raise SubscriptionError(exc.message) from None
    now = utcnow()
    row = session.scalars(
        select(PushSubscription).where(col(PushSubscription.endpoint) == info.endpoint)
    ).first()
    created = row is None
    if row is not None and row.user_id != user_id:
        raise EndpointTaken(
            _(
                "Cet appareil reçoit déjà les notifications d’un autre compte : "
                "il en demande une nouvelle adresse."
            )
        )
    if row is None:
        row = PushSubscription(
            user_id=user_id, endpoint=info.endpoint, p256dh=info.p256dh, auth=info.auth
        )
    row.user_id = user_id
    if territory_id:  # the host it subscribed on: an endpoint belongs to one origin
        row.territory_id = territory_id
    row.p256dh, row.auth = info.p256dh, info.auth
    row.topics, row.communes = pack(topics), pack(communes)
    if "quiet_start" in data or "quiet_end" in data:
        row.quiet_start, row.quiet_end = (
            (quiet_start, quiet_end)
            if quiet_start is not None and quiet_end is not None
            else (None, None)
        )
    row.device = device_label(user_agent, info.endpoint)
    row.updated_at = now
    session.add(row)
    session.flush()
    preferences.follow_account(session, row, data)
    # A person keeps at most MAX_DEVICES subscriptions: the oldest goes first.
    ids = session.scalars(
        select(col(PushSubscription.id))
        .where(col(PushSubscription.user_id) == user_id)
        .order_by(col(PushSubscription.updated_at).desc(), col(PushSubscription.id).desc())
    ).all()
    if len(ids) > MAX_DEVICES:
        session.execute(
            delete(PushSubscription).where(col(PushSubscription.id).in_(ids[MAX_DEVICES:]))
        )
    return row, created


def remove_subscription(
    session: Session,
    user_id: int,
    *,
    endpoint: str | None = None,
    subscription_id: int | None = None,
) -> bool:
    """Delete one of ``user_id``'s subscriptions (by endpoint or id); False if it is not theirs."""
    query = select(PushSubscription).where(col(PushSubscription.user_id) == user_id)
    if endpoint:
        query = query.where(col(PushSubscription.endpoint) == endpoint)
    elif subscription_id is not None:
        query = query.where(col(PushSubscription.id) == subscription_id)
    else:
        return False
    row = session.scalars(query).first()
    if row is None:
        return False
    session.delete(row)
    return True


def push_channel(ctx: JobContext, message: Message) -> bool:
    """Hand a personal notification to the ``push.user`` job (once per notification job).

    Returns whether the person has a device for the topic (else ``app.notify`` falls back to e-mail);
    a message for ``any_device`` goes to every device of the person.
    """
    if message.topic not in TOPICS and not message.any_device:
        return False
    chose = (
        [] if message.any_device else [col(PushSubscription.topics).like(f"%,{message.topic},%")]
    )
    with write_session(ctx.engine) as session:
        has_device = session.scalar(
            select(func.count())
            .select_from(PushSubscription)
            .where(col(PushSubscription.user_id) == message.user_id, *chose)
        )
        if not has_device:
            return False
        enqueue(
            session,
            "push.user",
            {
                "user_id": message.user_id,
                "topic": message.topic,
                "title": message.title,
                "body": message.body,
                "url": message.url,
                "urgency": message.urgency,
                "ttl_s": message.ttl_s,
                "any_device": message.any_device,
                "queued_at": utcnow().isoformat(),
            },
            dedupe_key=f"push.user:{ctx.job.id}",
            max_attempts=20,
        )
    return True
