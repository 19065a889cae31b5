"""Telling a person that something happened to them (their report, booking, order...).

``notify()`` queues one ``notify.user`` job per recipient in the caller's
transaction. The job hands the message to every channel the domains declare (Web Push
is one) and sends an e-mail when the message asks for one, or when no
channel reached the person (no device subscribed), so every domain tells
people through one path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.jobs import JobContext, enqueue


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
) -> None:
    """Queue a notification for each user (once per user and ``dedupe`` key, if given)."""
    for uid in sorted(set(user_ids)):
        payload: dict[str, Any] = {
            "user_id": uid,
            "topic": topic,
            "title": title,
            "body": body,
            "url": url,
            "email": email,
            "urgency": urgency,
            "ttl_s": ttl_s,
        }
        enqueue(
            session, "notify.user", payload, dedupe_key=f"notify:{dedupe}:{uid}" if dedupe else None
        )


def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    from sqlalchemy.orm import Session as OrmSession

    from app.models.accounts import User

    message = Message(**payload)
    with OrmSession(ctx.engine) as session:
        user = session.get(User, message.user_id)
        if user is None or not user.is_active:
            return  # the account was deleted meanwhile: nothing to send
        email = user.email
    reached = False
    for _name, fn in sorted(CHANNELS.items()):
        reached = bool(fn(ctx, message)) or reached
    if message.email or not reached:
        # A message meant for a device only (``email=False``) still reaches a person who has no
        # device for it (no JavaScript, permission refused, iPhone without the app): by e-mail.
        from app.db import write_session
        from app.mail import send_mail

        base = ctx.settings.base_url.rstrip("/")
        text = f"{message.body}\n\n{base}{message.url}\n\n-- \nEclor, Pays-Haut Val d'Alzette"
        with write_session(ctx.engine) as session:
            send_mail(session, email, message.title, text, dedupe_key=f"mail:notify:{ctx.job.id}")
