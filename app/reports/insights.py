"""What the reports domain counts per month and commune for the decision-support pages.

Reports received (hidden ones aside) by the month they were made, and reports
resolved by the month they were resolved (``app.interfaces.MonthlyFigure``): the reports of the
session's territory (``app.territories.bound``; an unbound session counts the whole install).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app import months
from app.interfaces import MonthlyFigure
from app.models.reports import Report
from app.reports.catalogue import PUBLIC_STATUSES
from app.territories import bound, zone

N_ = str  # marks a string for extraction; translated where it is shown


def _grouped(
    session: Session, column: Any, statuses: Sequence[str], first: str, last: str
) -> dict[tuple[str, str], float]:
    local = zone(session)  # the territory's months (the default territory's, unbound)
    month = months.bucket(column, first, last, local)
    territory = bound(session)
    mine = () if territory is None else (col(Report.territory_id) == territory.id,)
    rows = session.execute(
        select(month, col(Report.commune_insee), func.count())
        .where(
            *mine,
            col(Report.status).in_(list(statuses)),
            *months.within(column, first, last, local),
        )
        .group_by(month, col(Report.commune_insee))
    ).all()
    return {(m, insee or ""): float(n) for m, insee, n in rows}


def received(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    return _grouped(session, col(Report.created_at), PUBLIC_STATUSES, first, last)


def resolved(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    return _grouped(session, col(Report.resolved_at), ("resolved",), first, last)


FIGURES = (
    MonthlyFigure(
        "reports_received", "reports", N_("Signalements reçus"), "", 10, received, better="down"
    ),
    MonthlyFigure("reports_resolved", "reports", N_("Signalements résolus"), "", 11, resolved),
)
