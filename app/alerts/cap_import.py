"""CAP import in two steps, as staff do it: read and preview, then send; and where an alert went.

``preview`` runs the very import (``cap_alerts.import_cap``) in a savepoint that
is rolled back, so what staff see is exactly what sending would do (title,
text, topic, urgency, end, communes reached) and every refusal comes with
the same message, yet nothing is written and nothing is sent.
Used by the staff import page (``app/routes/alerts.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from app.alerts import cap_alerts, topics
from app.alerts.cap_read import parse
from app.models.push import Alert, CapIgnored


@dataclass(frozen=True)
class ImportPreview:
    msg_type: str
    title: str
    body: str
    instruction: str
    topic: str
    urgency: str
    expires_at: datetime | None
    area_desc: str
    communes: list[str]  # names of the communes reached
    everywhere: bool
    updates: int | None  # the alert an Update or Cancel amends
    ignored: str | None = None  # why the message would be recorded and not published


def communes_reached(session: Session, alert: Alert) -> tuple[list[str], bool]:
    """Names of the communes an alert was sent to, and whether that is the whole territory."""
    names = topics.commune_names(session, territory_id=alert.territory_id)
    codes = topics.unpack(alert.communes)
    if not codes:
        return sorted(names.values()), True
    return sorted(names.get(code, code) for code in codes), False


def preview(
    session: Session,
    document: bytes,
    *,
    topic: str | None,
    user_id: int | None,
    territory_id: int | None = None,
) -> ImportPreview:
    """What importing ``document`` would publish; raises what ``import_cap`` raises; writes nothing."""
    savepoint = session.begin_nested()
    try:
        alert = cap_alerts.import_cap(
            session, document, user_id=user_id, topic=topic, territory_id=territory_id
        )
        if isinstance(alert, CapIgnored):
            parsed = parse(document)
            info = parsed.infos[0] if parsed.infos else None
            return ImportPreview(
                msg_type=alert.msg_type,
                title=(info.headline or info.event) if info else alert.identifier,
                body="",
                instruction="",
                topic="",
                urgency="",
                expires_at=None,
                area_desc="",
                communes=[],
                everywhere=False,
                updates=None,
                ignored=alert.reason,
            )
        names, everywhere = communes_reached(session, alert)
        return ImportPreview(
            msg_type=alert.msg_type,
            title=alert.title,
            body=alert.body,
            instruction=alert.instruction,
            topic=alert.topic,
            urgency=alert.push_urgency,
            expires_at=alert.expires_at,
            area_desc=alert.area_desc,
            communes=names,
            everywhere=everywhere,
            updates=alert.references_id,
        )
    finally:
        savepoint.rollback()
