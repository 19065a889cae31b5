"""E-mail through the outbox: a ``mail.send`` job per message.

With ``ECLOR_SMTP_HOST`` set, messages go out over SMTP (STARTTLS by
default); otherwise each one is written as an ``.eml`` file under
``var/mail/`` so the demo and the tests can read them.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app.jobs import JobContext, enqueue


def send_mail(
    session: Session,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    dedupe_key: str | None = None,
    sender: str = "",
) -> None:
    """Queue one message in the caller's transaction; ``sender``: the territory's, when it has one
    (else ``ECLOR_MAIL_FROM``)."""
    payload: dict[str, Any] = {"to": to, "subject": subject, "text": text, "html": html}
    if sender:
        payload["from"] = sender
    enqueue(
        session,
        "mail.send",
        payload,
        max_attempts=10,
        dedupe_key=dedupe_key,
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def header_value(text: str, *, limit: int = 250) -> str:
    """A header value on one line: line breaks and control characters become spaces (no header
    injection, and nothing a mail library refuses), runs of spaces are folded, the length capped."""
    return " ".join(_CONTROL.sub(" ", str(text)).split())[:limit]


def build_message(sender: str, payload: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = header_value(sender)
    msg["To"] = header_value(payload["to"], limit=254)
    msg["Subject"] = header_value(payload["subject"])
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="eclor")
    msg["Content-Language"] = "fr"
    msg.set_content(payload["text"])
    if payload.get("html"):
        msg.add_alternative(payload["html"], subtype="html")
    return msg


def write_to_dir(msg: EmailMessage, mail_dir: Path) -> Path:
    mail_dir.mkdir(parents=True, exist_ok=True)
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
    tmp = mail_dir / f".{name}.tmp"
    tmp.write_bytes(bytes(msg))
    path = mail_dir / name
    tmp.replace(path)
    return path


def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    settings = ctx.settings
    msg = build_message(payload.get("from") or settings.mail_from, payload)
    if not settings.smtp_host:
        write_to_dir(msg, settings.mail_dir)
        return
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(msg)
