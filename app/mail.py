"""E-mail through the outbox: a ``mail.send`` job per message.

With ``ECLOR_SMTP_HOST`` set, messages go out over SMTP (STARTTLS by
default); otherwise each one is written as an ``.eml`` file under
``var/mail/`` so the demo and the tests can read them. A message sent for a
territory that has its own mail server (its settings' ``smtp``) leaves through
that one.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app.jobs import JobContext, enqueue
from app.models.territory import Territory


def send_mail(
    session: Session,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    dedupe_key: str | None = None,
    sender: str = "",
    territory_id: int | None = None,
) -> None:
    """Queue one message in the caller's transaction; ``sender``: the territory's, when it has one
    (else ``ECLOR_MAIL_FROM``); ``territory_id``: the territory it is sent for, whose own mail
    server (when it has one) sends it."""
    payload: dict[str, Any] = {"to": to, "subject": subject, "text": text, "html": html}
    if sender:
        payload["from"] = sender
    if territory_id:
        payload["territory_id"] = territory_id
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


@dataclass(frozen=True)
class Server:
    """The SMTP server a message leaves through."""

    host: str
    port: int
    user: str
    password: str
    starttls: bool


class MailServerError(RuntimeError):
    """A territory's mail server cannot be used as set up (the job fails with this reason)."""


def server_for(ctx: JobContext, payload: dict[str, Any]) -> Server | None:
    """The territory's own server when the message is sent for a territory that has one, else the
    install's (``ECLOR_SMTP_*``); None: no server, the message is written under ``var/mail``. A
    territory's password is read from the environment variable its set-up names, never stored."""
    settings = ctx.settings
    territory_id = payload.get("territory_id")
    if isinstance(territory_id, int):
        with Session(ctx.engine) as session:
            row = session.get(Territory, territory_id)
        if row is not None and row.smtp_host:
            password = ""
            if row.smtp_password_env:
                if row.smtp_password_env not in os.environ:
                    raise MailServerError(
                        f"territory {row.slug}: the environment variable "
                        f"{row.smtp_password_env} (its SMTP password) is not set"
                    )
                password = os.environ[row.smtp_password_env]
            return Server(row.smtp_host, row.smtp_port, row.smtp_user, password, row.smtp_starttls)
    if not settings.smtp_host:
        return None
    return Server(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_user,
        settings.smtp_password,
        settings.smtp_starttls,
    )


def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    settings = ctx.settings
    msg = build_message(payload.get("from") or settings.mail_from, payload)
    server = server_for(ctx, payload)
    if server is None:
        write_to_dir(msg, settings.mail_dir)
        return
    with smtplib.SMTP(server.host, server.port, timeout=30) as smtp:
        if server.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if server.user:
            smtp.login(server.user, server.password)
        smtp.send_message(msg)
