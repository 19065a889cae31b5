"""Maintenance per territory. Rules, alarms, work orders, teams and watches belong to a territory
(``territory_id``): a rule and a team to the territory whose staff made them, an alarm to its rule's,
a work order to its alarm's or its maker's. A request's database session carries its territory
(``app.territories.bound``, bound by ``app.deps.provide_db``); every maintenance query a page makes
keeps to it through these conditions. Outside a request (the worker, the command line) nothing is
kept apart, and each rule works on its own territory's devices and reports (``app.maintenance.engine``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.models.accounts import User
from app.models.territory import Commune
from app.territories import bound, default_territory


def here(session: Session) -> int:
    """The territory the session works for (0: none bound, the whole install)."""
    territory = bound(session)
    return territory.id if territory is not None else 0


def where(session: Session, model: Any) -> tuple[Any, ...]:
    """The condition keeping a select over ``model`` (a table with ``territory_id``) to the session's
    territory (none when no territory is bound)."""
    t = here(session)
    return (col(model.territory_id) == t,) if t else ()


def is_here(session: Session, row: Any) -> bool:
    """Whether the row belongs to the session's territory (always, when none is bound)."""
    t = here(session)
    return not t or row.territory_id == t


def new_row_territory(session: Session) -> int | None:
    """The territory a row made now belongs to: the session's, else (None) the default one."""
    return here(session) or None


def staff_here(session: Session) -> tuple[Any, ...]:
    """The condition keeping a select over users to the staff of the session's territory (staff
    with no territory work for the default one)."""
    territory = bound(session)
    if territory is None:
        return ()
    mine = col(User.territory_id) == territory.id
    if territory.is_default:
        return (or_(mine, col(User.territory_id).is_(None)),)
    return (mine,)


def communes_here(session: Session) -> list[Commune]:
    """The territory's communes by name (every commune, when none is bound)."""
    stmt = select(Commune).order_by(col(Commune.name))
    t = here(session)
    if t:
        stmt = stmt.where(col(Commune.territory_id) == t)
    return list(session.scalars(stmt))


def default_id(session: Session) -> int:
    """The install's default territory's id (0 when there is none yet)."""
    territory = default_territory(session)
    return territory.id or 0 if territory is not None else 0
