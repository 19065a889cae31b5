"""Decision support per territory: what a host's staff and elected officials read is computed from
their territory's rows only.

A request's session carries its territory (``app.territories.bind``); each domain's figures, trip
sources and energy meters read it from the session (``app.territories.bound``) and keep to that
territory's rows, and the pages here keep to its communes, its kept months (``insights_monthly``
per ``territory_id``), its baselines and its origin–destination matrices. An unbound session (the
command line, a bench) sees the whole install, kept under territory 0.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.models.territory import Commune
from app.territories import bound


def territory_id(session: Session) -> int | None:
    """The territory bound to the session, or None (the whole install)."""
    territory = bound(session)
    return territory.id if territory is not None else None


def key(session: Session) -> int:
    """The territory a kept figure or matrix is filed under (0: the whole install)."""
    return territory_id(session) or 0


def communes(session: Session) -> Any:
    """A select of the session's territory's communes (every commune when unbound)."""
    query = select(Commune)
    territory = territory_id(session)
    return query if territory is None else query.where(col(Commune.territory_id) == territory)
