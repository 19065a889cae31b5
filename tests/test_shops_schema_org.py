"""The shop page's schema.org description: most specific type, postal address in parts,
international phones, price range and the products as an OfferCatalog of Offers."""

from __future__ import annotations

import json
import random
import re

import pytest
from sqlmodel import select

from app.db import write_session
from app.models.shops import Product, Shop
from app.shops import demo, schema_org

LOCAL_BUSINESS_SUBTYPES = {  # schema.org types that are LocalBusiness, for the check below
    "Bakery",
    "ButcherShop",
    "GroceryStore",
    "Florist",
    "BikeStore",
    "BookStore",
    "ClothingStore",
    "HealthAndBeautyBusiness",
    "HomeAndConstructionBusiness",
    "Store",
}


def shop_json_ld(client, slug: str) -> dict:
    page = client.get(f"/shops/{slug}")
    assert page.status_code == 200
    block = re.search(
        r'<script type="application/ld\+json" nonce="[^"]+">(.*?)</script>', page.text, re.DOTALL
    )
    assert block is not None
    return json.loads(block.group(1))


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("03 82 89 12 34", "+33 3 82 89 12 34"),
        ("06.12.34.56.78", "+33 6 12 34 56 78"),
        ("+33 (0)3 82 52 40 11", "+33 3 82 52 40 11"),  # the "(0)" French numbers often carry
        ("+33 03 82 52 40 11", None),  # an impossible mix is not guessed at
        ("+33382524011", "+33 3 82 52 40 11"),
        ("00352 26 12 34 56", "+35226123456"),  # Luxembourg keeps its own country code
        ("3615", None),
    ],
)
def test_phones_are_written_in_international_form(phone: str, expected: str | None) -> None:
    assert schema_org.international_phone(phone) == expected


def test_every_demo_shop_says_its_most_specific_type_address_phone_prices_and_offers(
    engine, client
) -> None:
    from app.demo import load_users

    with write_session(engine) as session:
        load_users(session, None)
    with write_session(engine) as session:
        demo.load_demo(session, random.Random(3))
    with write_session(engine) as session:
        shops = session.scalars(select(Shop)).all()
        # one product sold out, one low, to see availability follow the stock
        bakery = next(s for s in shops if s.category == "bakery")
        bread = session.scalars(
            select(Product).where(Product.shop_id == bakery.id, Product.is_active)
        ).all()
        bread[0].stock, bread[1].stock = 0, 1
        expected = {
            s.slug: (
                s.category,
                sorted(
                    (p.name, p.price_cents, p.stock)
                    for p in session.scalars(
                        select(Product).where(Product.shop_id == s.id, Product.is_active)
                    )
                ),
                s.low_stock_threshold,
            )
            for s in shops
        }
    assert len(expected) >= 5
    for slug, (category, products, low) in expected.items():
        data = shop_json_ld(client, slug)
        assert data["@type"] == schema_org.BUSINESS_TYPES[category]
        assert data["@type"] in LOCAL_BUSINESS_SUBTYPES and data["@type"] != "LocalBusiness"
        address = data["address"]
        assert address["@type"] == "PostalAddress" and address["addressCountry"] == "FR"
        assert re.fullmatch(r"\d{5}", address["postalCode"])
        assert not re.search(r"\d{5}", address["streetAddress"])  # no code left in the street
        assert address["addressLocality"] and "," not in address["addressLocality"]
        assert re.fullmatch(r"\+33 [1-9]( \d\d){4}", data["telephone"])
        catalog = data["hasOfferCatalog"]
        assert catalog["@type"] == "OfferCatalog" and catalog["numberOfItems"] == len(products)
        offers = catalog["itemListElement"]
        assert all(o["@type"] == "Offer" and o["priceCurrency"] == "EUR" for o in offers)
        got = sorted((o["itemOffered"]["name"], o["price"], o["availability"]) for o in offers)
        want = sorted(
            (
                name,
                f"{cents // 100}.{cents % 100:02d}",
                "https://schema.org/"
                + (
                    "MadeToOrder"
                    if stock is None
                    else "OutOfStock"
                    if stock == 0
                    else "LimitedAvailability"
                    if stock <= low
                    else "InStock"
                ),
            )
            for name, cents, stock in products
        )
        assert got == want
        cheapest, dearest = min(p[1] for p in products), max(p[1] for p in products)
        assert data["priceRange"].startswith(f"{cheapest // 100},{cheapest % 100:02d}")
        assert data["priceRange"].endswith(f"{dearest // 100},{dearest % 100:02d}\u00a0€")
    availabilities = {
        o["availability"]
        for o in shop_json_ld(client, bakery.slug)["hasOfferCatalog"]["itemListElement"]
    }
    assert {"https://schema.org/OutOfStock", "https://schema.org/LimitedAvailability"} <= (
        availabilities
    )


def test_an_address_typed_without_its_town_takes_the_communes(engine) -> None:
    shop = Shop(
        owner_id=1,
        slug="x",
        name="X",
        category="florist",
        address="3 place du Marché",
        commune_insee="57038",
    )
    assert schema_org.postal_address(shop, "Audun-le-Tiche", "57390") == {
        "@type": "PostalAddress",
        "streetAddress": "3 place du Marché",
        "postalCode": "57390",
        "addressLocality": "Audun-le-Tiche",
        "addressRegion": "Grand Est",
        "addressCountry": "FR",
    }
