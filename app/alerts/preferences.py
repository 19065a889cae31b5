"""A person's notification choices: they belong to the account, devices follow them.

``/me/push`` (routes/push.py) reads and saves them with no device needed;
``app.alerts.subscriptions.save_subscription`` gives a new device the account's choices; the
``push.alert`` job calls :func:`email_alert` for the e-mail channel
(immediate, or one daily digest sent by the ``notify.digest`` job).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, or_, update
from sqlmodel import Session, col, select

from app.alerts import publish as alerts
from app.alerts import topics as alerts_topics
from app.alerts.topics import pack
from app.db import utcnow
from app.i18n import gettext as _
from app.mail import send_mail
from app.notify import SIGNATURE, add_to_digest, deliver_digest, send_digest
from app.models.accounts import User
from app.models.push import (
    EMAIL_MODES,
    NotificationPreferences,
    PushSubscription,
)

__all__ = ["add_to_digest", "deliver_digest", "send_digest"]  # the digest lives in app.notify

EMAIL_MODE_LABELS = {
    "off": "Pas d’e-mail",
    "immediate": "Un e-mail à chaque alerte",
    "daily": "Un résumé par jour (vers 18 h)",
}


@dataclass
class Choices:
    topics: list[str] = field(default_factory=lambda: list(alerts_topics.DEFAULT_TOPICS))
    communes: list[str] = field(default_factory=list)
    quiet_start: int | None = None
    quiet_end: int | None = None
    email_mode: str = "off"
    saved: bool = False


def load(session: Session, user_id: int) -> Choices:
    """The account's choices (the defaults when it never saved any)."""
    row = session.get(NotificationPreferences, user_id)
    if row is None:
        return Choices()
    return Choices(
        topics=alerts_topics.unpack(row.topics),
        communes=alerts_topics.unpack(row.communes),
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        email_mode=row.email_mode,
        saved=True,
    )


def save(session: Session, user_id: int, choices: Choices) -> int:
    """Store the account's choices and copy them to every device it has; return how many devices."""
    if choices.email_mode not in EMAIL_MODES:
        raise ValueError(choices.email_mode)
    if choices.quiet_start is None or choices.quiet_end is None:
        choices.quiet_start = choices.quiet_end = None
    row = session.get(NotificationPreferences, user_id)
    if row is None:
        row = NotificationPreferences(user_id=user_id)
    row.topics, row.communes = (
        alerts_topics.pack(choices.topics),
        alerts_topics.pack(choices.communes),
    )
    row.quiet_start, row.quiet_end = choices.quiet_start, choices.quiet_end
    row.email_mode = choices.email_mode
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    return update_preferences(
        session, user_id, choices.topics, choices.communes, choices.quiet_start, choices.quiet_end
    )


def follow_account(session: Session, device: PushSubscription, data: dict[str, Any]) -> None:
    """A device that subscribes: choices it brings become the account's; otherwise it takes the account's."""
    current = load(session, device.user_id)
    if "topics" in data or "communes" in data or "quiet_start" in data:
        current.topics = alerts_topics.unpack(device.topics)
        current.communes = alerts_topics.unpack(device.communes)
        if "quiet_start" in data or "quiet_end" in data:
            current.quiet_start, current.quiet_end = device.quiet_start, device.quiet_end
        save(session, device.user_id, current)
        return
    if current.saved:
        device.topics, device.communes = (
            alerts_topics.pack(current.topics),
            alerts_topics.pack(current.communes),
        )
        device.quiet_start, device.quiet_end = current.quiet_start, current.quiet_end
    else:
        save(
            session,
            device.user_id,
            Choices(
                topics=alerts_topics.unpack(device.topics),
                communes=alerts_topics.unpack(device.communes),
                quiet_start=device.quiet_start,
                quiet_end=device.quiet_end,
            ),
        )


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
    result = session.exec(
        update(PushSubscription)
        .where(col(PushSubscription.user_id) == user_id)
        .values(
            topics=pack(topics),
            communes=pack(communes),
            quiet_start=quiet_start,
            quiet_end=quiet_end,
            updated_at=utcnow(),
        )
    )
    return int(result.rowcount or 0)


# --- the e-mail channel ---------------------------------------------------------------------------


def _alert_recipients(session: Session, alert: Any) -> list[tuple[int, str, str]]:
    """(user id, e-mail, mode) of the active accounts whose e-mail choice covers the alert."""
    conditions: list[ColumnElement[bool]] = [
        col(NotificationPreferences.email_mode).in_(("immediate", "daily")),
        col(NotificationPreferences.topics).like(f"%,{alert.topic},%"),
    ]
    communes = alerts_topics.unpack(alert.communes)
    if communes:
        conditions.append(
            or_(
                col(NotificationPreferences.communes) == ",",
                *[col(NotificationPreferences.communes).like(f"%,{c},%") for c in communes],
            )
        )
    rows = session.execute(
        select(col(User.id), col(User.email), col(NotificationPreferences.email_mode))
        .join(NotificationPreferences, col(NotificationPreferences.user_id) == col(User.id))
        .where(col(User.is_active).is_(True), *conditions)
        .order_by(col(User.id))
    ).all()
    return [(int(uid), str(email), str(mode)) for uid, email, mode in rows]


def email_alert(session: Session, alert: Any, base_url: str) -> int:
    """The e-mail channel of an alert: one e-mail now, or a digest line; once per person. Returns how many."""
    payload = alerts.alert_payload(alert)
    link = base_url.rstrip("/") + payload["url"]
    count = 0
    for user_id, email, mode in _alert_recipients(session, alert):
        if mode == "immediate":
            text = (
                f"{alert.body}\n\n{alert.instruction}\n\n{link}".replace("\n\n\n\n", "\n\n")
                + SIGNATURE
            )
            send_mail(
                session,
                email,
                _("Alerte Eclor : {title}").format(title=payload["title"]),
                text,
                dedupe_key=f"mail:alert:{alert.id}:{user_id}",
            )
            count += 1
        elif add_to_digest(
            session,
            user_id,
            key=f"alert:{alert.id}",
            title=payload["title"],
            body=alert.body,
            url=payload["url"],
        ):
            count += 1
    return count
