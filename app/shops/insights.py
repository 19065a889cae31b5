"""What the local shops contribute to the decision-support pages: click & collect orders and their amount,
at the shops of the session's territory (``app.shops.scope``; unbound, every shop)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app import months
from app.interfaces import MonthlyFigure
from app.models.shops import Shop, ShopOrder
from app.shops.scope import in_territory
from app.territories import bound, zone

N_ = str  # marks a string for extraction; translated where it is shown


def _orders(session: Session, first: str, last: str, value: Any) -> dict[tuple[str, str], float]:
    month = months.bucket(col(ShopOrder.created_at), first, last, zone(session))
    territory = bound(session)
    rows = session.execute(
        select(month, col(Shop.commune_insee), value)
        .select_from(
            ShopOrder
        )  # a single month's bucket is a literal: the join needs its left side
        .join(Shop, col(Shop.id) == col(ShopOrder.shop_id))
        .where(
            *in_territory(territory.id if territory is not None else 0),
            col(ShopOrder.status) == "collected",
            *months.within(col(ShopOrder.created_at), first, last, zone(session)),
        )
        .group_by(month, col(Shop.commune_insee))
    ).all()
    return {(m, insee or ""): float(v or 0) for m, insee, v in rows}


def orders(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    return _orders(session, first, last, func.count())


def amount(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    return {
        k: v / 100
        for k, v in _orders(session, first, last, func.sum(col(ShopOrder.total_cents))).items()
    }


FIGURES = (
    MonthlyFigure(
        "shop_orders", "shops", N_("Commandes retirées chez les commerçants"), "", 60, orders
    ),
    MonthlyFigure(
        "shop_amount", "shops", N_("Montant des commandes retirées"), "€", 61, amount, kind="amount"
    ),
)
