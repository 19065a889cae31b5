"""Shops per territory: a shop belongs to the territory of its commune, so do its products, photos,
hours, pick-up points and orders. A host's public pages, merchant pages and exports keep to the
shops of its territory through :func:`in_territory`; a resident's own orders are theirs on every
host (one account, several territories)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from app.models.shops import Shop
from app.models.territory import Commune


def in_territory(territory_id: int) -> tuple[Any, ...]:
    """The condition keeping shops to the territory of their commune (0: every shop)."""
    if not territory_id:
        return ()
    communes = select(col(Commune.insee)).where(col(Commune.territory_id) == territory_id)
    return (col(Shop.commune_insee).in_(communes),)
