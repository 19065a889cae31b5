"""Renovation per territory: a local aid belongs to the territory whose staff wrote it, an
appointment request (a resident's case) to the territory whose host it was made on; the national
rules and the income ceilings are the whole install's.

A request's session carries its territory (``app.territories.bind``): the guide applies the
national rules and that territory's local aids, offers its communes, and its staff list and act on
its own aids and requests only. An unbound session (the command line) sees the whole install.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.models.renovation import AidRule, Appointment
from app.models.territory import Commune
from app.territories import bound


def territory_id(session: Session) -> int | None:
    """The territory bound to the session, or None (the whole install)."""
    territory = bound(session)
    return territory.id if territory is not None and territory.id else None


def rules_here(session: Session) -> tuple[Any, ...]:
    """The condition keeping rules to the national ones and the territory's local aids."""
    territory = territory_id(session)
    if territory is None:
        return ()
    return ((col(AidRule.scope) != "local") | (col(AidRule.territory_id) == territory),)


def appointments_here(session: Session) -> tuple[Any, ...]:
    """The condition keeping appointment requests to the territory's."""
    territory = territory_id(session)
    return () if territory is None else (col(Appointment.territory_id) == territory,)


def is_here(session: Session, row: AidRule | Appointment) -> bool:
    """Whether a local aid or a request is the session's territory's (always, unbound)."""
    territory = territory_id(session)
    return territory is None or row.territory_id == territory


def communes(session: Session) -> Any:
    """A select of the territory's communes (every commune, unbound)."""
    territory = territory_id(session)
    query = select(Commune)
    return query if territory is None else query.where(col(Commune.territory_id) == territory)
