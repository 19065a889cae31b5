"""Sharing per territory: an ad (and a wanted request) belongs to the territory of its commune. A
host's lists, ad pages, photos and moderation keep to its territory's ads; a resident's own ads,
requests and loans are theirs on every host (one account, several territories)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.models.sharing import SharedItem, WantedRequest
from app.models.territory import Commune


def _communes(territory_id: int) -> Any:
    return select(col(Commune.insee)).where(col(Commune.territory_id) == territory_id)


def items_in(territory_id: int) -> tuple[Any, ...]:
    """The condition keeping ads to the territory of their commune (0: every ad)."""
    return (col(SharedItem.commune_insee).in_(_communes(territory_id)),) if territory_id else ()


def wanted_in(territory_id: int) -> tuple[Any, ...]:
    """The condition keeping wanted requests to the territory of their commune (0: every one)."""
    if not territory_id:
        return ()
    return (col(WantedRequest.commune_insee).in_(_communes(territory_id)),)


def is_here(session: Session, commune_insee: str, territory_id: int) -> bool:
    """Whether the commune is one of the territory's (always, for 0)."""
    if not territory_id:
        return True
    found = session.scalar(
        select(col(Commune.territory_id)).where(col(Commune.insee) == commune_insee)
    )
    return found == territory_id


def commune_names(session: Session, territory_id: int) -> dict[str, str]:
    """The territory's communes by key (0: every commune), for the forms and filters."""
    stmt = select(Commune).order_by(col(Commune.name))
    if territory_id:
        stmt = stmt.where(col(Commune.territory_id) == territory_id)
    return {c.insee: c.name for c in session.scalars(stmt).all()}
