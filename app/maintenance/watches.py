"""Staff hear about new alarms as they choose (``maintenance_watches``): the communes, severities,
sources, categories (a report category or a kind of device) and teams they follow, on their devices
(push) and/or by e-mail, at each alarm or in one e-mail a day (the digest). The on-call person gets
every critical alarm at once, whatever the rest says, with the ``high`` urgency that goes through
their quiet hours. Everything goes through ``app.notify`` (the quiet hours and devices are those the
person set in their notification preferences, ``/me/push``)."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.maintenance import scope
from app.maintenance.terms import SEVERITIES
from app.models.accounts import User
from app.models.maintenance import MaintenanceAlarm, MaintenanceTeam, MaintenanceWatch
from app.notify import notify

N_ = str
SOURCES = ("sensors", "lights", "reports")
# The kinds of device an alarm's category names (report categories come from the reports domain).
DEVICE_KINDS = {
    "air_quality": N_("Qualité de l’air"),
    "waste_centre": N_("Déchèterie"),
    "traffic": N_("Passage frontière"),
    "fill_level": N_("Niveau de remplissage"),
    "light": N_("Point lumineux"),
}
CATEGORY = re.compile(r"^[a-z0-9_]{1,40}$")


class WatchForm(BaseModel):
    communes: list[str] = Field(default_factory=list, max_length=20)
    severities: list[str] = Field(default_factory=list, max_length=4)
    sources: list[str] = Field(default_factory=list, max_length=3)
    categories: list[str] = Field(default_factory=list, max_length=40)
    teams: list[str] = Field(default_factory=list, max_length=20)
    push: bool = False
    email: bool = False
    digest: bool = False
    on_call: bool = False

    @model_validator(mode="after")
    def _a_channel(self) -> WatchForm:
        if not (self.push or self.email):
            raise ValueError(_("Choisissez au moins un moyen : notification ou e-mail."))
        return self


def _split(text: str) -> set[str]:
    return {part for part in text.split(",") if part}


def watch_of(session: Session, user_id: int) -> MaintenanceWatch:
    """The person's watch (one of the session's territory: a watch kept for another territory,
    where the person worked before, is replaced when they save this one)."""
    found = session.get(MaintenanceWatch, user_id)
    if found is not None and scope.is_here(session, found):
        return found
    return MaintenanceWatch(user_id=user_id, territory_id=scope.new_row_territory(session))


def save(
    session: Session,
    user_id: int,
    form: WatchForm,
    known_communes: set[str],
    known_categories: set[str] | None = None,
) -> None:
    if not set(form.communes) <= known_communes:
        raise ValueError(_("Commune inconnue."))
    if not set(form.severities) <= set(SEVERITIES) or not set(form.sources) <= set(SOURCES):
        raise ValueError(_("Choix invalide."))
    watch = watch_of(session, user_id)
    # the categories offered, and the archived ones the watch already follows (it keeps them)
    allowed = set(DEVICE_KINDS) | (known_categories or set()) | _split(watch.categories)
    if not all(CATEGORY.match(c) for c in form.categories) or not set(form.categories) <= allowed:
        raise ValueError(_("Catégorie inconnue."))
    teams = set(  # the codes of the watch's territory's teams
        session.scalars(
            select(col(MaintenanceTeam.code)).where(
                col(MaintenanceTeam.territory_id)
                == (watch.territory_id or scope.here(session) or scope.default_id(session))
            )
        )
    )
    if not set(form.teams) <= teams:
        raise ValueError(_("Équipe inconnue."))
    existing = session.get(MaintenanceWatch, user_id)
    if existing is not None and existing is not watch:  # another territory's: now this one's
        existing.territory_id = watch.territory_id
        watch = existing
    watch.communes = ",".join(sorted(set(form.communes)))
    watch.severities = ",".join(sorted(set(form.severities)))
    watch.sources = ",".join(sorted(set(form.sources)))
    watch.categories = ",".join(sorted(set(form.categories)))
    watch.teams = ",".join(sorted(set(form.teams)))
    watch.push, watch.email, watch.digest = form.push, form.email, form.digest
    watch.on_call = form.on_call
    session.add(watch)


def on_call_for(watch: MaintenanceWatch, alarm: MaintenanceAlarm) -> bool:
    return watch.on_call and alarm.severity == "critical"


def wants(watch: MaintenanceWatch, alarm: MaintenanceAlarm) -> bool:
    """Whether the alarm passes the person's filters (an empty filter lets everything through)."""
    if on_call_for(watch, alarm):
        return True
    chosen = (
        (watch.communes, alarm.commune_insee),
        (watch.severities, alarm.severity),
        (watch.sources, alarm.source),
        (watch.categories, alarm.category),
        (watch.teams, alarm.team),
    )
    return all(not _split(allowed) or value in _split(allowed) for allowed, value in chosen)


def tell_staff(session: Session, alarm: MaintenanceAlarm) -> list[int]:
    """Tell every active staff member of the alarm's territory who follows it, as each one chose."""
    works_here = col(User.territory_id) == alarm.territory_id
    if alarm.territory_id == scope.default_id(session):  # staff with no territory work for it
        works_here = or_(works_here, col(User.territory_id).is_(None))
    rows = session.execute(
        select(MaintenanceWatch, col(User.is_active))
        .join(User, col(User.id) == col(MaintenanceWatch.user_id))
        .where(
            col(User.role).in_(("staff", "admin")),
            col(MaintenanceWatch.territory_id) == alarm.territory_id,
            works_here,
        )
    ).all()
    title = _("Alarme : %(t)s") % {"t": alarm.title[:120]}
    told = []
    for watch, active in sorted(rows, key=lambda r: r[0].user_id):
        if not active or not wants(watch, alarm):
            continue
        told.append(watch.user_id)
        urgent = on_call_for(watch, alarm)
        notify(
            session,
            [watch.user_id],
            topic="alarms",
            title=title,
            body=alarm.value or alarm.title,
            url=f"/staff/alarms/{alarm.id}",
            # the on-call person: at once, through quiet hours, on both channels they chose
            urgency="high" if urgent else "normal",
            dedupe=f"alarm-{alarm.id}",
            push=watch.push,
            email=watch.email,
            any_device=True,
            digest=watch.digest and not urgent,
        )
    return told
