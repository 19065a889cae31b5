"""A farm's weekly basket at phone size: a resident opens the farm's page, picks the basket and a
time at the Saturday market, orders; the order keeps the point. Screenshots go to
/tmp/shots/short-supply-*.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import select

from app.db import read_session
from app.models.shops import ShopOrder
from tests.e2e.conftest import sign_in
from tests.test_shops_short_supply import a_farm

SHOTS = Path("/tmp/shots")
pytestmark = pytest.mark.e2e


def test_a_resident_orders_the_weekly_basket_for_the_market_at_phone_size(
    live_server, phone, merchant, resident, engine
):
    farm = a_farm(engine, merchant.id)
    context, page, log = phone
    sign_in(context, live_server, resident)
    page.goto(f"{live_server.url}/shops/{farm['slug']}")
    assert "Panier de la semaine" in page.inner_text(f"#product-{farm['basket']}")
    points = page.inner_text("#pickup-points")
    assert "Marché de Villerupt" in points and "Chaque samedi, de 08:00 à 12:30" in points
    page.fill(f"#qty-{farm['basket']}", "1")
    option = page.locator("#pickup_at option", has_text="Marché de Villerupt").first
    page.select_option("#pickup_at", option.get_attribute("value"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "short-supply-farm.png"), full_page=True)
    with page.expect_navigation():
        page.click("button:has-text('Commander pour retrait')")
    page.wait_for_url(re.compile(r".*/shops/orders/\d+\?placed=1$"))
    assert page.inner_text("#pickup-point") == "Marché de Villerupt"  # not the farm's address
    page.screenshot(path=str(SHOTS / "short-supply-order.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert log.errors == [], log.errors
    with read_session(engine) as s:
        order = s.exec(select(ShopOrder)).one()
    assert order.pickup_point_id == farm["market"]
