"""Carpool offers shared between neighbouring territories of one install.

An ad belongs to the territory whose host it was published on. A territory may say it shares its
offers with others (``carpool_shares``, set by its staff on /carpool/staff); the search on one
territory's host then finds the ads of every territory with which the sharing is mutual: both have
said so. By default a territory shares with none, and its search finds its own ads only.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, delete
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.models.carpool import CarpoolShare
from app.models.territory import Territory


def searched_territories(session: Session, territory_id: int) -> tuple[int, ...]:
    """The territories whose ads a search on ``territory_id``'s host finds: its own first, then
    those with which it shares its offers both ways."""
    back = aliased(CarpoolShare)
    partners = session.scalars(
        select(col(CarpoolShare.partner_id))
        .join(
            back,
            and_(
                col(back.territory_id) == col(CarpoolShare.partner_id),
                col(back.partner_id) == col(CarpoolShare.territory_id),
            ),
        )
        .where(col(CarpoolShare.territory_id) == territory_id)
        .order_by(col(CarpoolShare.partner_id))
    ).all()
    return (territory_id, *(p for p in partners if p != territory_id))


def shared_with(session: Session, territory_id: int) -> set[int]:
    """The territories ``territory_id`` has said it shares its offers with (mutual or not yet)."""
    return set(
        session.scalars(
            select(col(CarpoolShare.partner_id)).where(
                col(CarpoolShare.territory_id) == territory_id
            )
        ).all()
    )


def asking(session: Session, territory_id: int) -> set[int]:
    """The territories that share their offers with ``territory_id`` (whether it agrees or not)."""
    return set(
        session.scalars(
            select(col(CarpoolShare.territory_id)).where(
                col(CarpoolShare.partner_id) == territory_id
            )
        ).all()
    )


def set_shared(session: Session, territory_id: int, partner_ids: Iterable[int]) -> set[int]:
    """Say ``territory_id`` shares its offers with exactly ``partner_ids`` (other territories of
    the install; any other id is ignored). Returns the territories kept."""
    known = set(session.scalars(select(col(Territory.id))).all())
    wanted = {p for p in partner_ids if p in known and p != territory_id}
    session.execute(
        delete(CarpoolShare).where(
            col(CarpoolShare.territory_id) == territory_id,
            col(CarpoolShare.partner_id).not_in(wanted),
        )
    )
    for partner in sorted(wanted - shared_with(session, territory_id)):
        session.add(CarpoolShare(territory_id=territory_id, partner_id=partner))
    return wanted
