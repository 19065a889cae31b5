"""Teams of staff grouped by trade (voirie, éclairage, déchets, espaces verts...), managed by an
administrator in a form: create a team, rename it, archive it, choose its members. Work orders go to
a team; an agent's list for today holds their team's unassigned orders; staff may follow the alarms
of some teams only. A team's code is unique within its territory (two territories may each have
their ``voirie``): a work order, an alarm, a rule or a watch names a team by its code in its own
territory. Every territory starts with the four trades (``DEFAULT_TEAMS``)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from pydantic import BaseModel, Field
from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.maintenance import scope
from app.models.accounts import User
from app.models.maintenance import MaintenanceTeam, MaintenanceTeamMember
from app.territories import row_in

CODE = r"^[a-z][a-z0-9_]{1,19}$"


class TeamError(ValueError):
    """A change refused: the field it concerns and a French message."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class NewTeam(BaseModel):
    code: str = Field(pattern=CODE, max_length=20)
    name: str = Field(min_length=2, max_length=60)


def listing(session: Session, *, archived: bool = True) -> list[MaintenanceTeam]:
    query = select(MaintenanceTeam).where(*scope.where(session, MaintenanceTeam))
    if not archived:
        query = query.where(col(MaintenanceTeam.active).is_(True))
    return sorted(session.scalars(query), key=lambda t: _folded(t.name))


def _folded(name: str) -> str:
    """The name without accents, for the alphabetical order (Éclairage before Voirie)."""
    return "".join(
        c for c in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(c)
    )


def names(session: Session, *, archived: bool = True) -> dict[str, str]:
    """Team code -> name (the archived teams too by default: old orders still name them)."""
    return {t.code: t.name for t in listing(session, archived=archived)}


def territory_of(session: Session) -> int:
    """The territory whose teams the session works with: its own (the default one when none is
    bound, as for the rows it makes)."""
    return scope.here(session) or scope.default_id(session)


def get(session: Session, code: str, territory_id: int | None = None) -> MaintenanceTeam | None:
    """The team of that code in ``territory_id`` (by default the session's territory), else None:
    another territory's team of the same code is not this one."""
    t = territory_id or territory_of(session)
    return row_in(session, MaintenanceTeam, {"territory_id": t, "code": code}, t)


def check_active(session: Session, code: str, territory_id: int | None = None) -> None:
    team = get(session, code, territory_id)
    if team is None or not team.active:
        raise TeamError("team", _("Équipe inconnue."))


def members(session: Session) -> dict[str, list[int]]:
    """Team code -> the user ids of its members (the teams of the session's territory)."""
    found: dict[str, list[int]] = {}
    for row in session.scalars(
        select(MaintenanceTeamMember)
        .where(col(MaintenanceTeamMember.territory_id) == territory_of(session))
        .order_by(col(MaintenanceTeamMember.user_id))
    ):
        found.setdefault(row.team, []).append(row.user_id)
    return found


def _staff_ids(session: Session) -> set[int]:
    return {
        uid
        for uid in session.scalars(
            select(col(User.id)).where(
                col(User.role).in_(("staff", "admin")),
                col(User.is_active).is_(True),
                *scope.staff_here(session),
            )
        )
        if uid is not None
    }


def create(session: Session, form: NewTeam) -> MaintenanceTeam:
    if get(session, form.code) is not None:  # another territory's team may have it
        raise TeamError("code", _("Une équipe porte déjà ce code."))
    if form.name.strip().casefold() in {n.casefold() for n in names(session).values()}:
        raise TeamError("name", _("Une équipe porte déjà ce nom."))
    team = MaintenanceTeam(
        code=form.code, name=form.name.strip(), territory_id=territory_of(session)
    )
    session.add(team)
    session.flush()
    return team


def update(
    session: Session, code: str, *, name: str, active: bool, member_ids: Iterable[int]
) -> MaintenanceTeam:
    """Rename, archive or bring back a team and set its members (staff only)."""
    team = get(session, code)
    if team is None:
        raise TeamError("team", _("Équipe inconnue."))
    name = name.strip()
    if not 2 <= len(name) <= 60:
        raise TeamError("name", _("Le nom doit compter de 2 à 60 caractères."))
    others = {n.casefold() for c, n in names(session).items() if c != code}
    if name.casefold() in others:
        raise TeamError("name", _("Une équipe porte déjà ce nom."))
    wanted = set(member_ids)
    if not wanted <= _staff_ids(session):
        raise TeamError("members", _("Cette personne ne fait pas partie du personnel."))
    team.name, team.active = name, active
    session.add(team)
    session.execute(
        delete(MaintenanceTeamMember).where(
            col(MaintenanceTeamMember.territory_id) == team.territory_id,
            col(MaintenanceTeamMember.team) == code,
        )
    )
    assert team.territory_id is not None
    for user_id in sorted(wanted):
        session.add(
            MaintenanceTeamMember(territory_id=team.territory_id, team=code, user_id=user_id)
        )
    session.flush()
    return team
