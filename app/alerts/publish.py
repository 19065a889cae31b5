"""Alerts and Web Push: subscriptions, publishing, CAP import and export, fan-out.

One path publishes an alert, whoever starts it: the staff form, ``eclor
alert`` and a CAP import all call :func:`publish` (or :func:`amend` for an
Update or a Cancel), which writes the ``alerts`` row and, in the same
transaction, a ``push.alert`` job. The worker runs that job
(:func:`deliver`): it plans one ``push_deliveries`` row per matching
subscription, then sends them in batches through :class:`app.push.PushSender`
(one pooled client, bounded concurrency, TTL, Urgency and Topic on every
message).

Personal notifications (``app.notify.notify``) reach the person's devices
through the ``push`` channel registered here: it queues a ``push.user`` job
that goes through the same delivery code.

Exactly what a subscription gets, also across crashes (at most once):

1. A batch of due rows is marked ``sending`` and committed *before* any of
   its POSTs (the next batch is claimed when the sender needs more).
2. The answers are recorded a batch at a time, in one transaction each.
3. A run that starts and finds ``sending`` rows knows their worker died
   between 1 and 2 (a job is held by one worker at a time; the lease is
   checked before every batch, so a worker that lost its job stops): those
   rows become ``unknown`` and are never sent again. The push service may or
   may not have received them; nobody gets a message twice. The window is at
   most two batches per crash (the batch being sent and the answers of the
   previous one not written yet: ``2 × FANOUT_BATCH`` rows).

Answers: 201 → ``delivered``; 404/410 → ``gone`` and that subscription is
deleted (only that one); 413 → ``too_large``, not retried; 429 → ``retry``
after ``Retry-After``; 5xx or network error → ``retry`` with backoff (at most
``MAX_TRIES`` tries, then ``failed``); other 4xx → ``rejected`` and logged.
Low and normal urgency messages wait (``held``) while the subscriber is in
quiet hours; ``high`` goes through. The job re-queues itself (``RetryLater``)
for held and retried rows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app import events, xmltext
from app.alerts import cap
from app import push as webpush
from app.db import utcnow, write_session
from app.i18n import gettext as _
from app.jobs import JobContext, RetryLater, enqueue
from app.notify import Message
from app.models.accounts import User
from app.models.push import (
    Alert,
    PushDelivery,
    PushSubscription,
)
from app.models.territory import Commune

log = logging.getLogger("eclor.alerts")

TZ = ZoneInfo("Europe/Paris")

# Topic code -> French label (translated at render time through _()).
TOPICS: dict[str, str] = {
    "weather": "Météo",
    "road_safety": "Sécurité routière",
    "traffic": "Circulation et passages frontière",
    "waste_centre": "Déchèterie",
    "my_reports": "Mes signalements",
    "carpool": "Covoiturage",
    "local_shops": "Commerces locaux",
    "general": "Informations générales",
}
DEFAULT_TOPICS = ("weather", "road_safety", "traffic", "my_reports", "general")
# Topics of public alerts (the others are personal: they come through app.notify).
ALERT_TOPICS = ("weather", "road_safety", "traffic", "waste_centre", "general")
# Feeds where only the latest message matters: the push service keeps only the newest.
LATEST_ONLY_TOPICS = frozenset({"waste_centre", "traffic"})

URGENCIES: dict[str, str] = {"high": "Urgente", "normal": "Normale", "low": "Faible"}
TOPIC_CATEGORY = {
    "weather": "Met",
    "road_safety": "Safety",
    "traffic": "Transport",
    "waste_centre": "Env",
    "my_reports": "Other",
    "carpool": "Transport",
    "local_shops": "Other",
    "general": "Other",
}
CATEGORY_TOPIC = {
    "Met": "weather",
    "Transport": "traffic",
    "Safety": "road_safety",
    "Geo": "weather",
    "Env": "general",
    "Infra": "general",
    "Health": "general",
    "Fire": "general",
    "Rescue": "general",
    "Security": "general",
    "CBRNE": "general",
    "Other": "general",
}
# Push urgency -> CAP (urgency, severity); app.alerts.cap.push_urgency maps them back to the same value.
URGENCY_CAP = {
    "high": ("Immediate", "Severe"),
    "normal": ("Expected", "Moderate"),
    "low": ("Future", "Minor"),
}

TITLE_MAX = 120
BODY_MAX = 1000
CAP_BODY_MAX = 600  # an imported description is cut for the phone; the page has it all
MAX_DEVICES = 20  # per person; subscribing a 21st device drops the oldest
FANOUT_BATCH = 100  # rows marked "sending" per transaction (the crash window)
FANOUT_CONCURRENCY = 32  # messages in flight per fan-out
MAX_TRIES = 6  # per delivery, for 429/5xx/network errors
RETRY_BASE_S = 30.0
DUE = ("pending", "held", "retry")


class AlertError(ValueError):
    """A publication or import refused; ``message`` is French, ``field`` names the form field."""

    def __init__(self, message: str, field: str = "__all__") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class SubscriptionError(ValueError):
    """A subscription refused; the message is French."""


# --- small helpers ------------------------------------------------------------------------------


def pack(values: Iterable[str]) -> str:
    """``["a", "b"]`` -> ``",a,b,"`` (``","`` when empty), sorted and without duplicates."""
    items = sorted({v for v in values if v})
    return "," + "".join(f"{v}," for v in items)


def unpack(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def topic_label(code: str) -> str:
    return _(TOPICS.get(code, code))


def commune_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Commune.insee, Commune.name).order_by(Commune.name)).all())


def format_minutes(value: int | None) -> str:
    return "" if value is None else f"{value // 60:02d}:{value % 60:02d}"


def parse_minutes(value: str | None, field: str) -> int | None:
    """``"22:30"`` -> 1350; empty -> None; anything else -> AlertError."""
    value = (value or "").strip()
    if not value:
        return None
    m = re.fullmatch(r"([01]?\d|2[0-3])[:hH]([0-5]\d)", value)
    if not m:
        raise AlertError(_("Heure invalide (attendu HH:MM)."), field)
    return int(m.group(1)) * 60 + int(m.group(2))


def quiet_until(now: datetime, start: int | None, end: int | None) -> datetime | None:
    """When the quiet hours around ``now`` end (UTC), or None when ``now`` is not in them."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(TZ)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    until = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if until <= local:
        until = (local + timedelta(days=1)).replace(
            hour=end // 60, minute=end % 60, second=0, microsecond=0
        )
    return until.astimezone(UTC)


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
    known = set(session.scalars(select(Commune.insee)).all())
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
) -> tuple[PushSubscription, bool]:
    """Validate a browser subscription and store it for ``user_id``; return (row, created).

    ``data`` is the ``PushSubscription`` JSON plus ``topics``, ``communes`` and
    optionally ``quiet_start`` / ``quiet_end`` (``"22:00"``). An endpoint seen
    before is updated (and moves to this person: the device is theirs now).
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
        select(PushSubscription).where(PushSubscription.endpoint == info.endpoint)
    ).first()
    created = row is None
    if row is None:
        row = PushSubscription(
            user_id=user_id, endpoint=info.endpoint, p256dh=info.p256dh, auth=info.auth
        )
    row.user_id = user_id
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
    from app import preferences

    preferences.follow_account(session, row, data)
    # A person keeps at most MAX_DEVICES subscriptions: the oldest goes first.
    ids = session.scalars(
        select(PushSubscription.id)
        .where(PushSubscription.user_id == user_id)
        .order_by(PushSubscription.updated_at.desc(), PushSubscription.id.desc())
    ).all()  # type: ignore[union-attr]
    if len(ids) > MAX_DEVICES:
        session.execute(delete(PushSubscription).where(PushSubscription.id.in_(ids[MAX_DEVICES:])))  # type: ignore[union-attr]
    return row, created


def remove_subscription(
    session: Session,
    user_id: int,
    *,
    endpoint: str | None = None,
    subscription_id: int | None = None,
) -> bool:
    """Delete one of ``user_id``'s subscriptions (by endpoint or id); False if it is not theirs."""
    query = select(PushSubscription).where(PushSubscription.user_id == user_id)
    if endpoint:
        query = query.where(PushSubscription.endpoint == endpoint)
    elif subscription_id is not None:
        query = query.where(PushSubscription.id == subscription_id)
    else:
        return False
    row = session.scalars(query).first()
    if row is None:
        return False
    session.delete(row)
    return True


def update_preferences(
    session: Session,
    user_id: int,
    topics: list[str],
    communes: list[str],
    quiet_start: int | None,
    quiet_end: int | None,
) -> int:
    """Apply topics, communes and quiet hours to every device of ``user_id``; return how many."""
    if quiet_start is None or quiet_end is None:
        quiet_start = quiet_end = None
    result = session.execute(
        update(PushSubscription)
        .where(PushSubscription.user_id == user_id)
        .values(
            topics=pack(topics),
            communes=pack(communes),
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            updated_at=utcnow(),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- publishing ---------------------------------------------------------------------------------


@dataclass
class AlertInput:
    """What a person (form, CLI) gives to publish or update an alert, already validated."""

    title: str
    body: str
    topic: str
    communes: list[str]
    urgency: str = "normal"
    link: str = ""
    expires_at: datetime | None = None
    ttl_s: int | None = None
    instruction: str = ""


def clean_input(
    session: Session,
    *,
    title: str,
    body: str,
    topic: str,
    communes: Sequence[str],
    urgency: str = "normal",
    link: str = "",
    expires_at: datetime | None = None,
    ttl_s: int | None = None,
    now: datetime | None = None,
) -> AlertInput:
    """Check what a person typed; raise :class:`AlertError` naming the field."""
    now = now or utcnow()
    title, body, link = title.strip(), body.strip(), link.strip()
    if not title:
        raise AlertError(_("Donnez un titre à l’alerte."), "title")
    if len(title) > TITLE_MAX:
        raise AlertError(
            _("Le titre est trop long ({n} caractères au plus).").format(n=TITLE_MAX), "title"
        )
    if len(body) > BODY_MAX:
        raise AlertError(
            _("Le texte est trop long ({n} caractères au plus).").format(n=BODY_MAX), "body"
        )
    if topic not in TOPICS:
        raise AlertError(_("Sujet inconnu."), "topic")
    if urgency not in URGENCIES:
        raise AlertError(_("Urgence inconnue (high, normal ou low)."), "urgency")
    known = set(session.scalars(select(Commune.insee)).all())
    unknown = sorted(set(communes) - known)
    if unknown:
        raise AlertError(
            _("Commune inconnue : {codes}.").format(codes=", ".join(unknown)), "communes"
        )
    if (
        link
        and not (link.startswith("/") and not link.startswith("//"))
        and not re.fullmatch(r"https://\S+", link)
    ):
        raise AlertError(
            _("Le lien doit être une adresse https:// ou une page d’Eclor (/...)."), "link"
        )
    if len(link) > 500:
        raise AlertError(_("Le lien est trop long."), "link")
    if expires_at is not None and expires_at <= now:
        raise AlertError(_("La fin de l’alerte doit être dans le futur."), "expires")
    if ttl_s is not None and not cap.MIN_TTL <= ttl_s <= cap.MAX_TTL:
        raise AlertError(
            _("Durée de validité invalide ({a} à {b} secondes).").format(
                a=cap.MIN_TTL, b=cap.MAX_TTL
            ),
            "ttl",
        )
    if expires_at is None and ttl_s is not None:
        expires_at = now + timedelta(seconds=ttl_s)
    data = AlertInput(
        title=title,
        body=body,
        topic=topic,
        communes=sorted(set(communes)),
        urgency=urgency,
        link=link,
        expires_at=expires_at,
        ttl_s=ttl_s,
    )
    size = _payload_size(data)
    if size > webpush.MAX_PLAINTEXT_BYTES:
        raise AlertError(
            _(
                "Le message est trop long pour une notification : {size} octets "
                "(au plus {limit}). Raccourcissez le texte."
            ).format(size=size, limit=webpush.MAX_PLAINTEXT_BYTES),
            "body",
        )
    return data


def _payload_dict(title: str, body: str, url: str, thread_id: int, urgency: str) -> dict[str, Any]:
    """The push payload, in the shape the service worker reads (title, body, url, tag, urgency)."""
    return {
        "title": title,
        "body": body,
        "url": url,
        "tag": f"alert-{thread_id}",
        "urgency": urgency,
        "lang": "fr",
    }


def _payload_size(data: AlertInput) -> int:
    import json

    payload = _payload_dict(
        _("Mise à jour : ") + data.title, data.body, "/alerts/0000000", 9_999_999, data.urgency
    )
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def alert_payload(alert: Alert) -> dict[str, Any]:
    title = alert.title
    if alert.msg_type == "Update":
        title = _("Mise à jour : ") + title
    elif alert.msg_type == "Cancel":
        title = _("Fin d’alerte : ") + title
    return _payload_dict(
        title,
        alert.body,
        f"/alerts/{alert.id}",
        alert.thread_id or alert.id or 0,
        alert.push_urgency,
    )


def ttl_for(expires_at: datetime | None, now: datetime, default: int = cap.DEFAULT_TTL) -> int:
    if expires_at is None:
        return default
    return max(cap.MIN_TTL, min(cap.MAX_TTL, int((expires_at - now).total_seconds())))


def cap_sender(settings: Any) -> str:
    host = urlsplit(getattr(settings, "base_url", "") or "").netloc or "eclor.local"
    return f"eclor@{host}"


def publish(
    session: Session,
    data: AlertInput,
    *,
    source: str,
    sender: str,
    user_id: int | None = None,
    now: datetime | None = None,
) -> Alert:
    """Write a new alert and queue its fan-out, in the caller's transaction."""
    now = (now or utcnow()).replace(microsecond=0)
    cap_urgency, severity = URGENCY_CAP[data.urgency]
    alert = Alert(
        identifier=f"eclor-{uuid.uuid4().hex}",
        sender=sender,
        sent_at=now,
        status="Actual",
        msg_type="Alert",
        category=TOPIC_CATEGORY.get(data.topic, "Other"),
        event=topic_label(data.topic),
        cap_urgency=cap_urgency,
        severity=severity,
        certainty="Likely",
        expires_at=data.expires_at,
        sender_name="Eclor",
        title=data.title,
        body=data.body,
        link=data.link,
        topic=data.topic,
        communes=pack(data.communes),
        push_urgency=data.urgency,
        ttl_s=data.ttl_s or ttl_for(data.expires_at, now),
        source=source,
        created_by=user_id,
        area_desc=_area_desc(session, data.communes),
    )
    session.add(alert)
    session.flush()
    alert.thread_id = alert.id
    _queue_fanout(session, alert)
    return alert


def amend(
    session: Session,
    original: Alert,
    data: AlertInput | None,
    *,
    source: str,
    sender: str,
    user_id: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Alert:
    """Publish an Update (``data`` given) or a Cancel (``data`` None) of ``original``.

    The new message references the latest one of the chain, reaches the
    subscriptions that got an earlier message of the chain (and, for an
    Update, those its new topic and communes match), and replaces whatever of
    the chain was not sent yet.
    """
    if original.state != "active" or original.msg_type == "Cancel":
        raise AlertError(
            _("Cette alerte a déjà été remplacée ou levée : modifiez la dernière version.")
        )
    now = (now or utcnow()).replace(microsecond=0)
    thread = original.thread_id or original.id
    refs = f"{original.sender},{original.identifier},{cap.format_time(original.sent_at)}"
    if data is None:
        alert = Alert(
            identifier=f"eclor-{uuid.uuid4().hex}",
            sender=sender,
            sent_at=now,
            msg_type="Cancel",
            cap_references=refs,
            note=note[:500] or None,
            category=original.category,
            event=original.event,
            cap_urgency="Past",
            severity=original.severity,
            certainty=original.certainty,
            expires_at=now + timedelta(hours=6),
            sender_name=original.sender_name,
            title=original.title,
            body=note or _("Cette alerte est terminée."),
            link=original.link,
            area_desc=original.area_desc,
            topic=original.topic,
            communes=original.communes,
            push_urgency="normal",
            ttl_s=6 * 3600,
            state="cancelled",
            source=source,
            created_by=user_id,
        )
    else:
        cap_urgency, severity = URGENCY_CAP[data.urgency]
        alert = Alert(
            identifier=f"eclor-{uuid.uuid4().hex}",
            sender=sender,
            sent_at=now,
            msg_type="Update",
            cap_references=refs,
            note=note[:500] or None,
            category=TOPIC_CATEGORY.get(data.topic, "Other"),
            event=topic_label(data.topic),
            cap_urgency=cap_urgency,
            severity=severity,
            certainty="Likely",
            expires_at=data.expires_at,
            sender_name="Eclor",
            title=data.title,
            body=data.body,
            link=data.link,
            topic=data.topic,
            communes=pack(data.communes),
            push_urgency=data.urgency,
            ttl_s=data.ttl_s or ttl_for(data.expires_at, now),
            source=source,
            created_by=user_id,
            area_desc=_area_desc(session, data.communes),
        )
    return _attach(session, original, alert, thread)


def _attach(session: Session, original: Alert, alert: Alert, thread: int) -> Alert:
    alert.thread_id = thread
    alert.references_id = original.id
    session.add(alert)
    session.flush()
    chain = select(Alert.id).where(Alert.thread_id == thread, Alert.id != alert.id)
    session.execute(
        update(Alert)
        .where(Alert.id.in_(chain.scalar_subquery()))  # type: ignore[union-attr]
        .values(state="cancelled" if alert.msg_type == "Cancel" else "updated")
    )
    # What of the chain was not sent yet is replaced by this message.
    session.execute(
        update(PushDelivery)
        .where(
            PushDelivery.alert_id.in_(chain.scalar_subquery()),
            PushDelivery.status.in_(DUE),  # type: ignore[union-attr]
        )
        .values(status="superseded", finished_at=utcnow())
    )
    _queue_fanout(session, alert)
    return alert


def _area_desc(session: Session, communes: Sequence[str]) -> str:
    if not communes:
        return _("Tout le territoire")
    names = commune_names(session)
    return ", ".join(names.get(c, c) for c in communes)[:500]


def _queue_fanout(session: Session, alert: Alert) -> None:
    enqueue(
        session,
        "push.alert",
        {"alert_id": alert.id},
        dedupe_key=f"push.alert:{alert.id}",
        max_attempts=20,
    )
    events.publish(
        session,
        "alerts",
        str(alert.id),
        "published",
        {"msg_type": alert.msg_type, "topic": alert.topic},
    )


def active_alerts(
    session: Session, *, commune: str | None = None, now: datetime | None = None, limit: int = 20
) -> list[Alert]:
    """Alerts in force now (newest first), for one commune (those for the whole territory included)."""
    now = now or utcnow()
    query = select(Alert).where(
        Alert.state == "active",
        Alert.msg_type != "Cancel",
        or_(Alert.expires_at.is_(None), Alert.expires_at > now),
    )  # type: ignore[union-attr]
    if commune:
        query = query.where(or_(Alert.communes == ",", Alert.communes.like(f"%,{commune},%")))  # type: ignore[attr-defined]
    order = {"high": 0, "normal": 1, "low": 2}
    rows = list(session.scalars(query.order_by(Alert.sent_at.desc()).limit(limit)).all())
    rows.sort(key=lambda a: (order.get(a.push_urgency, 3), -a.sent_at.timestamp()))
    return rows


def thread_of(session: Session, alert: Alert) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.thread_id == (alert.thread_id or alert.id))
            .order_by(Alert.sent_at, Alert.id)
        ).all()
    )


def latest_of_thread(session: Session, alert: Alert) -> Alert:
    return thread_of(session, alert)[-1]


# --- CAP import and export ----------------------------------------------------------------------


def _pick_info(alert: cap.CapAlert) -> cap.CapInfo | None:
    for info in alert.infos:
        if info.language.lower().startswith("fr"):
            return info
    return alert.infos[0] if alert.infos else None


def import_cap(
    session: Session,
    document: bytes,
    *,
    user_id: int | None = None,
    topic: str | None = None,
    now: datetime | None = None,
) -> Alert:
    """Read a CAP 1.2 document and publish it (Alert) or amend the alert it references (Update, Cancel).

    Raises :class:`app.alerts.cap.CapError` for invalid CAP (field path and French
    message) and :class:`AlertError` for valid CAP that Eclor does not take
    (not Actual, not Public, no commune of the territory, unknown reference,
    already imported). Nothing is written when it raises.
    """
    now = now or utcnow()
    parsed = cap.parse(document)
    if parsed.status != "Actual":
        raise AlertError(
            _("Seuls les messages « Actual » sont diffusés (reçu : {s}).").format(s=parsed.status)
        )
    if parsed.scope != "Public":
        raise AlertError(_("Seuls les messages publics (scope « Public ») sont diffusés."))
    if parsed.msgType not in ("Alert", "Update", "Cancel"):
        raise AlertError(_("Type de message non pris en charge : {t}.").format(t=parsed.msgType))
    if (
        session.scalars(
            select(Alert.id).where(
                Alert.sender == parsed.sender, Alert.identifier == parsed.identifier
            )
        ).first()
        is not None
    ):
        raise AlertError(_("Ce message CAP a déjà été importé."))
    if topic is not None and topic not in TOPICS:
        raise AlertError(_("Sujet inconnu."), "topic")
    info = _pick_info(parsed)
    if info is None:
        raise AlertError(_("Le message ne contient aucun bloc « info » à diffuser."))
    original: Alert | None = None
    if parsed.msgType in ("Update", "Cancel"):
        for ref in reversed(parsed.references):
            original = session.scalars(
                select(Alert).where(Alert.sender == ref.sender, Alert.identifier == ref.identifier)
            ).first()
            if original is not None:
                break
        if original is None:
            raise AlertError(
                _(
                    "Le message fait référence à une alerte inconnue d’Eclor : importez d’abord "
                    "l’alerte d’origine."
                )
            )
        original = latest_of_thread(session, original)
        if original.state != "active" or original.msg_type == "Cancel":
            raise AlertError(_("L’alerte référencée a déjà été levée."))
    communes = session.scalars(select(Commune)).all()
    areas = [area for i in parsed.infos for area in i.areas] if not info.areas else info.areas
    matched = cap.match_communes(areas, communes)
    if parsed.msgType != "Cancel" and not matched:
        raise AlertError(
            _("La zone de l’alerte ne couvre aucune commune du territoire : rien à diffuser.")
        )
    everywhere = bool(matched) and len(matched) == len(communes)
    chosen = topic or CATEGORY_TOPIC.get(info.category[0] if info.category else "Other", "general")
    description = (info.description or "").strip()
    if len(description) > CAP_BODY_MAX:
        description = description[: CAP_BODY_MAX - 1].rstrip() + "…"
    title = (info.headline or info.event).strip()[:TITLE_MAX]
    link = info.web if info.web and info.web.startswith("https://") else ""
    alert = Alert(
        identifier=parsed.identifier,
        sender=parsed.sender,
        sent_at=parsed.sent,
        status=parsed.status,
        msg_type=parsed.msgType,
        scope=parsed.scope,
        cap_references=" ".join(
            f"{r.sender},{r.identifier},{cap.format_time(r.sent)}" for r in parsed.references
        )
        or None,
        note=(parsed.note or "")[:500] or None,
        category=info.category[0] if info.category else "Other",
        event=info.event[:200],
        cap_urgency=info.urgency,
        severity=info.severity,
        certainty=info.certainty,
        onset_at=info.onset,
        expires_at=info.expires,
        sender_name=(info.senderName or "")[:200],
        title=title,
        body=description,
        instruction=(info.instruction or "").strip(),
        link=link[:500],
        area_desc="; ".join(a.areaDesc for a in info.areas)[:500],
        topic=chosen,
        communes="," if everywhere else pack(matched),
        push_urgency=cap.push_urgency(info),
        ttl_s=cap.push_ttl(info, now),
        source="cap",
        cap_xml=document.decode("utf-8", "replace"),
        created_by=user_id,
    )
    if parsed.msgType == "Cancel":
        alert.state = "cancelled"
        alert.push_urgency = "normal"
        if not alert.body:
            alert.body = _("Cette alerte est terminée.")
    if _encoded_size(alert) > webpush.MAX_PLAINTEXT_BYTES:
        raise AlertError(_("Le titre de l’alerte est trop long pour une notification."))
    if original is None:
        session.add(alert)
        session.flush()
        alert.thread_id = alert.id
        _queue_fanout(session, alert)
        return alert
    return _attach(session, original, alert, original.thread_id or original.id)  # type: ignore[arg-type]


def _encoded_size(alert: Alert) -> int:
    import json

    payload = alert_payload(alert)
    payload["url"] = "/alerts/0000000"
    payload["tag"] = "alert-0000000"
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def to_cap(session: Session, alert: Alert, base_url: str) -> bytes:
    """The alert as a CAP 1.2 document: an imported one as received, Eclor's own as written here."""
    if alert.cap_xml:
        return alert.cap_xml.encode("utf-8")
    base = base_url.rstrip("/")
    names = commune_names(session)
    codes = unpack(alert.communes) or sorted(names)
    references: list[cap.CapReference] = []
    if alert.cap_references:
        for token in alert.cap_references.split():
            sender, identifier, sent = token.split(",")
            references.append(cap.CapReference(sender, identifier, cap.parse_time(sent)))
    link = alert.link or f"/alerts/{alert.id}"
    clean = xmltext.clean  # what people typed may hold characters XML cannot carry
    info = cap.CapInfo(
        language="fr-FR",
        category=[alert.category],
        event=clean(alert.event),  # type: ignore[list-item]
        urgency=alert.cap_urgency,
        severity=alert.severity,
        certainty=alert.certainty,  # type: ignore[arg-type]
        onset=alert.onset_at,
        expires=alert.expires_at.replace(microsecond=0) if alert.expires_at else None,
        senderName=clean(alert.sender_name) or None,
        headline=clean(alert.title),
        description=clean(alert.body) or None,
        instruction=clean(alert.instruction) or None,
        web=link if link.startswith("https://") else base + link,
        areas=[
            cap.CapArea(
                areaDesc=clean(alert.area_desc) or _("Tout le territoire"),
                geocodes=[cap.CapValue("INSEE", code) for code in codes],
            )
        ],
    )
    document = cap.CapAlert(
        identifier=alert.identifier,
        sender=alert.sender,
        sent=alert.sent_at,
        status=alert.status,  # type: ignore[arg-type]
        msgType=alert.msg_type,
        scope=alert.scope,
        note=clean(alert.note) if alert.note else alert.note,
        references=references,  # type: ignore[arg-type]
        infos=[info],
    )
    return cap.to_xml(document)


# --- who gets a message -------------------------------------------------------------------------


def _matching(alert: Alert) -> Any:
    """SELECT of the subscription ids an alert's topic and communes reach."""
    conditions = [PushSubscription.topics.like(f"%,{alert.topic},%")]  # type: ignore[attr-defined]
    communes = unpack(alert.communes)
    if communes:
        conditions.append(
            or_(
                PushSubscription.communes == ",",
                *[PushSubscription.communes.like(f"%,{c},%") for c in communes],
            )
        )  # type: ignore[attr-defined]
    return select(PushSubscription.id).where(*conditions)


def _got_thread(alert: Alert) -> Any:
    """SELECT of the subscription ids that got (or may have got) an earlier message of the chain."""
    earlier = select(Alert.id).where(Alert.thread_id == alert.thread_id, Alert.id != alert.id)
    return select(PushDelivery.subscription_id).where(
        PushDelivery.alert_id.in_(earlier.scalar_subquery()),  # type: ignore[union-attr]
        PushDelivery.status.in_(("delivered", "unknown", "sending")),  # type: ignore[attr-defined]
        PushDelivery.subscription_id.is_not(None),  # type: ignore[union-attr]
    )


def _plan(session: Session, key: str, targets: Any, alert_id: int | None) -> int:
    """Insert one pending delivery per target subscription not planned yet for ``key``."""
    ids = targets.subquery()
    already = exists().where(
        PushDelivery.message_key == key, PushDelivery.subscription_id == ids.c[0]
    )
    now = utcnow()
    when = PushDelivery.__table__.c.next_at.type  # type: ignore[attr-defined]
    query = (
        select(
            literal(key),
            literal(alert_id, type_=Integer()),
            ids.c[0],
            literal("pending"),
            literal(0),
            literal(now, type_=when),
            literal(""),
            literal(now, type_=when),
        )
        .where(~already)
        .distinct()
    )
    result = session.execute(
        insert(PushDelivery).from_select(
            [
                "message_key",
                "alert_id",
                "subscription_id",
                "status",
                "attempts",
                "next_at",
                "detail",
                "created_at",
            ],
            query,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One message to fan out: its key in ``push_deliveries`` and how to send it."""

    key: str
    payload: dict[str, Any]
    ttl_s: int
    urgency: str
    topic: str | None
    expires_at: datetime | None
    alert_id: int | None = None


@dataclass
class _Due:
    delivery_id: int
    subscription_id: int
    attempts: int
    endpoint: str
    p256dh: str
    auth: str


def _recover(engine: Engine, key: str) -> int:
    """Rows left ``sending`` by a worker that died: ``unknown``, never sent again."""
    with write_session(engine) as session:
        now = utcnow()
        n = session.execute(
            update(PushDelivery)
            .where(PushDelivery.message_key == key, PushDelivery.status == "sending")
            .values(
                status="unknown",
                finished_at=now,
                detail="worker stopped before the answer was recorded",
            )
        ).rowcount
        session.execute(
            update(PushDelivery)
            .where(
                PushDelivery.message_key == key,
                PushDelivery.status.in_(DUE),  # type: ignore[attr-defined]
                PushDelivery.subscription_id.is_(None),
            )  # type: ignore[union-attr]
            .values(status="gone", finished_at=now, detail="subscription deleted")
        )
    if n:
        log.warning(
            "push deliveries of a dead worker marked unknown", extra={"key": key, "count": n}
        )
    return int(n or 0)


def _claim(engine: Engine, out: Outgoing, limit: int) -> list[_Due] | None:
    """Mark up to ``limit`` due rows ``sending`` (or ``held``) and commit; None when nothing is due."""
    with write_session(engine) as session:
        now = utcnow()
        if out.expires_at is not None and now >= out.expires_at:
            session.execute(
                update(PushDelivery)
                .where(PushDelivery.message_key == out.key, PushDelivery.status.in_(DUE))  # type: ignore[attr-defined]
                .values(status="expired", finished_at=now)
            )
            return None
        rows = session.execute(
            select(
                PushDelivery.id,
                PushDelivery.subscription_id,
                PushDelivery.attempts,
                PushSubscription.endpoint,
                PushSubscription.p256dh,
                PushSubscription.auth,
                PushSubscription.quiet_start,
                PushSubscription.quiet_end,
            )
            .join(PushSubscription, PushSubscription.id == PushDelivery.subscription_id)
            .where(
                PushDelivery.message_key == out.key,
                PushDelivery.status.in_(DUE),  # type: ignore[attr-defined]
                PushDelivery.next_at <= now,
            )
            .limit(limit)  # no ORDER BY: the index gives due rows without sorting every pending one
        ).all()
        if not rows:
            return None
        due: list[_Due] = []
        held: dict[datetime, list[int]] = {}
        for row in rows:
            until = (
                None if out.urgency == "high" else quiet_until(now, row.quiet_start, row.quiet_end)
            )
            if until is not None:
                held.setdefault(until, []).append(row.id)
            else:
                due.append(
                    _Due(
                        row.id,
                        row.subscription_id,
                        row.attempts + 1,
                        row.endpoint,
                        row.p256dh,
                        row.auth,
                    )
                )
        for until, ids in held.items():
            session.execute(
                update(PushDelivery)
                .where(PushDelivery.id.in_(ids))  # type: ignore[union-attr]
                .values(status="held", next_at=until)
            )
        if due:
            session.execute(
                update(PushDelivery)
                .where(PushDelivery.id.in_([d.delivery_id for d in due]))  # type: ignore[union-attr]
                .values(status="sending", attempts=PushDelivery.attempts + 1, sent_at=now)
            )
        return due


def _record(engine: Engine, results: list[tuple[_Due, webpush.PushOutcome]]) -> None:
    """Write every answer of a batch in one transaction."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    gone: list[int] = []
    ok: list[int] = []
    failing: list[int] = []
    for due, outcome in results:
        kind = outcome.kind
        values: dict[str, Any] = {
            "id": due.delivery_id,
            "http_status": outcome.status,
            "detail": (outcome.detail or "")[:200],
            "finished_at": now,
        }
        if kind is webpush.Outcome.DELIVERED:
            values["status"] = "delivered"
            ok.append(due.subscription_id)
        elif kind is webpush.Outcome.GONE:
            values["status"] = "gone"
            gone.append(due.subscription_id)
        elif kind is webpush.Outcome.TOO_LARGE:
            values["status"] = "too_large"
        elif kind is webpush.Outcome.REJECTED:
            values["status"] = "rejected"
            failing.append(due.subscription_id)
        elif due.attempts >= MAX_TRIES:
            values["status"] = "failed"
            failing.append(due.subscription_id)
        else:
            delay = webpush.retry_delay(outcome, due.attempts - 1, base=RETRY_BASE_S)
            values.update(
                status="retry", finished_at=None, next_at=now + timedelta(seconds=max(0.0, delay))
            )
            failing.append(due.subscription_id)
        rows.append(values)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for values in rows:
        key = tuple(sorted((k, v) for k, v in values.items() if k != "id"))
        groups.setdefault(key, []).append(values["id"])
    with write_session(engine) as session:
        for (
            key,
            ids,
        ) in groups.items():  # one UPDATE per kind of answer (most of a batch: "delivered")
            session.execute(update(PushDelivery).where(PushDelivery.id.in_(ids)).values(dict(key)))  # type: ignore[union-attr]
        if ok:
            session.execute(
                update(PushSubscription)
                .where(PushSubscription.id.in_(ok))  # type: ignore[union-attr]
                .values(last_success_at=now)
            )
        if failing:
            session.execute(
                update(PushSubscription)
                .where(PushSubscription.id.in_(failing))  # type: ignore[union-attr]
                .values(last_failure_at=now)
            )
        if gone:
            session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))  # type: ignore[union-attr]
    if gone:
        log.info("push subscriptions gone and deleted", extra={"count": len(gone)})


def _refuse_all(engine: Engine, key: str, status: str, detail: str) -> None:
    with write_session(engine) as session:
        session.execute(
            update(PushDelivery)
            .where(PushDelivery.message_key == key, PushDelivery.status.in_(DUE))  # type: ignore[attr-defined]
            .values(status=status, detail=detail[:200], finished_at=utcnow())
        )


def _next_due(engine: Engine, key: str) -> datetime | None:
    with Session(engine) as session:
        return session.scalar(
            select(func.min(PushDelivery.next_at)).where(
                PushDelivery.message_key == key, PushDelivery.status.in_(DUE)
            )
        )  # type: ignore[attr-defined]


def _sender(settings: Any) -> webpush.PushSender:
    private = vapid_private_key(settings)
    if not private:
        raise RuntimeError("no VAPID key: run `eclor vapid` or set ECLOR_VAPID_PRIVATE_KEY")
    return webpush.PushSender(private, settings.vapid_subject, max_in_flight=FANOUT_CONCURRENCY)


async def send_outgoing(ctx: JobContext, out: Outgoing, *, batch: int = FANOUT_BATCH) -> None:
    """Send ``out`` to every planned delivery row that is due; re-queue the job for the rest.

    One pipeline: rows are claimed (marked ``sending``) a batch at a time as
    the sender asks for more subscriptions, so claiming, sending and
    recording overlap; answers are written a batch at a time.
    """
    engine = ctx.engine
    await asyncio.to_thread(_recover, engine, out.key)
    try:
        webpush.encode_payload(out.payload)
    except webpush.PayloadTooLarge as exc:
        log.error("push message refused before sending", extra={"key": out.key, "bytes": exc.size})
        await asyncio.to_thread(_refuse_all, engine, out.key, "too_large", str(exc))
        return
    first = await asyncio.to_thread(_next_due, engine, out.key)
    if first is not None and first <= utcnow():
        await _pipeline(ctx, out, batch)
    next_at = await asyncio.to_thread(_next_due, engine, out.key)
    if next_at is not None:
        delay = max(0.5, (next_at - utcnow()).total_seconds())
        raise RetryLater(delay, f"push {out.key}: deliveries waiting (quiet hours or retry)")


async def _pipeline(ctx: JobContext, out: Outgoing, batch: int) -> None:
    engine = ctx.engine
    allow_loopback = not ctx.settings.production
    by_endpoint: dict[str, _Due] = {}
    answers: list[tuple[_Due, webpush.PushOutcome]] = []

    async def due_subscriptions() -> Any:
        while True:
            if not await asyncio.to_thread(ctx.extend_lease):
                log.warning("fan-out stopped: another worker holds the job", extra={"key": out.key})
                return
            due = await asyncio.to_thread(_claim, engine, out, batch)
            if due is None:
                return
            for item in due:
                try:
                    info = webpush.PushSubscriptionInfo(
                        item.endpoint, item.p256dh, item.auth, allow_loopback
                    )
                except webpush.InvalidSubscription as exc:
                    answers.append(
                        (item, webpush.PushOutcome(webpush.Outcome.REJECTED, None, detail=str(exc)))
                    )
                    continue
                by_endpoint[info.endpoint] = item
                yield info

    async with _sender(ctx.settings) as sender:
        async for result in sender.iter_send(
            due_subscriptions(), out.payload, ttl=out.ttl_s, urgency=out.urgency, topic=out.topic
        ):  # type: ignore[arg-type]
            answers.append((by_endpoint.pop(result.subscription.endpoint), result.outcome))
            if len(answers) >= batch:
                chunk = answers[:]
                answers.clear()
                await asyncio.to_thread(_record, engine, chunk)
    if answers:
        await asyncio.to_thread(_record, engine, answers)


def _alert_outgoing(engine: Engine, alert_id: int) -> tuple[Outgoing, bool] | None:
    """Plan the deliveries of an alert (once) and describe the message; None if nothing to send."""
    with write_session(engine) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return None
        key = f"alert:{alert.id}"
        if alert.msg_type == "Cancel":
            targets = _got_thread(alert)
        elif alert.msg_type == "Update":
            targets = _matching(alert).union(_got_thread(alert))
        else:
            targets = _matching(alert)
        if alert.fanout_done_at is None and alert.state in ("active", "cancelled"):
            _plan(session, key, targets, alert.id)
        topic = f"alert-{alert.thread_id}" if alert.topic not in LATEST_ONLY_TOPICS else alert.topic
        out = Outgoing(
            key=key,
            payload=alert_payload(alert),
            ttl_s=alert.ttl_s,
            urgency=alert.push_urgency,
            topic=topic,
            expires_at=alert.expires_at,
            alert_id=alert.id,
        )
        return out, alert.fanout_done_at is not None


def _finish_alert(engine: Engine, alert_id: int) -> None:
    with write_session(engine) as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.fanout_done_at.is_(None))  # type: ignore[union-attr]
            .values(fanout_done_at=utcnow())
        )


def _email_alert(ctx: JobContext, alert_id: int) -> None:
    """The e-mail channel of an alert (immediate or digest), for the accounts that chose it."""
    from app import preferences

    with write_session(ctx.engine) as session:
        alert = session.get(Alert, alert_id)
        if (
            alert is not None
            and alert.fanout_done_at is None
            and alert.state in ("active", "cancelled")
        ):
            preferences.email_alert(session, alert, ctx.settings.base_url)


async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Fan an alert out to its subscriptions (the ``push.alert`` job)."""
    planned = await asyncio.to_thread(_alert_outgoing, ctx.engine, int(payload["alert_id"]))
    if planned is None:
        return
    out, _done = planned
    await asyncio.to_thread(_email_alert, ctx, int(payload["alert_id"]))
    await send_outgoing(ctx, out)
    await asyncio.to_thread(_finish_alert, ctx.engine, int(payload["alert_id"]))


async def deliver_personal(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send a personal notification to the person's devices that chose its topic (``push.user``)."""
    key = f"user:{ctx.job.id}"
    user_id = int(payload["user_id"])
    topic = str(payload["topic"])

    def plan() -> None:
        with write_session(ctx.engine) as session:
            targets = select(PushSubscription.id).where(
                PushSubscription.user_id == user_id, PushSubscription.topics.like(f"%,{topic},%")
            )  # type: ignore[attr-defined]
            _plan(session, key, targets, None)

    await asyncio.to_thread(plan)
    now = utcnow()
    ttl = max(cap.MIN_TTL, min(cap.MAX_TTL, int(payload.get("ttl_s", 86_400))))
    body = str(payload.get("body", ""))
    if len(body) > BODY_MAX:
        body = body[: BODY_MAX - 1] + "…"
    message = {
        "title": str(payload.get("title", "Eclor"))[: TITLE_MAX * 2],
        "body": body,
        "url": str(payload.get("url", "/")),
        "tag": f"{topic}-{ctx.job.id}",
        "urgency": payload.get("urgency", "normal"),
        "lang": "fr",
    }
    urgency = payload.get("urgency", "normal")
    if urgency not in ("very-low", "low", "normal", "high"):
        urgency = "normal"
    queued_at = datetime.fromisoformat(payload["queued_at"]) if payload.get("queued_at") else now
    expires_at = queued_at + timedelta(seconds=ttl)
    out = Outgoing(
        key=key,
        payload=message,
        ttl_s=ttl_for(expires_at, now),
        urgency=urgency,
        topic=None,
        expires_at=expires_at,
    )
    await send_outgoing(ctx, out)


def push_channel(ctx: JobContext, message: Message) -> bool:
    """Hand a personal notification to the ``push.user`` job (once per notification job).

    Returns whether the person has a device for the topic (else ``app.notify`` falls back to e-mail).
    """
    if message.topic not in TOPICS:
        return False
    with write_session(ctx.engine) as session:
        has_device = session.scalar(
            select(func.count())
            .select_from(PushSubscription)
            .where(
                PushSubscription.user_id == message.user_id,
                PushSubscription.topics.like(f"%,{message.topic},%"),
            )
        )  # type: ignore[attr-defined]
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
                "queued_at": utcnow().isoformat(),
            },
            dedupe_key=f"push.user:{ctx.job.id}",
            max_attempts=20,
        )
    return True


def delivery_counts(session: Session, alert_id: int) -> dict[str, int]:
    rows = session.execute(
        select(PushDelivery.status, func.count())
        .where(PushDelivery.alert_id == alert_id)
        .group_by(PushDelivery.status)
    ).all()
    return {status: n for status, n in rows}


def home_panel(session: Session, user: Any) -> dict[str, Any] | None:
    """The home page's alerts panel: the current alerts of the person's commune (or all)."""
    commune = None
    if user is not None:
        commune = session.scalar(select(User.commune_insee).where(User.id == user.id))
    alerts = active_alerts(session, commune=commune, limit=3)
    return {"alerts": alerts, "commune": commune, "topics": TOPICS}
