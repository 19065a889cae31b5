"""Staff hear about new alarms: each one chooses the communes, severities and sources they follow
(``maintenance_watches``); the on-call person gets every critical alarm at any hour. The message goes
through ``app.notify`` (push where the person has a device, e-mail otherwise)."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.maintenance.terms import SEVERITIES
from app.models.accounts import User
from app.models.maintenance import MaintenanceAlarm, MaintenanceWatch
from app.notify import notify

SOURCES = ("sensors", "lights", "reports")


class WatchForm(BaseModel):
    communes: list[str] = Field(default_factory=list, max_length=20)
    severities: list[str] = Field(default_factory=list, max_length=4)
    sources: list[str] = Field(default_factory=list, max_length=3)
    on_call: bool = False


def _split(text: str) -> set[str]:
    return {part for part in text.split(",") if part}


def watch_of(session: Session, user_id: int) -> MaintenanceWatch:
    return session.get(MaintenanceWatch, user_id) or MaintenanceWatch(user_id=user_id)


def save(session: Session, user_id: int, form: WatchForm, known_communes: set[str]) -> None:
    if not set(form.communes) <= known_communes:
        raise ValueError(_("Commune inconnue."))
    if not set(form.severities) <= set(SEVERITIES) or not set(form.sources) <= set(SOURCES):
        raise ValueError(_("Choix invalide."))
    watch = watch_of(session, user_id)
    watch.communes = ",".join(sorted(set(form.communes)))
    watch.severities = ",".join(sorted(set(form.severities)))
    watch.sources = ",".join(sorted(set(form.sources)))
    watch.on_call = form.on_call
    session.add(watch)


def wants(watch: MaintenanceWatch, alarm: MaintenanceAlarm) -> bool:
    if watch.on_call and alarm.severity == "critical":
        return True
    communes, severities, sources = (
        _split(watch.communes),
        _split(watch.severities),
        _split(watch.sources),
    )
    return (
        (not communes or alarm.commune_insee in communes)
        and (not severities or alarm.severity in severities)
        and (not sources or alarm.source in sources)
    )


def tell_staff(session: Session, alarm: MaintenanceAlarm) -> list[int]:
    """Queue a notification of a new alarm to every active staff member who follows it."""
    rows = session.execute(
        select(MaintenanceWatch, col(User.is_active))
        .join(User, col(User.id) == col(MaintenanceWatch.user_id))
        .where(col(User.role).in_(("staff", "admin")))
    ).all()
    told = sorted(w.user_id for w, active in rows if active and wants(w, alarm))
    if told:
        notify(
            session,
            told,
            topic="alarms",
            title=_("Alarme : %(t)s") % {"t": alarm.title[:120]},
            body=alarm.value or alarm.title,
            url=f"/staff/alarms/{alarm.id}",
            urgency="high" if alarm.severity == "critical" else "normal",
            dedupe=f"alarm-{alarm.id}",
        )
    return told
