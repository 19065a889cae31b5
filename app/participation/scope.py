"""Participation per territory. A budget and a consultation belong to the territory whose staff
made them (``territory_id``; a commune's budget, to its commune's); a proposal to the territory of
its commune. A request's database session carries its territory (``app.territories.of_session``,
bound by ``app.deps.provide_db``), and every participation query a page makes keeps to it through
these conditions; outside a request (0) nothing is kept apart."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.models.participation import Budget, Consultation, Proposal
from app.models.territory import Commune
from app.territories import of_session


def here(session: Session) -> int:
    """The territory the session works for (0: none bound, every territory)."""
    return of_session(session).id


def budgets_here(session: Session) -> tuple[Any, ...]:
    t = here(session)
    return (col(Budget.territory_id) == t,) if t else ()


def consultations_here(session: Session) -> tuple[Any, ...]:
    t = here(session)
    return (col(Consultation.territory_id) == t,) if t else ()


def proposals_here(session: Session) -> tuple[Any, ...]:
    t = here(session)
    if not t:
        return ()
    communes = select(col(Commune.insee)).where(col(Commune.territory_id) == t)
    return (col(Proposal.commune_insee).in_(communes),)


def is_here(session: Session, row: Budget | Consultation | Proposal) -> bool:
    """Whether the row belongs to the session's territory (always, when none is bound)."""
    t = here(session)
    if not t:
        return True
    if isinstance(row, Proposal):
        found = session.scalar(
            select(col(Commune.territory_id)).where(col(Commune.insee) == row.commune_insee)
        )
        return found == t
    return row.territory_id == t


def communes_here(session: Session) -> dict[str, str]:
    """The territory's communes by key (every commune, when none is bound)."""
    stmt = select(Commune).order_by(col(Commune.name))
    t = here(session)
    if t:
        stmt = stmt.where(col(Commune.territory_id) == t)
    return {c.insee: c.name for c in session.scalars(stmt).all()}
