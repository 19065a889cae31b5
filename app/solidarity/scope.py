"""Solidarity transport per territory. A beneficiary, a volunteer and a booking belong to the
territory of their commune, a trip to its booking's, a usual destination to the territory of the
social worker who added it (``territory_id`` on each). A request's database session carries its
territory (``app.territories.of_session``, bound by ``app.deps.provide_db``): every solidarity
query a page makes keeps to it through these helpers, so a host never shows, offers, reminds,
counts or exports another territory's people. Outside a request (0) nothing is kept apart."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.models.solidarity import Beneficiary, Booking, Place, Trip, Volunteer
from app.models.territory import Commune
from app.territories import of_session

Scoped = Beneficiary | Booking | Place | Trip | Volunteer


def here(session: Session) -> int:
    """The territory the session works for (0: none bound, every territory)."""
    return of_session(session).id


def where_here(model: type[Scoped], session: Session) -> tuple[Any, ...]:
    """The condition keeping ``model``'s rows to the session's territory (none when unbound)."""
    t = here(session)
    return (col(model.territory_id) == t,) if t else ()


def is_here(session: Session, row: Scoped | None) -> bool:
    """Whether the row exists and belongs to the session's territory (any, when none is bound)."""
    if row is None:
        return False
    t = here(session)
    return not t or row.territory_id == t


def territory_of(session: Session, insee: str | None) -> int | None:
    """The territory of a commune (None: no such commune)."""
    if not insee:
        return None
    return session.scalar(select(col(Commune.territory_id)).where(col(Commune.insee) == insee))


def commune_here(session: Session, insee: str | None) -> bool:
    """Whether the commune exists and is one of the session's territory (any, when none is bound)."""
    found = territory_of(session, insee)
    t = here(session)
    return found is not None and (not t or found == t)


def communes_here(session: Session) -> dict[str, str]:
    """The territory's communes by key, by name (every commune, when none is bound)."""
    stmt = select(Commune).order_by(col(Commune.name))
    t = here(session)
    if t:
        stmt = stmt.where(col(Commune.territory_id) == t)
    return {c.insee: c.name for c in session.scalars(stmt).all()}
