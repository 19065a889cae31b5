"""A person's shop data (their shops, products, orders): export and erasure (the privacy interface)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from app.db import utcnow
from app.i18n import gettext as _
from app.models.shops import (
    OrderLine,
    Product,
    Shop,
    ShopHours,
    ShopHoursException,
    ShopOrder,
    ShopPhoto,
)
from app.notify import notify
from app.shops.orders import move_order, restock

# --- privacy ----------------------------------------------------------------------------------


def _stored_paths(names: Iterable[str | None], media_dir: Path) -> list[Path]:
    from app import images

    paths = []
    for name in names:
        if not name:
            continue
        try:
            paths.append(images.open_path(name, media_dir))
        except (images.InvalidPhotoName, FileNotFoundError):
            continue
    return paths


def _row(obj: Any) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, (date, datetime, time)) else v)
        for k, v in obj.model_dump().items()
    }


def export_person(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    orders = session.scalars(select(ShopOrder).where(col(ShopOrder.customer_id) == user_id)).all()
    data: dict[str, Any] = {
        "orders": [
            {
                **_row(o),
                "lines": [
                    _row(line)
                    for line in session.scalars(
                        select(OrderLine).where(col(OrderLine.order_id) == o.id)
                    )
                ],
            }
            for o in orders
        ]
    }
    files: list[Path] = []
    shop = session.scalars(select(Shop).where(col(Shop.owner_id) == user_id)).first()
    if shop is not None:
        photos = session.scalars(select(ShopPhoto).where(col(ShopPhoto.shop_id) == shop.id)).all()
        products = session.scalars(select(Product).where(col(Product.shop_id) == shop.id)).all()
        data["shop"] = {
            **_row(shop),
            "hours": [
                _row(h)
                for h in session.scalars(select(ShopHours).where(col(ShopHours.shop_id) == shop.id))
            ],
            "exceptions": [
                _row(e)
                for e in session.scalars(
                    select(ShopHoursException).where(col(ShopHoursException.shop_id) == shop.id)
                )
            ],
            "products": [_row(p) for p in products],
            "photos": [_row(p) for p in photos],
        }
        files = _stored_paths(
            [p.display_name for p in photos] + [p.display_name for p in products], media_dir
        )
    return data, files


def erase_person(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Cancel the person's open orders (stock goes back), anonymise the rest; delete their shop."""
    for order in session.scalars(
        select(ShopOrder).where(
            col(ShopOrder.customer_id) == user_id,
            col(ShopOrder.status).in_(("placed", "accepted", "ready")),
        )
    ).all():
        move_order(session, order, ("placed", "accepted", "ready"), "cancelled", utcnow())
        restock(session, order)
        owner = session.scalar(select(col(Shop.owner_id)).where(col(Shop.id) == order.shop_id))
        if owner is not None and owner != user_id:
            # The shop may be preparing it, or have it ready on the counter: tell it, as for any cancellation.
            notify(
                session,
                [owner],
                topic="local_shops",
                title=_("Commande n° %(id)s annulée") % {"id": order.id},
                body=_(
                    "Le client a supprimé son compte Eclor : sa commande est annulée et le stock a été "
                    "remis."
                ),
                url=f"/shops/manage/orders/{order.id}",
                urgency="high",
                dedupe=f"shop-order-cancelled:{order.id}",
            )
    session.execute(
        update(ShopOrder)
        .where(col(ShopOrder.customer_id) == user_id)
        .values(customer_id=None, customer_name="", note="")
        .execution_options(synchronize_session=False)
    )
    files: list[Path] = []
    shop = session.scalars(select(Shop).where(col(Shop.owner_id) == user_id)).first()
    if shop is not None:
        open_customers = session.scalars(
            select(col(ShopOrder.customer_id)).where(
                col(ShopOrder.shop_id) == shop.id,
                col(ShopOrder.status).in_(("placed", "accepted", "ready")),
                col(ShopOrder.customer_id).is_not(None),
            )
        ).all()
        notify(
            session,
            [c for c in open_customers if c is not None],
            topic="local_shops",
            title=_("Commande annulée : %(shop)s") % {"shop": shop.name},
            body=_("Ce commerce a quitté Eclor ; votre commande est annulée."),
            url="/shops/orders",
        )
        photos = session.scalars(select(ShopPhoto).where(col(ShopPhoto.shop_id) == shop.id)).all()
        products = session.scalars(select(Product).where(col(Product.shop_id) == shop.id)).all()
        files = _stored_paths(
            [n for p in photos for n in (p.display_name, p.thumb_name)]
            + [n for p in products for n in (p.display_name, p.thumb_name)],
            media_dir,
        )
        order_ids = select(col(ShopOrder.id)).where(col(ShopOrder.shop_id) == shop.id)
        session.execute(delete(OrderLine).where(col(OrderLine.order_id).in_(order_ids)))
        session.execute(delete(ShopOrder).where(col(ShopOrder.shop_id) == shop.id))
        for table in (Product, ShopPhoto, ShopHours, ShopHoursException):
            session.execute(delete(table).where(col(table.shop_id) == shop.id))
        session.execute(delete(Shop).where(col(Shop.id) == shop.id))
    return files
