"""Local shops on an install of several territories: a shop belongs to the territory of its commune;
every shop page a host answers (the list, shop pages, click & collect, photos, the merchant's pages,
the home panel) keeps to its territory's shops, and a resident's own orders follow them on every
host."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from app.db import read_session, write_session
from app.models.shops import (
    Product,
    Shop,
    ShopHoursException,
    ShopOrder,
    ShopPhoto,
    ShopPickupPoint,
)
from app.shops import orders as shops
from tests.territory_sweep import domain_routes
from tests.territory_sweep import refused as is_refused
from tests.test_shops import first_slot, make_shop
from tests.test_territories import ESCH
from tests.test_territory_reports import add_minett

B_SHOP = "Épicerie fine du Minett"
B_PRODUCT = "Judd mat Gaardebounen"
SHOPS_DOMAIN = ("/shops",)


@pytest.fixture
def two(app, engine, personas) -> dict[str, Any]:
    """A shop in each territory: the first's (A) in Villerupt kept by ``merchant``, the Minett's (B)
    in Esch-sur-Alzette kept by ``other_merchant``, with a photo, an exceptional closing, a
    pick-up point and an order by the commuter (``resident``), who also ordered in A."""
    minett = add_minett(engine)
    a = make_shop(engine, personas["merchant"].id)
    b = make_shop(
        engine,
        personas["other_merchant"].id,
        name=B_SHOP,
        products=((B_PRODUCT, 1450, 20),),
        commune="L0204",
    )
    commuter = personas["resident"]
    with write_session(engine) as s:
        photo = ShopPhoto(
            shop_id=b["id"],
            display_name="b" * 32 + ".jpg",
            thumb_name="c" * 32 + ".jpg",
            width=800,
            height=600,
        )
        closing = ShopHoursException(
            shop_id=b["id"], on_date=date.today() + timedelta(days=40), label="Inventaire"
        )
        point = ShopPickupPoint(
            shop_id=b["id"],
            name="Marché d'Esch",
            address="Place de l'Hôtel de Ville",
            commune_insee="L0204",
            weekday=5,
            opens=time(8),
            closes=time(12),
        )
        s.add_all([photo, closing, point])
        s.flush()
        ids = {"photo": photo.id, "closing": closing.id, "point": point.id}
    with write_session(engine) as s:
        b_order = shops.place_order(
            s,
            s.get(Shop, b["id"]),
            commuter.id,
            "Julie",
            {b["products"][0]: 1},
            first_slot(engine, b["id"]),
        ).id
        a_order = shops.place_order(
            s,
            s.get(Shop, a["id"]),
            commuter.id,
            "Julie",
            {a["products"][0]: 1},
            first_slot(engine, a["id"]),
        ).id
    return {
        "minett": minett,
        "a": a,
        "b": b,
        "b_order": b_order,
        "a_order": a_order,
        "b_photos": ["b" * 32 + ".jpg", "c" * 32 + ".jpg"],
        **{f"b_{k}": v for k, v in ids.items()},
    }


def _domain_routes(app: Any) -> list[tuple[str, str]]:
    return domain_routes(app, SHOPS_DOMAIN)


def _gets(path: str, two: dict[str, Any]) -> tuple[list[str], list[str]]:
    """For a GET path: (URLs to read that may answer, URLs naming B's rows that must not)."""
    if "{" not in path:
        extra = {
            "/shops": [
                "/shops?commune=L0204",
                "/shops?q=Judd",
                "/shops?q=Minett",
                "/shops?open_now=1",
            ]
        }
        return [path, *extra.get(path, [])], []
    fill: dict[str, tuple[list[str], list[str]]] = {
        "/shops/{slug:str}": ([f"/shops/{two['a']['slug']}"], [f"/shops/{two['b']['slug']}"]),
        "/shops/orders/{order_id:int}": ([], [f"/shops/orders/{two['b_order']}"]),
        "/shops/photos/{name:str}": ([], [f"/shops/photos/{n}" for n in two["b_photos"]]),
        "/shops/manage/orders/{order_id:int}": ([], [f"/shops/manage/orders/{two['b_order']}"]),
        "/shops/manage/products/{product_id:int}": (
            [],
            [f"/shops/manage/products/{two['b']['products'][0]}"],
        ),
    }
    if path not in fill:
        raise AssertionError(f"{path}: a shops route with parameters this sweep has no sample for")
    return fill[path]


def _posts(path: str, two: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """For a POST path: requests naming B's rows, each to be refused (none: the poster's own)."""
    b, order, product = two["b"], two["b_order"], two["b"]["products"][0]
    fill: dict[str, list[tuple[str, dict[str, str]]]] = {
        "/shops/{slug:str}/order": [(f"/shops/{b['slug']}/order", {f"qty-{product}": "1"})],
        "/shops/orders/{order_id:int}/cancel": [(f"/shops/orders/{order}/cancel", {})],
        "/shops/manage/orders/{order_id:int}/{action:str}": [
            (f"/shops/manage/orders/{order}/{a}", {}) for a in ("accept", "refuse", "ready")
        ],
        "/shops/manage/products/{product_id:int}/save": [
            (f"/shops/manage/products/{product}/save", {"price": "0,01", "stock": "0"})
        ],
        "/shops/manage/products/{product_id:int}/photo": [
            (f"/shops/manage/products/{product}/photo", {})
        ],
        "/shops/manage/photos/{photo_id:int}/delete": [
            (f"/shops/manage/photos/{two['b_photo']}/delete", {})
        ],
        "/shops/manage/exceptions/{exception_id:int}/delete": [
            (f"/shops/manage/exceptions/{two['b_closing']}/delete", {})
        ],
        "/shops/manage/pickup-points/{point_id:int}/delete": [
            (f"/shops/manage/pickup-points/{two['b_point']}/delete", {})
        ],
        # The merchant's own shop (its commune is checked below).
        "/shops/manage/shop/save": [],
        "/shops/manage/hours/save": [],
        "/shops/manage/exceptions": [],
        "/shops/manage/products": [],
        "/shops/manage/pickup-points": [],
    }
    if path not in fill:
        raise AssertionError(f"{path}: a shops route that writes this sweep has no sample for")
    return fill[path]


def _leaks(text: str, two: dict[str, Any]) -> list[str]:
    marks = (B_SHOP, B_PRODUCT, two["b"]["slug"], "Marché d'Esch", *two["b_photos"])
    return [m for m in marks if m in text]


def _state(engine: Any, two: dict[str, Any]) -> list[Any]:
    with Session(engine) as s:
        order = s.get(ShopOrder, two["b_order"])
        product = s.get(Product, two["b"]["products"][0])
        assert order is not None and product is not None
        return [
            (order.status, order.updated_at),
            (product.price_cents, product.stock, product.is_active),
            s.get(ShopPhoto, two["b_photo"]) is not None,
            s.get(ShopHoursException, two["b_closing"]) is not None,
            s.get(ShopPickupPoint, two["b_point"]) is not None,
            len(s.scalars(select(ShopOrder)).all()),
        ]


def _sweep(c: Any, app: Any, engine: Any, two: dict[str, Any]) -> int:
    routes = _domain_routes(app)
    gets = [p for m, p in routes if m == "GET"]
    posts = [p for m, p in routes if m == "POST"]
    assert "/shops" in gets and "/shops/manage" in gets and len(gets) >= 12
    before = _state(engine, two)
    read = 0
    for path in gets:
        ok, refused = _gets(path, two)
        for url in ok:
            answer = c.get(url, follow_redirects=False)
            assert answer.status_code < 500, (url, answer.status_code)
            assert not _leaks(answer.text, two), (url, _leaks(answer.text, two))
            read += 1
        for url in refused:
            answer = c.get(url, follow_redirects=False)
            assert is_refused(answer), (url, answer.status_code)
            assert not _leaks(answer.text.replace(url, ""), two), url
    for path in posts:
        for url, form in _posts(path, two):
            answer = c.post_form(url, form)
            assert is_refused(answer), (url, answer.status_code)
            assert not _leaks(answer.text.replace(url, ""), two), url
    assert _state(engine, two) == before
    return read


@pytest.mark.parametrize("who", ["merchant", "staff", "other_resident", None])
def test_sweeping_every_shops_route_on_one_territorys_host_finds_nothing_of_the_other(
    app, engine, client, two, personas, who
):
    """As the first territory's merchant, its staff, a resident with no order in the Minett, and
    anonymously."""
    c = personas[who].client if who else client
    assert _sweep(c, app, engine, two) >= 12


def test_the_minett_host_lists_the_minetts_shops_and_not_the_first_territorys(client, two):
    there = client.get("/shops", headers=ESCH).text
    assert B_SHOP in there and "Boulangerie du Val" not in there
    assert client.get(f"/shops/{two['b']['slug']}", headers=ESCH).status_code == 200
    assert client.get(f"/shops/{two['a']['slug']}", headers=ESCH).status_code == 404
    assert B_PRODUCT in client.get("/shops?q=Judd", headers=ESCH).text
    # The home page's open shops are the host's territory's.
    assert B_SHOP in client.get("/", headers=ESCH).text
    assert B_SHOP not in client.get("/").text


def test_a_merchant_manages_their_shop_on_its_territorys_host_only(engine, two, personas):
    b_keeper, a_keeper = personas["other_merchant"], personas["merchant"]
    assert B_SHOP in b_keeper.client.get("/shops/manage", headers=ESCH).text
    order = f"/shops/manage/orders/{two['b_order']}"
    assert b_keeper.client.get(order, headers=ESCH).status_code == 200
    # On the first territory's host the Minett's shopkeeper is told the shop is managed elsewhere
    # (not offered a second shop), and can change nothing there.
    mine = b_keeper.client.get("/shops/manage", follow_redirects=False)
    assert mine.status_code == 403 and "site de son territoire" in mine.text
    assert b_keeper.client.get(order).status_code == 403
    assert b_keeper.client.post_form(f"{order}/accept").status_code == 403
    # A shop cannot be moved into another territory's commune from this host.
    answer = a_keeper.client.post_form(
        "/shops/manage/shop/save",
        {
            "name": "Boulangerie du Val",
            "category": "bakery",
            "address": "12 rue Carnot",
            "commune_insee": "L0204",
        },
    )
    assert answer.status_code == 400 and "Choisissez une commune du territoire" in answer.text
    with read_session(engine) as s:
        shop = s.get(Shop, two["a"]["id"])
        assert shop is not None and shop.commune_insee == "54580"
    form = a_keeper.client.get("/shops/manage/shop").text
    assert "Esch-sur-Alzette" not in form


def test_a_commuter_follows_their_orders_in_both_territories_on_either_host(engine, two, personas):
    commuter = personas["resident"]
    for headers in ({}, ESCH):
        mine = commuter.client.get("/shops/orders", headers=headers).text
        assert f"/shops/orders/{two['b_order']}" in mine
        assert f"/shops/orders/{two['a_order']}" in mine
    assert commuter.client.get(f"/shops/orders/{two['b_order']}").status_code == 200
    # They order in the Minett on its host; through the first's host that shop is not found.
    slot = first_slot(engine, two["b"]["id"]).isoformat()
    product = two["b"]["products"][0]
    form = {f"qty-{product}": "1", "pickup_at": slot}
    assert commuter.client.post_form(f"/shops/{two['b']['slug']}/order", form).status_code == 404
    placed = commuter.client.post_form(f"/shops/{two['b']['slug']}/order", form, headers=ESCH)
    assert placed.status_code == 303, placed.text
    with read_session(engine) as s:
        orders = s.scalars(select(ShopOrder).where(col(ShopOrder.shop_id) == two["b"]["id"])).all()
        assert len(orders) == 2
