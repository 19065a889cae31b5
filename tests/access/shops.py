"""Access rules of the local-shops routes. The shop belongs to ``merchant``; ``other_merchant`` has none."""

from __future__ import annotations

from datetime import time
from typing import Any

from tests.access import AccessContext, Row, roles_only, same_for_all, signed_in_only

MERCHANTS = ("merchant", "other_merchant", "admin")
NO_SUCH_PHOTO = "A" * 32 + ".jpg"


def _shop_owner(
    owner_status: int, *, others: int = 404, residents: int = 403, anonymous: int = 401
) -> dict[str, Any]:
    """The shop's merchant gets ``owner_status``; a merchant or admin without this shop gets 404."""
    return {
        "anonymous": anonymous,
        "resident": residents,
        "other_resident": residents,
        "merchant": owner_status,
        "other_merchant": others,
        "staff": residents,
        "admin": others,
        "social_worker": residents,
    }


def a_shop(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.models.shops import Product, Shop, ShopHours, ShopHoursException, ShopPhoto

    with write_session(ctx.engine) as session:
        shop = Shop(
            owner_id=ctx.user_ids["merchant"],
            slug="boulangerie-du-val",
            name="Boulangerie du Val",
            category="bakery",
            address="12 rue Carnot",
            commune_insee="54580",
            closed_on_holidays=False,
        )
        session.add(shop)
        session.flush()
        for wd in range(7):
            session.add(ShopHours(shop_id=shop.id, weekday=wd, opens=time(0), closes=time(0)))
        product = Product(shop_id=shop.id, name="Baguette", price_cents=130, stock=50)
        photo = ShopPhoto(
            shop_id=shop.id,
            display_name="B" * 32 + ".jpg",
            thumb_name="C" * 32 + ".jpg",
            width=800,
            height=600,
        )
        from zoneinfo import ZoneInfo

        from app.shops.hours import local_today_bounds

        exception = ShopHoursException(
            shop_id=shop.id,
            on_date=local_today_bounds(ZoneInfo("Europe/Paris"))[1].date(),
            label="Congés",
        )
        from app.models.shops import ShopPickupPoint

        point = ShopPickupPoint(
            shop_id=shop.id,
            name="Mairie",
            commune_insee="54580",
            weekday=3,
            opens=time(17),
            closes=time(19),
        )
        session.add_all([product, photo, exception, point])
        session.flush()
        return {
            "point_id": point.id,
            "slug": shop.slug,
            "shop_id": shop.id,
            "product_id": product.id,
            "photo_id": photo.id,
            "exception_id": exception.id,
        }


def an_order(ctx: AccessContext) -> dict[str, Any]:
    from app.db import utcnow, write_session
    from app.models.shops import Shop
    from app.shops import hours
    from app.shops import orders as shops

    values = a_shop(ctx)
    with write_session(ctx.engine) as session:
        shop = session.get(Shop, values["shop_id"])
        slot = hours.pickup_slots(hours.Schedule.load(session, shop), utcnow())[0]
        order = shops.place_order(
            session,
            shop,
            ctx.user_ids["resident"],
            "Julie",
            {values["product_id"]: 1},
            slot,
        )
        return {**values, "order_id": order.id}


def _customer_only(status: int, anonymous: int) -> dict[str, Any]:
    return {
        "anonymous": anonymous,
        "resident": status,
        "other_resident": 404,
        "merchant": 404,
        "other_merchant": 404,
        "staff": 404,
        "admin": 404,
    }


QUICK_EDIT = {"price": "1,40", "stock": "30", "is_active": "true"}

ROWS = [
    Row("GET", "/shops", same_for_all(200)),
    Row(
        "GET", f"/shops/photos/{NO_SUCH_PHOTO}", same_for_all(404), route="/shops/photos/{name:str}"
    ),
    Row("GET", "/shops/{slug}", same_for_all(200), setup=a_shop, route="/shops/{slug:str}"),
    Row(
        "POST",
        "/shops/{slug}/order",
        signed_in_only(400, anonymous=401),
        setup=a_shop,
        data={"note": "rien"},
        route="/shops/{slug:str}/order",
        notes="no product chosen: a French message, nothing written",
    ),
    Row("GET", "/shops/orders", signed_in_only(200)),
    Row(
        "GET",
        "/shops/orders/{order_id}",
        _customer_only(200, 303),
        setup=an_order,
        route="/shops/orders/{order_id:int}",
    ),
    Row(
        "POST",
        "/shops/orders/{order_id}/cancel",
        _customer_only(303, 401),
        setup=an_order,
        route="/shops/orders/{order_id:int}/cancel",
    ),
    Row(
        "GET",
        "/shops/manage",
        {**roles_only(MERCHANTS, 303), "merchant": 200},
        setup=a_shop,
        notes="a merchant without a shop is sent to the shop form",
    ),
    Row("GET", "/shops/manage/shop", roles_only(MERCHANTS, 200)),
    Row(
        "POST",
        "/shops/manage/shop/save",
        roles_only(MERCHANTS, 400, anonymous=401),
        data={"name": ""},
    ),
    Row(
        "POST",
        "/shops/manage/photos/{photo_id}/delete",
        _shop_owner(303),
        setup=a_shop,
        route="/shops/manage/photos/{photo_id:int}/delete",
    ),
    Row("GET", "/shops/manage/hours", _shop_owner(200, anonymous=303), setup=a_shop),
    Row(
        "POST",
        "/shops/manage/hours/save",
        _shop_owner(303),
        setup=a_shop,
        data={"h0_o1": "09:00", "h0_c1": "12:00"},
    ),
    Row(
        "POST",
        "/shops/manage/exceptions",
        _shop_owner(400),
        setup=a_shop,
        data={"on_date": "pas une date"},
    ),
    Row(
        "POST",
        "/shops/manage/exceptions/{exception_id}/delete",
        _shop_owner(303),
        setup=a_shop,
        route="/shops/manage/exceptions/{exception_id:int}/delete",
    ),
    Row("GET", "/shops/manage/pickup-points", _shop_owner(200, anonymous=303), setup=a_shop),
    Row(
        "POST",
        "/shops/manage/pickup-points",
        _shop_owner(303),
        setup=a_shop,
        data={
            "name": "Marché de Villerupt",
            "commune_insee": "54580",
            "weekday": "5",
            "opens": "08:00",
            "closes": "12:30",
        },
    ),
    Row(
        "POST",
        "/shops/manage/pickup-points/{point_id}/delete",
        _shop_owner(303),
        setup=a_shop,
        route="/shops/manage/pickup-points/{point_id:int}/delete",
    ),
    Row("GET", "/shops/manage/products/new", _shop_owner(200, anonymous=303), setup=a_shop),
    Row("POST", "/shops/manage/products", _shop_owner(400), setup=a_shop, data={"name": ""}),
    Row(
        "GET",
        "/shops/manage/products/{product_id}",
        _shop_owner(200, anonymous=303),
        setup=a_shop,
        route="/shops/manage/products/{product_id:int}",
    ),
    Row(
        "POST",
        "/shops/manage/products/{product_id}/save",
        _shop_owner(303),
        setup=a_shop,
        data=QUICK_EDIT,
        route="/shops/manage/products/{product_id:int}/save",
    ),
    Row(
        "POST",
        "/shops/manage/products/{product_id}/photo",
        _shop_owner(400),
        setup=a_shop,
        route="/shops/manage/products/{product_id:int}/photo",
        notes="no file sent: a French message",
    ),
    Row("GET", "/shops/manage/orders", _shop_owner(200, anonymous=303), setup=a_shop),
    Row(
        "GET",
        "/shops/manage/orders/{order_id}",
        _shop_owner(200, anonymous=303),
        setup=an_order,
        route="/shops/manage/orders/{order_id:int}",
    ),
    Row(
        "POST",
        "/shops/manage/orders/{order_id}/accept",
        _shop_owner(303),
        setup=an_order,
        route="/shops/manage/orders/{order_id:int}/{action:str}",
    ),
]
