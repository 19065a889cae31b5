"""The shop as schema.org describes a local business: its most specific type, its postal address
in parts, phones in international form, a price range and its products as an ``OfferCatalog``.

Served in the shop page (``application/ld+json``) for search engines and local guides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date

from app.models.shops import Product, Shop
from app.shops import hours

SCHEMA = "https://schema.org"

BUSINESS_TYPES: dict[str, str] = {
    # Eclor's shop categories → the most specific schema.org type that fits each.
    "bakery": "Bakery",
    "butcher": "ButcherShop",
    "grocery": "GroceryStore",
    "florist": "Florist",
    "bike": "BikeStore",
    "books": "BookStore",
    "clothes": "ClothingStore",
    "health": "HealthAndBeautyBusiness",
    "home": "HomeAndConstructionBusiness",
    # Producers sell food: schema.org has no farm-shop type under LocalBusiness.
    "farm": "GroceryStore",
    "amap": "GroceryStore",
    "market": "GroceryStore",
    "other": "Store",
}

_POSTAL_RE = re.compile(r"^(?P<street>.*?)[,\s]+(?P<code>\d{5})\s+(?P<locality>[^,]+?)\s*$")


def business_type(category: str) -> str:
    return BUSINESS_TYPES.get(category, "LocalBusiness")


def postal_address(shop: Shop, commune_name: str, postcode: str) -> dict[str, str]:
    """``12 rue Carnot, 54190 Villerupt`` → street, postal code and locality, in parts.

    An address typed without its postal code and town takes the commune's.
    """
    address = shop.address.strip()
    m = _POSTAL_RE.match(address)
    if m is not None and m.group("street").strip(" ,"):
        street, code, locality = m.group("street").strip(" ,"), m.group("code"), m["locality"]
    else:
        street, code, locality = address, postcode, commune_name
    return {
        "@type": "PostalAddress",
        "streetAddress": street,
        "postalCode": code,
        "addressLocality": locality,
        "addressRegion": "Grand Est",
        "addressCountry": "FR",
    }


def international_phone(phone: str, country_code: str = "33") -> str | None:
    """A phone number as people dial it from abroad: ``03 82 89 12 34`` → ``+33 3 82 89 12 34``.

    Numbers already in international form (``+352 …``, ``00352 …``) keep their
    country; a French national number loses its leading 0. Anything else
    (too short, letters) gives None rather than a wrong number.
    """
    digits = re.sub(r"[\s.\-/()]", "", phone.replace("(0)", ""))
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+"):
        rest = digits[1:]
        if not rest.isdigit() or not 8 <= len(rest) <= 15:
            return None
        if rest.startswith("33") and (len(rest) != 11 or rest[2] == "0"):
            return None  # a French number is +33 and nine digits, the first never 0
        if rest.startswith("33"):
            national = rest[2:]
            return f"+33 {national[0]} " + " ".join(national[i : i + 2] for i in range(1, 9, 2))
        return "+" + rest
    if digits.isdigit() and len(digits) == 10 and digits.startswith("0") and country_code == "33":
        national = digits[1:]
        return f"+33 {national[0]} " + " ".join(national[i : i + 2] for i in range(1, 9, 2))
    return None


def _price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def price_range(products: Sequence[Product]) -> str | None:
    """``1,20 € – 25,00 €``: from the cheapest to the dearest product on sale."""
    prices = [p.price_cents for p in products]
    if not prices:
        return None
    low, high = min(prices), max(prices)
    euros = [f"{c // 100},{c % 100:02d}\u00a0€" for c in (low, high)]
    return euros[0] if low == high else f"{euros[0]} – {euros[1]}"


def availability(product: Product, low_stock: int) -> str:
    """schema.org ``ItemAvailability``: no stock kept → made to order; 0 → out of stock."""
    if product.stock is None:
        return f"{SCHEMA}/MadeToOrder"
    if product.stock <= 0:
        return f"{SCHEMA}/OutOfStock"
    if product.stock <= low_stock:
        return f"{SCHEMA}/LimitedAvailability"
    return f"{SCHEMA}/InStock"


def offer_catalog(
    shop: Shop,
    products: Sequence[Product],
    *,
    base: str,
    photo_url: Callable[[str | None], str | None],
) -> dict[str, object]:
    offers: list[dict[str, object]] = []
    for product in products:
        item: dict[str, object] = {"@type": "Product", "name": product.name}
        if product.description:
            item["description"] = product.description
        image = photo_url(product.display_name)
        if image:
            item["image"] = f"{base}{image}"
        offer: dict[str, object] = {
            "@type": "Offer",
            "itemOffered": item,
            "price": _price(product.price_cents),
            "priceCurrency": "EUR",
            "availability": availability(product, shop.low_stock_threshold),
            "url": f"{base}/shops/{shop.slug}#product-{product.id}",
        }
        if product.unit:
            offer["priceSpecification"] = {
                "@type": "UnitPriceSpecification",
                "price": _price(product.price_cents),
                "priceCurrency": "EUR",
                "unitText": product.unit,
            }
        offers.append(offer)
    return {
        "@type": "OfferCatalog",
        "name": shop.name,
        "numberOfItems": len(offers),
        "itemListElement": offers,
    }


def json_ld(
    shop: Shop,
    schedule: hours.Schedule,
    *,
    base_url: str,
    commune_name: str,
    postcode: str,
    products: Sequence[Product] = (),
    photo_urls: Sequence[str] = (),
    product_photo_url: Callable[[str | None], str | None] = lambda name: None,
    today: date | None = None,
) -> dict[str, object]:
    """The shop as a schema.org business of its most specific type, with its offers."""
    base = base_url.rstrip("/")
    data = hours.json_ld(shop, schedule, base_url=base_url, photo_urls=photo_urls, today=today)
    data["@type"] = business_type(shop.category)
    data["address"] = postal_address(shop, commune_name, postcode)
    data.pop("telephone", None)
    phone = international_phone(shop.phone) if shop.phone else None
    if phone:
        data["telephone"] = phone
    if shop.click_collect:
        data["currenciesAccepted"] = "EUR"
    price = price_range(products)
    if price:
        data["priceRange"] = price
    if products:
        data["hasOfferCatalog"] = offer_catalog(
            shop, products, base=base, photo_url=product_photo_url
        )
    return data
