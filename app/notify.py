"""Telling a person that something happened to them (their report, booking, order, an alarm...).

``notify()`` queues one ``notify.user`` job per recipient in the caller's
transaction. The job hands the message to every channel the domains declare (Web Push
is one) and sends an e-mail when the message asks for one, or when no
channel reached the person (no device subscribed), so every domain tells
people through one path. A message may skip the device channels (``push=False``: e-mail
only), reach every device of the person whatever topics the device chose (``any_device``: the
choice was made elsewhere, e.g. a staff member's alarm preferences), or go into the person's
daily digest instead (``digest=True``: one e-mail a day, sent by the ``notify.digest`` job) at
:data:`DIGEST_HOUR` on the clock of the person's territory (:func:`person_zone`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import territories
from app.db import utcnow, write_session
from app.i18n import gettext as _
from app.jobs import JobContext, enqueue
from app.mail import send_mail
from app.models.accounts import User
from app.models.push import NotificationDigestItem, PushSubscription

DIGEST_HOUR = 18  # local time of the daily digest, in the person's territory
SIGNATURE = "\n\n-- \nEclor, Pays-Haut Val d'Alzette\n"


@dataclass(frozen=True)
class Message:
    user_id: int
    topic: str  # e.g. "my_reports", "carpool", "local_shops"
    title: str  # already in the recipient's language (French by default)
    body: str
    url: str  # a path inside Eclor, e.g. "/reports/12"
    email: bool = True
    urgency: str = "normal"
    ttl_s: int = 86_400
    push: bool = True  # False: e-mail only, no device channel
    any_device: bool = False  # every device of the person, whatever topics it chose


Channel = Callable[[JobContext, Message], bool | None]  # True: the person was reached
# Delivery channels besides e-mail (e.g. ``push``), filled by ``app.domains.install``.
CHANNELS: dict[str, Channel] = {}


def install(channels: Mapping[str, Channel]) -> None:
    CHANNELS.clear()
    CHANNELS.update(channels)


def notify(
    session: Session,
    user_ids: Iterable[int],
    *,
    topic: str,
    title: str,
    body: str,
    url: str,
    email: bool = True,
    urgency: str = "normal",
    ttl_s: int = 86_400,
    dedupe: str | None = None,
    push: bool = True,
    any_device: bool = False,
    digest: bool = False,
) -> None:
    """Queue a notification for each user (once per user and ``dedupe`` key, if given).

    ``digest``: a line in each person's next daily digest instead (once per ``dedupe`` key)."""
    for uid in sorted(set(user_ids)):
        if digest:
            add_to_digest(
                session,
                uid,
                key=dedupe or f"{topic}:{url}",
                title=title,
                body=body,
                url=url,
            )
            continue
        payload: dict[str, Any] = {
            "user_id": uid,
            "topic": topic,
            "title": title,
            "body": body,
            "url": url,
            "email": email,
            "urgency": urgency,
            "ttl_s": ttl_s,
            "push": push,
            "any_device": any_device,
        }
        enqueue(
            session, "notify.user", payload, dedupe_key=f"notify:{dedupe}:{uid}" if dedupe else None
        )


def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    from sqlalchemy.orm import Session as OrmSession

    message = Message(**payload)
    with OrmSession(ctx.engine) as session:
        user = session.get(User, message.user_id)
        if user is None or not user.is_active:
            return  # the account was deleted meanwhile: nothing to send
        email = user.email
    reached = False
    for _name, fn in sorted(CHANNELS.items()) if message.push else ():
        reached = bool(fn(ctx, message)) or reached
    if message.email or not reached:
        # A message meant for a device only (``email=False``) still reaches a person who has no
        # device for it (no JavaScript, permission refused, iPhone without the app): by e-mail.
        base = ctx.settings.base_url.rstrip("/")
        text = f"{message.body}\n\n{base}{message.url}" + SIGNATURE
        with write_session(ctx.engine) as session:
            send_mail(session, email, message.title, text, dedupe_key=f"mail:notify:{ctx.job.id}")


# --- the daily digest ---------------------------------------------------------------------------


def person_zone(session: Session, user_id: int) -> ZoneInfo:
    """The time zone a person lives by: their territory's. The territory of the device they last
    subscribed (a push subscription belongs to the host it was made on), else the one they work for
    (staff), else the one the session acts for (the host of the request), else the default one."""
    subscribed = session.scalars(
        select(col(PushSubscription.territory_id))
        .where(col(PushSubscription.user_id) == user_id)
        .order_by(col(PushSubscription.updated_at).desc(), col(PushSubscription.id).desc())
        .limit(1)
    ).first()
    if subscribed is None:
        user = session.get(User, user_id)
        subscribed = user.territory_id if user is not None else None
    return territories.zone(session, subscribed)


def _next_digest_at(now: datetime, zone: ZoneInfo) -> datetime:
    local = now.astimezone(zone)
    at = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if at <= local:
        at = (local + timedelta(days=1)).replace(
            hour=DIGEST_HOUR, minute=0, second=0, microsecond=0
        )
    return at.astimezone(UTC)


def add_to_digest(
    session: Session, user_id: int, *, key: str, title: str, body: str, url: str
) -> bool:
    """Put a line in the person's next digest (once per key) and make sure the digest is planned."""
    exists = session.scalar(
        select(col(NotificationDigestItem.id)).where(
            col(NotificationDigestItem.user_id) == user_id, col(NotificationDigestItem.key) == key
        )
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                NotificationDigestItem(
                    user_id=user_id, key=key, title=title[:200], body=body, url=url
                )
            )
    except IntegrityError:
        return False
    at = _next_digest_at(utcnow(), person_zone(session, user_id))
    enqueue(
        session,
        "notify.digest",
        {"user_id": user_id},
        run_at=at,
        dedupe_key=f"notify.digest:{user_id}:{at:%Y%m%d}",
    )
    return True


def send_digest(session: Session, user_id: int, base_url: str, now: datetime | None = None) -> int:
    """Send the person's pending digest lines as one e-mail; return how many lines it had."""
    now = now or utcnow()
    user = session.get(User, user_id)
    items = list(
        session.scalars(
            select(NotificationDigestItem)
            .where(
                col(NotificationDigestItem.user_id) == user_id,
                col(NotificationDigestItem.sent_at).is_(None),
            )
            .order_by(col(NotificationDigestItem.id))
        ).all()
    )
    if not items or user is None or not user.is_active:
        return 0
    base = base_url.rstrip("/")
    parts = [f"• {item.title}\n{item.body}\n{base}{item.url}" for item in items]
    intro = _("Ce qui s’est passé depuis votre dernier résumé :")
    send_mail(
        session,
        user.email,
        _("Eclor : votre résumé du jour"),
        intro + "\n\n" + "\n\n".join(parts) + SIGNATURE,
        dedupe_key=f"mail:digest:{user_id}:{items[-1].id}",
    )
    session.execute(
        update(NotificationDigestItem)
        .where(col(NotificationDigestItem.id).in_([i.id for i in items]))
        .values(sent_at=now)
    )
    return len(items)


def deliver_digest(ctx: JobContext, payload: dict[str, Any]) -> None:
    with write_session(ctx.engine) as session:
        send_digest(session, int(payload["user_id"]), ctx.settings.base_url)
