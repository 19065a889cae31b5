"""Local shops: browse, shop pages (schema.org LocalBusiness), click & collect; the domain's routes.

The merchant's dashboard lives in ``shops_merchant`` (shop, photos, hours) and
``shops_products`` (products and orders); ``shops_context`` holds what the
pages share. ``ROUTES`` lists them all.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from app.auth import PUBLIC, SIGNED_IN, CurrentUser
from app.db import utcnow, saved_id
from app.forms import Form
from app.i18n import gettext as _
from app.interfaces import Contribution, Link, Panel
from app.models.territory import Commune
from app.models.shops import (
    Product,
    Shop,
    ShopOrder,
    ShopPhoto,
    ShopPickupPoint,
)
from app.routes import shops_points
from app.routes.shops_context import (
    pickup_point_of,
    commune_choices,
    form_text,
    order_lines,
    photo,
    photo_url_of,
    signed_in,
    territory,
    shop_in,
)
from app.routes.shops_merchant import (
    add_exception,
    delete_exception,
    delete_shop_photo,
    edit_shop_form,
    hours_form,
    manage,
    save_hours,
    save_shop,
)
from app.routes.shops_products import (
    add_product,
    manage_order,
    manage_orders,
    move_order,
    product_form,
    product_page,
    product_photo,
    quick_edit,
)
from app.shops import hours, pickup_points, schema_org
from app.shops.scope import in_territory
from app.territories import of_session
from app.shops import orders as logic
from app.templating import page

# --- residents ----------------------------------------------------------------------------------


def _shop_cards(db: Session, shops: list[Shop], now: datetime) -> list[dict[str, Any]]:
    if not shops:
        return []
    photos: dict[int, str] = {}
    for ph in db.scalars(
        select(ShopPhoto)
        .where(col(ShopPhoto.shop_id).in_([s.id for s in shops]))
        .order_by(col(ShopPhoto.position), col(ShopPhoto.id))
    ).all():
        photos.setdefault(ph.shop_id, ph.thumb_name)
    schedules = hours.Schedule.load_many(db, shops)
    cards = []
    for shop in shops:
        status = schedules[saved_id(shop)].status(now)
        cards.append(
            {"shop": shop, "status": status, "thumb": photo_url_of(photos.get(saved_id(shop)))}
        )
    return cards


@get("/shops", opt=PUBLIC, sync_to_thread=True, name="shops_index")
def index(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    q: FromQuery[str] = "",
    commune: FromQuery[str] = "",
    category: FromQuery[str] = "",
    open_now: FromQuery[str] = "",
) -> Template:
    now = utcnow()
    here = in_territory(territory(request))
    stmt = select(Shop).where(*here).order_by(Shop.name)
    if commune:
        stmt = stmt.where(col(Shop.commune_insee) == commune)
    if category in logic.CATEGORIES:
        stmt = stmt.where(col(Shop.category) == category)
    q = q.strip()[:80]
    products: list[tuple[Product, Shop]] = []
    if q:
        like = f"%{q.lower()}%"
        products = [
            (p, s)
            for p, s in db.execute(
                select(Product, Shop)
                .join(Shop, col(Shop.id) == col(Product.shop_id))
                .where(
                    col(Product.is_active),
                    or_(
                        func.lower(Product.name).like(like),
                        func.lower(Product.description).like(like),
                    ),
                )
                .where(*here, *([col(Shop.commune_insee) == commune] if commune else []))
                .order_by(Product.name)
                .limit(40)
            ).all()
        ]
        stmt = stmt.where(
            or_(
                func.lower(Shop.name).like(like),
                func.lower(Shop.description).like(like),
                col(Shop.id).in_([s.id for _p, s in products]),
            )
        )
    cards = _shop_cards(db, list(db.scalars(stmt).all()), now)
    if open_now:
        cards = [c for c in cards if c["status"]["open"]]
    cards.sort(key=lambda c: (not c["status"]["open"], c["shop"].name.lower()))
    return page(
        request,
        "shops/index.html",
        section="shops",
        cards=cards,
        products=products,
        communes=commune_choices(db, territory(request)),
        categories=logic.CATEGORIES,
        filters={"q": q, "commune": commune, "category": category, "open_now": bool(open_now)},
        euros=logic.euros,
        photo_url=photo_url_of,
    )


def _shop_page_context(db: Session, request: Request[Any, Any, Any], shop: Shop) -> dict[str, Any]:
    now = utcnow()
    schedule = hours.Schedule.load(db, shop)
    photos = db.scalars(
        select(ShopPhoto)
        .where(col(ShopPhoto.shop_id) == shop.id)
        .order_by(col(ShopPhoto.position), col(ShopPhoto.id))
    ).all()
    products = db.scalars(
        select(Product)
        .where(col(Product.shop_id) == shop.id, col(Product.is_active))
        .order_by(col(Product.name))
    ).all()
    today = now.astimezone(schedule.zone).date()
    special = []
    for offset in range(30):
        day = today + timedelta(days=offset)
        if day in schedule.exceptions:
            opens, closes, label = schedule.exceptions[day]
            special.append({"day": day, "label": label, "times": schedule.day_times(day)})
        elif shop.closed_on_holidays and hours.holiday_name(day, shop.commune_insee):
            holiday = hours.holiday_name(day, shop.commune_insee) or ""
            special.append({"day": day, "label": _(holiday), "times": []})
    weekly: dict[int, list[tuple[time, time]]] = {wd: [] for wd in range(7)}
    for wd, opens, closes in schedule.weekly:
        weekly[wd].append((opens, closes))
    commune = db.get(Commune, shop.commune_insee)
    ld = schema_org.json_ld(
        shop,
        schedule,
        base_url=request.app.state.settings.base_url,
        commune_name=commune.name if commune else "",
        postcode=commune.postcode if commune else "",
        products=products,
        photo_urls=[f"/shops/photos/{p.display_name}" for p in photos],
        product_photo_url=photo_url_of,
        today=today,
    )
    return {
        "shop": shop,
        "status": schedule.status(now),
        "photos": photos,
        "products": products,
        "weekly": weekly,
        "special": special,
        "slots": hours.pickup_slots(schedule, now) if shop.click_collect else [],
        "points": pickup_points.active_points(db, saved_id(shop)),
        "point_slots": [
            (point, times)
            for point in pickup_points.active_points(db, saved_id(shop))
            if (times := pickup_points.slots(point, now, schedule.zone))
        ]
        if shop.click_collect
        else [],
        "json_ld": json.dumps(ld, ensure_ascii=False).replace("<", "\\u003c"),
        "commune_name": commune_choices(db, territory(request)).get(shop.commune_insee, ""),
        "weekdays": hours.WEEKDAYS,
        "category_label": logic.CATEGORIES.get(shop.category, ""),
        "euros": logic.euros,
        "photo_url": photo_url_of,
    }


@get("/shops/{slug:str}", opt=PUBLIC, sync_to_thread=True, name="shops_shop")
def shop_page(
    request: Request[Any, Any, Any], db: NamedDependency[Session], slug: FromPath[str]
) -> Template:
    shop = shop_in(db, request, col(Shop.slug) == slug)  # another territory's is not found
    if shop is None:
        raise NotFoundException()
    return page(
        request,
        "shops/shop.html",
        section="shops",
        errors={},
        form={},
        **_shop_page_context(db, request, shop),
    )


@post("/shops/{slug:str}/order", opt=SIGNED_IN, sync_to_thread=True, name="shops_order")
def place_order(
    request: Request[Any, Any, Any], db: NamedDependency[Session], slug: FromPath[str], data: Form
) -> Template | Redirect:
    user = signed_in(request)
    shop = shop_in(db, request, col(Shop.slug) == slug)
    if shop is None:
        raise NotFoundException()
    errors: dict[str, str] = {}
    quantities: dict[int, int] = {}
    for key, value in data.items():
        if key.startswith("qty-") and str(value).strip():
            try:
                quantities[int(key[4:])] = int(str(value).strip())
            except ValueError:
                errors["__all__"] = _("Quantité invalide (entre 1 et 99).")
    pickup: datetime | None = None
    point: ShopPickupPoint | None = None
    chosen = str(data.get("pickup_at", ""))
    try:
        if chosen.startswith("P") and "@" in chosen:  # a producer's pick-up point: P<id>@<time>
            point_id, _at, chosen = chosen[1:].partition("@")
            point = db.get(ShopPickupPoint, int(point_id)) if point_id.isdigit() else None
            if point is None or point.shop_id != shop.id:
                raise ValueError
        pickup = datetime.fromisoformat(chosen)
        if pickup.tzinfo is None:
            raise ValueError
    except ValueError:
        errors["pickup_at"] = _("Choisissez un créneau de retrait.")
    if shop.owner_id == user.id:
        errors["__all__"] = _("Vous ne pouvez pas commander dans votre propre commerce.")
    if not errors and pickup is not None:
        try:
            order = logic.place_order(
                db,
                shop,
                user.id,
                user.name,
                quantities,
                pickup,
                str(data.get("note", ""))[:500],
                pickup_point=point,
            )
        except logic.OrderError as exc:
            db.rollback()
            errors["__all__"] = str(exc)
        else:
            db.commit()
            return Redirect(f"/shops/orders/{order.id}?placed=1", status_code=303)
    db.rollback()
    return page(
        request,
        "shops/shop.html",
        section="shops",
        status_code=400,
        errors=errors,
        form=form_text(data),
        **_shop_page_context(db, request, shop),
    )


@get("/shops/orders", opt=SIGNED_IN, sync_to_thread=True, name="shops_my_orders")
def my_orders(request: Request[Any, Any, Any], db: NamedDependency[Session]) -> Template:
    """The resident's own orders, in the shops of every territory: one account orders on several
    territories' sites, and this is where they follow all of their orders (and the order pages
    below are theirs on every host)."""
    user = signed_in(request)
    rows = db.execute(
        select(ShopOrder, Shop)
        .join(Shop, col(Shop.id) == col(ShopOrder.shop_id))
        .where(col(ShopOrder.customer_id) == user.id)
        .order_by(col(ShopOrder.created_at).desc())
        .limit(100)
    ).all()
    return page(
        request,
        "shops/orders.html",
        section="shops",
        rows=rows,
        labels=logic.ORDER_LABELS,
        euros=logic.euros,
    )


@get("/shops/orders/{order_id:int}", opt=SIGNED_IN, sync_to_thread=True, name="shops_my_order")
def my_order(
    request: Request[Any, Any, Any],
    db: NamedDependency[Session],
    order_id: FromPath[int],
    placed: FromQuery[str] = "",
) -> Template:
    user = signed_in(request)
    order = db.get(ShopOrder, order_id)
    if order is None or order.customer_id != user.id:
        raise NotFoundException()
    shop = db.get(Shop, order.shop_id)
    return page(
        request,
        "shops/order.html",
        section="shops",
        order=order,
        shop=shop,
        lines=order_lines(db, order),
        point=pickup_point_of(db, order),
        labels=logic.ORDER_LABELS,
        euros=logic.euros,
        merchant_view=False,
        placed=bool(placed),
        errors={},
    )


@post(
    "/shops/orders/{order_id:int}/cancel",
    opt=SIGNED_IN,
    sync_to_thread=True,
    name="shops_cancel_order",
)
def cancel_order(
    request: Request[Any, Any, Any], db: NamedDependency[Session], order_id: FromPath[int]
) -> Template | Redirect:
    user = signed_in(request)
    order = db.get(ShopOrder, order_id)
    if order is None or order.customer_id != user.id:
        raise NotFoundException()
    try:
        logic.customer_cancel(db, order)
    except logic.OrderError as exc:
        db.rollback()
        shop = db.get(Shop, order.shop_id)
        return page(
            request,
            "shops/order.html",
            section="shops",
            status_code=409,
            order=order,
            shop=shop,
            lines=order_lines(db, order),
            point=pickup_point_of(db, order),
            labels=logic.ORDER_LABELS,
            euros=logic.euros,
            merchant_view=False,
            placed=False,
            errors={"__all__": str(exc)},
        )
    db.commit()
    return Redirect(f"/shops/orders/{order_id}", status_code=303)


# --- home panel ------------------------------------------------------------------------------


def open_now_panel(session: Session, user: CurrentUser | None) -> dict[str, Any] | None:
    """The open shops of the page's territory; one's own orders ready to collect, in any."""
    now = utcnow()
    here = in_territory(of_session(session).id)
    shops = list(session.scalars(select(Shop).where(*here).order_by(Shop.name).limit(200)).all())
    schedules = hours.Schedule.load_many(session, shops)
    open_shops = [s for s in shops if schedules[saved_id(s)].is_open(now)]
    if not shops:
        return None
    ready = []
    if user is not None:
        ready = list(
            session.execute(
                select(ShopOrder, Shop)
                .join(Shop, col(Shop.id) == col(ShopOrder.shop_id))
                .where(col(ShopOrder.customer_id) == user.id, col(ShopOrder.status) == "ready")
            ).all()
        )
    # A shopkeeper's home page leads to their own shop.
    my_shop = (
        session.scalars(select(Shop).where(col(Shop.owner_id) == user.id)).first()
        if user is not None
        else None
    )
    return {
        "open_shops": open_shops[:5],
        "open_count": len(open_shops),
        "ready": ready,
        "my_shop": my_shop,
    }


ROUTES = [
    photo,
    index,
    my_orders,
    my_order,
    cancel_order,
    manage,
    edit_shop_form,
    save_shop,
    delete_shop_photo,
    hours_form,
    save_hours,
    add_exception,
    delete_exception,
    product_form,
    add_product,
    quick_edit,
    product_photo,
    product_page,
    manage_orders,
    manage_order,
    move_order,
    *shops_points.ROUTES,
    shop_page,
    place_order,
]

CONTRIBUTES = Contribution(
    routes=ROUTES,
    home_panels=(Panel("shops_open_now", 60, "shops/_home_panel.html", open_now_panel),),
    account_links=(
        Link(
            40,
            "/shops/orders",
            "Mes commandes",
            "Click & collect dans les commerces du territoire.",
        ),
        Link(
            41,
            "/shops/manage",
            "Mon commerce",
            "Commandes du jour, stock, horaires.",
            roles=("merchant", "admin"),
        ),
    ),
)
