"""Alarms across every domain: raised by a rule, one per ongoing condition, open → acknowledged →
cleared, with an internal comment thread and an assignee. Each change reaches the operations
centre's map and feed through the event outbox (layer ``maintenance``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from app import events
from app.db import utcnow
from app.i18n import gettext as _
from app.interfaces import Place
from app.maintenance import scope
from app.maintenance.terms import EDITED
from app.maintenance.watches import tell_staff
from app.models.accounts import User
from app.models.maintenance import MaintenanceAlarm, MaintenanceAlarmComment

N_ = str
LAYER = "maintenance"
STATES = {"open": N_("Ouverte"), "acknowledged": N_("Prise en compte"), "cleared": N_("Levée")}
ONGOING = ("open", "acknowledged")


class AlarmError(ValueError):
    """A change refused, with a French message for the person."""


def _publish(session: Session, alarm: MaintenanceAlarm, kind: str) -> None:
    events.publish(
        session,
        LAYER,
        str(alarm.id),
        kind,
        {
            "state": alarm.state,
            "severity": alarm.severity,
            "title": alarm.title,
            "source": alarm.source,
            "commune": alarm.commune_insee,
            "territory": alarm.territory_id,
        },
        territory_id=alarm.territory_id,  # the stream sends it to that territory's staff only
    )


def ongoing(session: Session, rule_id: int, subject: str) -> MaintenanceAlarm | None:
    return session.scalars(
        select(MaintenanceAlarm).where(
            col(MaintenanceAlarm.rule_id) == rule_id,
            col(MaintenanceAlarm.subject) == subject,
            col(MaintenanceAlarm.state).in_(ONGOING),
        )
    ).first()


def in_quiet_period(session: Session, rule: Any, subject: str, at: datetime) -> bool:
    if not rule.quiet_s:
        return False
    last = session.scalars(
        select(col(MaintenanceAlarm.cleared_at))
        .where(
            col(MaintenanceAlarm.rule_id) == rule.id,
            col(MaintenanceAlarm.subject) == subject,
            # an alarm cleared because its rule was edited ended nothing: no quiet period after it
            col(MaintenanceAlarm.cleared_why) != EDITED,
        )
        .order_by(col(MaintenanceAlarm.id).desc())
        .limit(1)
    ).first()
    return last is not None and (at - last).total_seconds() < rule.quiet_s


def raise_or_touch(
    session: Session,
    rule: Any,
    subject: str,
    *,
    source: str,
    feature_id: str,
    place: Place | None,
    at: datetime,
    value: str,
    title: str,
    alert_body: str = "",
    category: str = "",
) -> MaintenanceAlarm | None:
    """The ongoing alarm of (rule, subject) seen again, or a new one (unless in the quiet period)."""
    alarm = ongoing(session, rule.id or 0, subject)
    if alarm is not None:
        alarm.last_seen = max(alarm.last_seen, at)
        alarm.count += 1
        alarm.value = value[:80]
        session.add(alarm)
        return alarm
    if in_quiet_period(session, rule, subject, at):
        return None
    alarm = MaintenanceAlarm(
        rule_id=rule.id,
        subject=subject[:120],
        source=source,
        feature_id=feature_id[:120],
        title=title[:200],
        severity=rule.severity,
        commune_insee=place.commune_insee if place else rule.commune_insee,
        lat=place.lat if place else None,
        lon=place.lon if place else None,
        first_seen=at,
        last_seen=at,
        value=value[:80],
        # what staff filter on: the report category, or else the kind of device
        category=(category or (place.kind if place and place.kind != "report" else ""))[:40],
        team=getattr(rule, "team", "") or "",
        territory_id=rule.territory_id,
    )
    if rule.prepare_alert:  # prepared for staff to review and send; a rule never sends it
        alarm.alert_title = (rule.alert_title or rule.name)[:120]
        alarm.alert_body = (alert_body or title)[:600]
    session.add(alarm)
    session.flush()
    _publish(session, alarm, "raised")
    tell_staff(session, alarm)
    return alarm


def clear(
    session: Session, alarm: MaintenanceAlarm, *, why: str, at: datetime, actor_id: int | None
) -> bool:
    """Clear an ongoing alarm (once: a conditional update, so two clearers make one clearance)."""
    done = session.exec(
        update(MaintenanceAlarm)
        .where(col(MaintenanceAlarm.id) == alarm.id, col(MaintenanceAlarm.state).in_(ONGOING))
        .values(state="cleared", cleared_at=at, cleared_by=actor_id, cleared_why=why)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        return False
    session.refresh(alarm)
    _publish(session, alarm, "cleared")
    return True


def acknowledge(session: Session, alarm: MaintenanceAlarm, *, actor_id: int) -> None:
    if alarm.state != "open":
        raise AlarmError(_("Seule une alarme ouverte peut être prise en compte."))
    alarm.state = "acknowledged"
    alarm.acknowledged_at = utcnow()
    alarm.acknowledged_by = actor_id
    session.add(alarm)
    session.flush()
    _publish(session, alarm, "acknowledged")


def clear_by_hand(session: Session, alarm: MaintenanceAlarm, *, actor_id: int) -> None:
    if not clear(session, alarm, why="staff", at=utcnow(), actor_id=actor_id):
        raise AlarmError(_("Cette alarme est déjà levée."))


def comment(
    session: Session, alarm: MaintenanceAlarm, *, actor_id: int, text: str
) -> MaintenanceAlarmComment:
    text = text.strip()
    if not text:
        raise AlarmError(_("Le commentaire est vide."))
    if len(text) > 2000:
        raise AlarmError(_("Le commentaire est trop long (2000 caractères au plus)."))
    row = MaintenanceAlarmComment(alarm_id=alarm.id or 0, author_id=actor_id, text=text)
    session.add(row)
    session.flush()
    return row


def staff_members(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(
                col(User.role).in_(("staff", "admin")),
                col(User.is_active).is_(True),
                *scope.staff_here(session),
            )
            .order_by(col(User.email))
        )
    )


def assign(session: Session, alarm: MaintenanceAlarm, assignee_id: int | None) -> None:
    if assignee_id is not None and assignee_id not in {u.id for u in staff_members(session)}:
        raise AlarmError(_("Cette personne ne fait pas partie du personnel."))
    alarm.assignee_id = assignee_id
    session.add(alarm)
    session.flush()
    _publish(session, alarm, "assigned")


def listing(session: Session, *, state: str = "", limit: int = 300) -> list[MaintenanceAlarm]:
    query = select(MaintenanceAlarm).where(*scope.where(session, MaintenanceAlarm))
    if state == "ongoing":
        query = query.where(col(MaintenanceAlarm.state).in_(ONGOING))
    elif state in STATES:
        query = query.where(col(MaintenanceAlarm.state) == state)
    return list(
        session.scalars(query.order_by(col(MaintenanceAlarm.last_seen).desc()).limit(limit))
    )


def as_json(alarm: MaintenanceAlarm) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "severity": alarm.severity,
        "source": alarm.source,
        "commune": alarm.commune_insee,
        "state": alarm.state,
        "first_seen": alarm.first_seen.isoformat(),
        "last_seen": alarm.last_seen.isoformat(),
        "title": alarm.title,
        "count": alarm.count,
        "subject": alarm.subject,
    }


def get(session: Session, alarm_id: int) -> MaintenanceAlarm | None:
    """The alarm of that id if it belongs to the session's territory, else None."""
    alarm = session.get(MaintenanceAlarm, alarm_id)
    return alarm if alarm is not None and scope.is_here(session, alarm) else None


def comments(session: Session, alarm_id: int) -> list[MaintenanceAlarmComment]:
    return list(
        session.scalars(
            select(MaintenanceAlarmComment)
            .where(col(MaintenanceAlarmComment.alarm_id) == alarm_id)
            .order_by(col(MaintenanceAlarmComment.id))
        )
    )


# What an alarm's prepared alert is about, for its topic (the alert form's topics).
ALERT_TOPIC = {"waste_centre": "waste_centre", "traffic": "traffic"}
ALERT_URGENCY = {"critical": "high", "major": "high", "minor": "normal", "info": "low"}


def prepared_alert(alarm: MaintenanceAlarm) -> dict[str, Any]:
    """The alert a rule prepared, as the staff alert form's fields: title, text, communes (the
    alert's area is made of communes), urgency from the severity, topic from what raised it.
    Staff open the form filled with it, review it and send it themselves."""
    return {
        "title": alarm.alert_title,
        "body": alarm.alert_body,
        "communes": [alarm.commune_insee] if alarm.commune_insee else [],
        "urgency": ALERT_URGENCY.get(alarm.severity, "normal"),
        "topic": ALERT_TOPIC.get(alarm.category, "general"),
        "prepared": "1",
    }


def prepared_alert_url(alarm: MaintenanceAlarm) -> str:
    from urllib.parse import urlencode

    return "/staff/alerts/new?" + urlencode(prepared_alert(alarm), doseq=True)
