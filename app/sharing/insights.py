"""What sharing contributes to the decision-support pages: loans and gifts between neighbours, per month,
of the ads of the session's territory (``app.sharing.scope``; unbound, every ad)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func
from sqlmodel import Session, col, select

from app import months
from app.interfaces import MonthlyFigure
from app.models.sharing import Loan, SharedItem
from app.sharing.scope import items_in
from app.territories import bound, zone

N_ = str  # marks a string for extraction; translated where it is shown


def _done(
    session: Session, first: str, last: str, kind: str, status: str
) -> Mapping[tuple[str, str], float]:
    """Loans given back, or gifts handed over, by the month they were asked for, per the item's commune."""
    month = months.bucket(col(Loan.created_at), first, last, zone(session))
    territory = bound(session)
    rows = session.execute(
        select(month, col(SharedItem.commune_insee), func.count())
        .select_from(Loan)  # a single month's bucket is a literal: the join needs its left side
        .join(SharedItem, col(SharedItem.id) == col(Loan.item_id))
        .where(
            *items_in(territory.id if territory is not None else 0),
            col(Loan.kind) == kind,
            col(Loan.status) == status,
            *months.within(col(Loan.created_at), first, last, zone(session)),
        )
        .group_by(month, col(SharedItem.commune_insee))
    ).all()
    return {(m, insee or ""): float(n) for m, insee, n in rows}


def loans(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    return _done(session, first, last, "loan", "returned")


def gifts(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    return _done(session, first, last, "gift", "handed_over")


FIGURES = (
    MonthlyFigure("sharing_loans", "sharing", N_("Prêts entre voisins rendus"), "", 70, loans),
    MonthlyFigure("sharing_gifts", "sharing", N_("Dons remis"), "", 71, gifts),
)
