"""Publishing alerts: the staff form, ``eclor alert`` and a CAP import all go through here.

One path publishes an alert, whoever starts it: the staff form, ``eclor
alert`` and a CAP import (``app.alerts.cap_alerts``) all call :func:`publish`
(or :func:`amend` for an Update or a Cancel), which writes the ``alerts`` row
and, in the same transaction, a ``push.alert`` job. The worker runs that job
(``app.alerts.fanout.deliver``). Subscriptions live in
``app.alerts.subscriptions``, topics and limits in ``app.alerts.topics``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from app import events
from app import push as webpush
from app.alerts import cap, cap_areas
from app.alerts.topics import (
    BODY_MAX,
    DUE,
    TITLE_MAX,
    TOPIC_CATEGORY,
    TOPICS,
    URGENCIES,
    URGENCY_CAP,
    AlertError,
    commune_names,
    pack,
    topic_label,
)
from app.db import saved_id, utcnow
from app.i18n import gettext as _
from app.jobs import enqueue
from app.models.accounts import User
from app.models.push import (
    Alert,
    PushDelivery,
)
from app.pwa import NOTIFICATION_ICON
from app.territories import of_session

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
    territory_id: int | None = None,
) -> AlertInput:
    """Check what a person typed; raise :class:`AlertError` naming the field. The communes must be
    the territory's (``territory_id``; None: any commune of the install)."""
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
    known = set(commune_names(session, territory_id=territory_id))
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
    if ttl_s is not None and not cap_areas.MIN_TTL <= ttl_s <= cap_areas.MAX_TTL:
        raise AlertError(
            _("Durée de validité invalide ({a} à {b} secondes).").format(
                a=cap_areas.MIN_TTL, b=cap_areas.MAX_TTL
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


def _payload_dict(
    title: str, body: str, url: str, thread_id: int, urgency: str, severity: str
) -> dict[str, Any]:
    """The push payload: everything the service worker needs to show the notification without a
    network request (title, body, the page it opens, the tag that replaces an earlier one of the
    thread, urgency and CAP severity, the icon's precached URL, the language)."""
    return {
        "title": title,
        "body": body,
        "url": url,
        "tag": f"alert-{thread_id}",
        "urgency": urgency,
        "severity": severity,
        "icon": NOTIFICATION_ICON,
        "lang": "fr",
    }


def _payload_size(data: AlertInput) -> int:
    import json

    payload = _payload_dict(
        _("Mise à jour : ") + data.title,
        data.body,
        "/alerts/0000000",
        9_999_999,
        data.urgency,
        max((severity for _u, severity in URGENCY_CAP.values()), key=len),
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
        alert.severity,
    )


def ttl_for(
    expires_at: datetime | None, now: datetime, default: int = cap_areas.DEFAULT_TTL
) -> int:
    if expires_at is None:
        return default
    return max(cap_areas.MIN_TTL, min(cap_areas.MAX_TTL, int((expires_at - now).total_seconds())))


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
    territory_id: int | None = None,
) -> Alert:
    """Write a new alert and queue its fan-out, in the caller's transaction.

    ``territory_id``: the territory that publishes it (the request's); None: the first one."""
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
    if territory_id:
        alert.territory_id = territory_id
    session.add(alert)
    session.flush()
    alert.thread_id = alert.id
    queue_fanout(session, alert)
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
    thread = original.thread_id or saved_id(original)
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
    return attach_update(session, original, alert, thread)


def attach_update(session: Session, original: Alert, alert: Alert, thread: int) -> Alert:
    alert.thread_id = thread
    alert.references_id = original.id
    alert.territory_id = original.territory_id  # an update or a cancel stays in its territory
    session.add(alert)
    session.flush()
    chain = select(col(Alert.id)).where(col(Alert.thread_id) == thread, col(Alert.id) != alert.id)
    session.execute(
        update(Alert)
        .where(col(Alert.id).in_(chain.scalar_subquery()))
        .values(state="cancelled" if alert.msg_type == "Cancel" else "updated")
    )
    # What of the chain was not sent yet is replaced by this message.
    session.execute(
        update(PushDelivery)
        .where(
            col(PushDelivery.alert_id).in_(chain.scalar_subquery()),
            col(PushDelivery.status).in_(DUE),
        )
        .values(status="superseded", finished_at=utcnow())
    )
    queue_fanout(session, alert)
    return alert


def _area_desc(session: Session, communes: Sequence[str]) -> str:
    if not communes:
        return _("Tout le territoire")
    names = commune_names(session, communes=communes)
    return ", ".join(names.get(c, c) for c in communes)[:500]


def queue_fanout(session: Session, alert: Alert) -> None:
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
        territory_id=alert.territory_id,
    )


def of_territory(query: Any, territory_id: int | None) -> Any:
    """``query`` of alerts kept to one territory's (None or 0: an install without territories)."""
    return query.where(col(Alert.territory_id) == territory_id) if territory_id else query


def active_alerts(
    session: Session,
    *,
    commune: str | None = None,
    now: datetime | None = None,
    limit: int = 20,
    territory_id: int | None = None,
) -> list[Alert]:
    """Alerts in force now (newest first) in a territory, for one commune (those for the whole
    territory included)."""
    now = now or utcnow()
    query = select(Alert).where(
        col(Alert.state) == "active",
        col(Alert.msg_type) != "Cancel",
        or_(col(Alert.expires_at).is_(None), col(Alert.expires_at) > now),
    )
    query = of_territory(query, territory_id)
    if commune:
        query = query.where(
            or_(col(Alert.communes) == ",", col(Alert.communes).like(f"%,{commune},%"))
        )
    order = {"high": 0, "normal": 1, "low": 2}
    rows = list(session.scalars(query.order_by(col(Alert.sent_at).desc()).limit(limit)).all())
    rows.sort(key=lambda a: (order.get(a.push_urgency, 3), -a.sent_at.timestamp()))
    return rows


def thread_of(session: Session, alert: Alert) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .where(col(Alert.thread_id) == (alert.thread_id or alert.id))
            .order_by(col(Alert.sent_at), col(Alert.id))
        ).all()
    )


def latest_of_thread(session: Session, alert: Alert) -> Alert:
    return thread_of(session, alert)[-1]


def home_panel(session: Session, user: Any) -> dict[str, Any] | None:
    """The home page's alerts panel: the current alerts of the person's commune (or all)."""
    commune = None
    if user is not None:
        commune = session.scalar(select(col(User.commune_insee)).where(col(User.id) == user.id))
    alerts = active_alerts(session, commune=commune, limit=3, territory_id=of_session(session).id)
    return {"alerts": alerts, "commune": commune, "topics": TOPICS}
