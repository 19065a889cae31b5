"""Local shops: shops and products (categories, addresses, prices), orders and stock.

Stock never goes below zero: an order takes stock with a conditional
``UPDATE ... SET stock = stock - n WHERE stock >= n`` inside the order's
write transaction, and an order with one line short is refused whole.
Opening hours and pick-up slots live in ``app.shops.hours``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlmodel import Session, col

from app.db import utcnow, saved_id
from app.i18n import NC_
from app.i18n import gettext as _
from app.models.shops import (
    OrderLine,
    Product,
    Shop,
    ShopOrder,
    ShopPickupPoint,
)
from app.notify import notify
from app.shops import pickup_points
from app.shops.hours import Schedule, slot_is_valid
from app.territories import commune_zone

MAX_QUANTITY = 99

CATEGORIES: dict[str, str] = {
    "bakery": "Boulangerie, pâtisserie",
    "butcher": "Boucherie, charcuterie",
    "grocery": "Épicerie, primeur",
    "florist": "Fleuriste",
    "bike": "Vélos, réparation",
    "books": "Librairie, presse",
    "clothes": "Vêtements, chaussures",
    "health": "Santé, beauté",
    "home": "Maison, bricolage",
    "farm": "Ferme, producteur",
    "amap": "AMAP",
    "market": "Stand de marché",
    "other": "Autre commerce",
}
RESERVED_SLUGS = frozenset({"manage", "orders", "photos", "new"})

# Which state an order may move to, and who moves it.
MERCHANT_MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "accept": (("placed",), "accepted"),
    "ready": (("placed", "accepted"), "ready"),
    "collected": (("ready",), "collected"),
    "refuse": (("placed", "accepted"), "refused"),
}
ORDER_LABELS = {
    "placed": "Reçue",
    "accepted": "Acceptée",
    "ready": "Prête",
    "collected": NC_("shop order", "Retirée"),
    "cancelled": "Annulée",
    "refused": "Refusée",
}


class OrderError(ValueError):
    """An order that cannot be placed or moved; the message is French, for the person."""


# --- slugs, prices ---------------------------------------------------------------------------


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60]
    return slug or "commerce"


def unique_slug(session: Session, name: str, shop_id: int | None = None) -> str:
    base = slugify(name)
    if base in RESERVED_SLUGS:
        base = f"{base}-commerce"
    slug, n = base, 1
    while True:
        found = session.scalars(select(col(Shop.id)).where(col(Shop.slug) == slug)).first()
        if found is None or found == shop_id:
            return slug
        n += 1
        slug = f"{base}-{n}"


def parse_price(text: str) -> int:
    """Euros as typed by a person ("2,50", "2.5", "3 €") to integer cents."""
    cleaned = text.replace("€", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not re.fullmatch(r"\d{1,5}(\.\d{1,2})?", cleaned):
        raise ValueError(_("Prix invalide : écrivez par exemple 2,50."))
    euros, _sep, cents = cleaned.partition(".")
    return int(euros) * 100 + int((cents + "00")[:2])


def euros(cents: int) -> str:
    """Cents as French euros: 250 → "2,50 €"."""
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0€"


# --- orders ---------------------------------------------------------------------------------


def place_order(
    session: Session,
    shop: Shop,
    customer_id: int,
    customer_name: str,
    quantities: dict[int, int],
    pickup_at: datetime,
    note: str = "",
    now: datetime | None = None,
    pickup_point: ShopPickupPoint | None = None,
) -> ShopOrder:
    """Place a click & collect order in the caller's write transaction.

    Every line takes its stock with a conditional update; when one line is
    short, :class:`OrderError` is raised and the caller rolls back the whole
    transaction, so no line keeps the stock it took.
    """
    now = now or utcnow()
    wanted = {pid: qty for pid, qty in quantities.items() if qty}
    if not wanted:
        raise OrderError(_("Choisissez au moins un produit."))
    if any(qty < 0 or qty > MAX_QUANTITY for qty in wanted.values()):
        raise OrderError(_("Quantité invalide (entre 1 et 99)."))
    if not shop.click_collect:
        raise OrderError(_("Ce commerce ne prend pas de commandes en ligne."))
    if pickup_point is not None:
        if pickup_point.shop_id != shop.id or not pickup_points.slot_is_valid(
            pickup_point, pickup_at, now, commune_zone(session, shop.commune_insee)
        ):
            raise OrderError(
                _(
                    "Choisissez un créneau de retrait pendant les horaires du point de retrait, "
                    "deux heures après la commande au plus tôt."
                )
            )
    elif not slot_is_valid(Schedule.load(session, shop), pickup_at, now):
        raise OrderError(
            _(
                "Choisissez un créneau de retrait pendant les heures d'ouverture, "
                "deux heures après la commande au plus tôt."
            )
        )
    products = {
        p.id: p
        for p in session.scalars(
            select(Product).where(
                col(Product.id).in_(list(wanted)), col(Product.shop_id) == shop.id
            )
        ).all()
    }
    if set(products) != set(wanted) or not all(p.is_active for p in products.values()):
        raise OrderError(_("Un des produits n'est plus proposé. Rechargez la page."))
    order = ShopOrder(
        shop_id=saved_id(shop),
        customer_id=customer_id,
        customer_name=customer_name[:80],
        pickup_at=pickup_at,
        pickup_point_id=pickup_point.id if pickup_point is not None else None,
        note=note[:500],
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    total = 0
    for pid in sorted(wanted):
        product, qty = products[pid], wanted[pid]
        kept = product.stock is not None
        if kept:
            taken = session.exec(
                update(Product)
                .where(
                    col(Product.id) == pid,
                    col(Product.stock).is_not(None),
                    col(Product.stock) >= qty,
                )
                .values(stock=col(Product.stock) - qty, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:
                raise OrderError(
                    _("Plus assez de stock pour « %(name)s ». Réduisez la quantité.")
                    % {"name": product.name}
                )
        session.add(
            OrderLine(
                order_id=saved_id(order),
                product_id=pid,
                name=product.name,
                unit_price_cents=product.price_cents,
                quantity=qty,
                stock_kept=kept,
            )
        )
        total += product.price_cents * qty
    order.total_cents = total
    notify(
        session,
        [shop.owner_id],
        topic="local_shops",
        title=_("Nouvelle commande n° %(id)s") % {"id": order.id},
        body=_("%(name)s, retrait le %(when)s, %(total)s (paiement au comptoir).")
        % {
            "name": customer_name or _("Un client"),
            "when": _local(session, shop, pickup_at)
            + (f" ({pickup_point.name})" if pickup_point is not None else ""),
            "total": euros(total),
        },
        url=f"/shops/manage/orders/{order.id}",
        urgency="high",
        dedupe=f"shop-order-placed:{order.id}",
    )
    return order


def _local(session: Session, shop: Shop, moment: datetime) -> str:
    """A pick-up time as the shop's clock shows it (its territory's)."""
    return moment.astimezone(commune_zone(session, shop.commune_insee)).strftime("%d/%m %H:%M")


def restock(session: Session, order: ShopOrder) -> None:
    lines = session.scalars(select(OrderLine).where(col(OrderLine.order_id) == order.id)).all()
    for line in lines:
        if line.stock_kept:
            session.execute(
                update(Product)
                .where(col(Product.id) == line.product_id, col(Product.stock).is_not(None))
                .values(stock=col(Product.stock) + line.quantity)
                .execution_options(synchronize_session=False)
            )


def move_order(
    session: Session, order: ShopOrder, allowed_from: Iterable[str], to: str, now: datetime
) -> None:
    """Conditional state change: a second click (or a race) finds the order moved and fails cleanly."""
    done = session.exec(
        update(ShopOrder)
        .where(col(ShopOrder.id) == order.id, col(ShopOrder.status).in_(list(allowed_from)))
        .values(status=to, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise OrderError(_("Cette commande a déjà changé d'état. Rechargez la page."))
    session.refresh(order)


def merchant_move(
    session: Session, order: ShopOrder, action: str, now: datetime | None = None
) -> ShopOrder:
    """Accept, mark ready, mark collected or refuse an order (the caller checked ownership)."""
    now = now or utcnow()
    if action not in MERCHANT_MOVES:
        raise OrderError(_("Action inconnue."))
    sources, target = MERCHANT_MOVES[action]
    move_order(session, order, sources, target, now)
    shop = session.get(Shop, order.shop_id)
    assert shop is not None
    if target == "ready":
        order.ready_at = now
    if target in ("collected", "refused"):
        order.closed_at = now
    if target == "refused":
        restock(session, order)
    session.add(order)
    if order.customer_id is not None and target in ("accepted", "ready", "refused"):
        titles = {
            "accepted": _("%(shop)s prépare votre commande"),
            "ready": _("Votre commande chez %(shop)s est prête"),
            "refused": _("%(shop)s ne peut pas honorer votre commande"),
        }
        bodies = {
            "accepted": _("Retrait le %(when)s. Paiement au comptoir."),
            "ready": _("Vous pouvez passer la retirer (%(when)s prévu). Paiement au comptoir."),
            "refused": _("Votre commande n° %(id)s est refusée. Contactez le commerce si besoin."),
        }
        values = {"shop": shop.name, "when": _local(session, shop, order.pickup_at), "id": order.id}
        notify(
            session,
            [order.customer_id],
            topic="local_shops",
            title=titles[target] % values,
            body=bodies[target] % values,
            url=f"/shops/orders/{order.id}",
            urgency="high" if target == "ready" else "normal",
            dedupe=f"shop-order-{target}:{order.id}",
        )
    return order


def customer_cancel(session: Session, order: ShopOrder, now: datetime | None = None) -> ShopOrder:
    now = now or utcnow()
    move_order(session, order, ("placed", "accepted"), "cancelled", now)
    order.closed_at = now
    session.add(order)
    restock(session, order)
    shop = session.get(Shop, order.shop_id)
    if shop is not None:
        notify(
            session,
            [shop.owner_id],
            topic="local_shops",
            title=_("Commande n° %(id)s annulée") % {"id": order.id},
            body=_("Le client a annulé sa commande ; le stock a été remis."),
            url=f"/shops/manage/orders/{order.id}",
            dedupe=f"shop-order-cancelled:{order.id}",
        )
    return order


def low_stock(session: Session, shop: Shop) -> list[Product]:
    return list(
        session.scalars(
            select(Product)
            .where(
                col(Product.shop_id) == shop.id,
                col(Product.is_active),
                col(Product.stock).is_not(None),
                col(Product.stock) <= shop.low_stock_threshold,
            )
            .order_by(col(Product.stock), col(Product.name))
        ).all()
    )
