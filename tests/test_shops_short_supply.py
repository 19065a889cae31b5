"""Short supply chains in the shops domain: a producer (farm, AMAP, market stall) sells a weekly
basket by click & collect and hands it over at pick-up points, each with a weekly window; a
resident orders a basket for a point and a time inside its window, times outside it (or at
another producer's point) are refused in French and take no stock."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.db import read_session, write_session
from app.models.shops import Product, Shop, ShopOrder, ShopPickupPoint
from app.shops import orders as shops
from app.shops import pickup_points

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday, 10:00 in Villerupt


def a_farm(engine, owner_id: int, *, name: str = "Ferme du Bois d’Ottange") -> dict:
    """A farm with no shop hours of its own: it sells only through its pick-up points."""
    with write_session(engine) as s:
        shop = Shop(
            owner_id=owner_id,
            slug=shops.unique_slug(s, name),
            name=name,
            category="farm",
            address="Chemin de la ferme",
            commune_insee="57529",
        )
        s.add(shop)
        s.flush()
        basket = Product(
            shop_id=shop.id, name="Panier légumes", price_cents=1500, stock=20, basket=True
        )
        eggs = Product(shop_id=shop.id, name="Œufs (6)", price_cents=280, stock=None)
        market = ShopPickupPoint(
            shop_id=shop.id,
            name="Marché de Villerupt",
            address="Place Jean-Jaurès",
            commune_insee="54580",
            weekday=5,  # Saturday
            opens=time(8),
            closes=time(12, 30),
        )
        town_hall = ShopPickupPoint(
            shop_id=shop.id,
            name="Mairie d’Audun-le-Tiche",
            commune_insee="57038",
            weekday=3,  # Thursday
            opens=time(17),
            closes=time(19),
        )
        s.add_all([basket, eggs, market, town_hall])
        s.flush()
        return {
            "id": shop.id,
            "slug": shop.slug,
            "basket": basket.id,
            "eggs": eggs.id,
            "market": market.id,
            "town_hall": town_hall.id,
        }


def test_a_point_offers_every_half_hour_of_its_weekly_window_from_two_hours_on(engine, merchant):
    farm = a_farm(engine, merchant.id)
    with read_session(engine) as s:
        market = s.get(ShopPickupPoint, farm["market"])
        town_hall = s.get(ShopPickupPoint, farm["town_hall"])
    saturday = [t.astimezone(PARIS) for t in pickup_points.slots(market, NOW, PARIS)]
    assert saturday[0] == datetime(2026, 12, 12, 8, 0, tzinfo=PARIS)
    assert saturday[-1] == datetime(2026, 12, 12, 12, 0, tzinfo=PARIS)
    assert len(saturday) == 9
    # Thursday 17:00 local is offered; on Thursday at 16:00, 17:30 is the first time left.
    thursday_at_4 = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
    first = pickup_points.slots(town_hall, thursday_at_4, PARIS)[0].astimezone(PARIS)
    assert first == datetime(2026, 12, 10, 18, 0, tzinfo=PARIS)


def test_a_basket_is_ordered_for_a_pick_up_point_and_a_time(engine, merchant, resident):
    farm = a_farm(engine, merchant.id)
    at = datetime(2026, 12, 12, 9, 30, tzinfo=PARIS)
    with write_session(engine) as s:
        shop = s.get(Shop, farm["id"])
        point = s.get(ShopPickupPoint, farm["market"])
        order = shops.place_order(
            s,
            shop,
            resident.id,
            "Léa",
            {farm["basket"]: 2, farm["eggs"]: 1},
            at,
            now=NOW,
            pickup_point=point,
        )
        order_id = order.id
    with read_session(engine) as s:
        order = s.get(ShopOrder, order_id)
        assert order.pickup_point_id == farm["market"]
        assert order.pickup_at == at.astimezone(UTC)
        assert order.total_cents == 2 * 1500 + 280
        assert s.get(Product, farm["basket"]).stock == 18


@pytest.mark.parametrize(
    ("when", "point_key"),
    [
        (datetime(2026, 12, 12, 13, 0, tzinfo=PARIS), "market"),  # after the market closes
        (datetime(2026, 12, 11, 9, 0, tzinfo=PARIS), "market"),  # a Friday
        (datetime(2026, 12, 12, 9, 0, tzinfo=PARIS), "town_hall"),  # Saturday at the town hall
        (datetime(2026, 12, 19, 9, 0, tzinfo=PARIS), "market"),  # more than a week ahead
    ],
)
def test_a_time_outside_the_points_window_is_refused_in_french_and_takes_no_stock(
    engine, merchant, resident, when, point_key
):
    farm = a_farm(engine, merchant.id)
    with write_session(engine) as s:
        shop = s.get(Shop, farm["id"])
        point = s.get(ShopPickupPoint, farm[point_key])
        with pytest.raises(shops.OrderError, match="horaires du point de retrait"):
            shops.place_order(
                s, shop, resident.id, "Léa", {farm["basket"]: 1}, when, now=NOW, pickup_point=point
            )
        s.rollback()
    with read_session(engine) as s:
        assert s.get(Product, farm["basket"]).stock == 20
        assert s.scalars(select(ShopOrder)).all() == []


def test_a_resident_orders_a_basket_on_the_farms_page_for_the_market_on_saturday(
    engine, merchant, resident
):
    farm = a_farm(engine, merchant.id)
    page = resident.client.get(f"/shops/{farm['slug']}")
    assert page.status_code == 200
    assert "Panier de la semaine" in page.text
    assert '<optgroup label="Marché de Villerupt, Place Jean-Jaurès">' in page.text
    value = re.search(rf'<option value="(P{farm["market"]}@[^"]+)"', page.text).group(1)
    answer = resident.client.post_form(
        f"/shops/{farm['slug']}/order", {f"qty-{farm['basket']}": "1", "pickup_at": value}
    )
    assert answer.status_code == 303, answer.text
    with read_session(engine) as s:
        order = s.scalars(select(ShopOrder)).one()
        assert order.pickup_point_id == farm["market"]
        local = order.pickup_at.astimezone(PARIS)
        assert local.weekday() == 5 and time(8) <= local.time() < time(12, 30)
    detail = resident.client.get(answer.headers["location"])
    assert '<strong id="pickup-point">Marché de Villerupt</strong>' in detail.text
    merchant_view = merchant.client.get(f"/shops/manage/orders/{order.id}")
    assert '<strong id="pickup-point">Marché de Villerupt</strong>' in merchant_view.text


def test_another_producers_point_or_a_made_up_one_is_refused_on_the_page(
    engine, merchant, resident, personas
):
    farm = a_farm(engine, merchant.id)
    other = a_farm(engine, personas["other_merchant"].id, name="AMAP du Val d’Alzette")
    page = resident.client.get(f"/shops/{other['slug']}")
    value = re.search(rf'<option value="(P{other["market"]}@[^"]+)"', page.text).group(1)
    for chosen in (value, "P99999@" + value.partition("@")[2], "Pabc@2026-12-12T08:00:00+00:00"):
        answer = resident.client.post_form(
            f"/shops/{farm['slug']}/order", {f"qty-{farm['basket']}": "1", "pickup_at": chosen}
        )
        assert answer.status_code == 400
        assert "Choisissez un créneau de retrait." in answer.text
    with read_session(engine) as s:
        assert s.scalars(select(ShopOrder)).all() == []


def test_producers_are_kinds_of_shops():
    assert {"farm", "amap", "market"} <= set(shops.CATEGORIES)
    assert shops.CATEGORIES["amap"] == "AMAP"
    assert all(c in shops.CATEGORIES for c in pickup_points.PRODUCER_CATEGORIES)
    assert timedelta(hours=2) == pickup_points.PREPARATION


def test_a_producer_adds_and_removes_pick_up_points_and_bad_times_are_refused_in_french(
    engine, merchant, resident
):
    farm = a_farm(engine, merchant.id)
    form = {
        "name": "Cour de la ferme",
        "address": "Chemin du Bois",
        "commune_insee": "57529",
        "weekday": "2",
        "opens": "17:00",
        "closes": "16:00",
    }
    refused = merchant.client.post_form("/shops/manage/pickup-points", form)
    assert refused.status_code == 400
    assert "L’heure de fin doit suivre l’heure de début." in refused.text
    refused = merchant.client.post_form(
        "/shops/manage/pickup-points", {**form, "closes": "19:00", "commune_insee": "75056"}
    )
    assert refused.status_code == 400 and "Choisissez une commune du territoire." in refused.text
    added = merchant.client.post_form("/shops/manage/pickup-points", {**form, "closes": "19:00"})
    assert added.status_code == 303
    page = resident.client.get(f"/shops/{farm['slug']}")
    assert "Cour de la ferme" in page.text and "Chaque mercredi, de 17:00 à 19:00" in page.text
    # A weekday keeps its capital where its language writes one.
    english = resident.client.get(f"/shops/{farm['slug']}", headers={"accept-language": "en"})
    assert "Wednesday" in english.text and "wednesday" not in english.text
    # A resident cannot remove it; the producer can, and it is no longer offered.
    assert (
        resident.client.post_form(
            f"/shops/manage/pickup-points/{farm['market']}/delete"
        ).status_code
        == 403
    )
    assert (
        merchant.client.post_form(
            f"/shops/manage/pickup-points/{farm['market']}/delete"
        ).status_code
        == 303
    )
    page = resident.client.get(f"/shops/{farm['slug']}")
    assert "Marché de Villerupt" not in page.text and "Mairie d’Audun-le-Tiche" in page.text


def test_a_producer_marks_the_weekly_basket_in_its_product_forms_and_a_shop_cannot(
    engine, merchant, personas
):
    from tests.test_shops import make_shop

    farm = a_farm(engine, merchant.id)
    page = merchant.client.get("/shops/manage/products/new")
    assert 'name="basket"' in page.text and "Panier de la semaine" in page.text
    r = merchant.client.post_form(
        "/shops/manage/products",
        {"name": "Panier fruits", "price": "12,00", "stock": "10", "basket": "true"},
    )
    assert r.status_code == 303, r.text
    with read_session(engine) as s:
        fruits = s.scalars(select(Product).where(Product.name == "Panier fruits")).one()
        assert fruits.basket is True
    # The quick edit on the dashboard keeps it, or takes it off when unticked.
    manage = merchant.client.get("/shops/manage")
    assert manage.text.count('name="basket"') == 3  # the demo basket, the eggs, the fruits
    r = merchant.client.post_form(
        f"/shops/manage/products/{farm['basket']}/save",
        {"price": "15,00", "stock": "20", "is_active": "true"},
    )
    assert r.status_code == 303
    with read_session(engine) as s:
        assert s.get(Product, farm["basket"]).basket is False
    # A bakery has no weekly basket: the field is not offered and a forged one is ignored.
    baker = personas["other_merchant"]
    make_shop(engine, baker.id)
    assert 'name="basket"' not in baker.client.get("/shops/manage/products/new").text
    r = baker.client.post_form(
        "/shops/manage/products",
        {"name": "Pain de campagne", "price": "3,20", "stock": "30", "basket": "true"},
    )
    assert r.status_code == 303
    with read_session(engine) as s:
        bread = s.scalars(select(Product).where(Product.name == "Pain de campagne")).one()
        assert bread.basket is False
