"""Click & collect in a phone-sized browser: product with a photo, order, ready, seen ready."""

from __future__ import annotations

import io
import re
from datetime import time
from pathlib import Path

import pytest
from PIL import Image

from app.sharing import loans as sharing
from app.db import utcnow, write_session
from app.models.sharing import SharedItem
from app.models.shops import Shop, ShopHours
from tests.e2e.conftest import PHONE, sign_in

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")


def _shop(engine, owner_id: int) -> str:
    with write_session(engine) as s:
        shop = Shop(
            owner_id=owner_id,
            slug="boulangerie-du-val",
            name="Boulangerie du Val",
            category="bakery",
            address="12 rue Carnot, 54190 Villerupt",
            commune_insee="54580",
            lat=49.467,
            lon=5.929,
            phone="03 82 89 12 34",
            closed_on_holidays=False,
            description="Pain au levain et viennoiseries pur beurre.",
        )
        s.add(shop)
        s.flush()
        for wd in range(
            7
        ):  # open around the clock, so that the test never depends on the time of day
            s.add(ShopHours(shop_id=shop.id, weekday=wd, opens=time(0), closes=time(0)))
    return "boulangerie-du-val"


def _photo(tmp_path: Path) -> Path:
    image = Image.new("RGB", (900, 600), (236, 206, 150))
    for x in range(150, 750, 200):
        image.paste((170, 110, 50), (x, 220, x + 140, 380))
    path = tmp_path / "tarte.jpg"
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85)
    path.write_bytes(buf.getvalue())
    return path


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_merchant_adds_a_product_with_a_photo_a_resident_orders_it_and_sees_it_ready(
    live_server, phone, browser, engine, personas, tmp_path
):
    SHOTS.mkdir(exist_ok=True)
    merchant, resident = personas["merchant"], personas["resident"]
    slug = _shop(engine, merchant.id)
    context, page, log = phone
    sign_in(context, live_server, merchant)

    # The merchant adds a product with a photo from the phone.
    page.goto(live_server.url + "/shops/manage")
    page.get_by_role("link", name="+ Produit").click()
    page.set_input_files("#photo", str(_photo(tmp_path)))
    page.fill("#name", "Tarte aux mirabelles")
    page.fill("#price", "18,50")
    page.fill("#unit", "6 parts")
    page.fill("#stock", "3")
    page.get_by_role("button", name="Publier le produit").click()
    page.wait_for_url(re.compile(r"/shops/manage\?saved=product"))
    row = page.locator(".quick-products li").filter(has_text="Tarte aux mirabelles")
    assert row.locator("img").count() == 1
    page.screenshot(path=str(SHOTS / "shops-manage.png"), full_page=True)
    _no_sideways_scroll(page)

    # The resident orders it for collection.
    r_context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="fr-FR"
    )
    try:
        r_page = r_context.new_page()
        r_errors: list[str] = []
        r_page.on("console", lambda m: r_errors.append(m.text) if m.type == "error" else None)
        sign_in(r_context, live_server, resident)
        r_page.goto(live_server.url + "/shops")
        r_page.screenshot(path=str(SHOTS / "shops-index.png"), full_page=True)
        r_page.get_by_role("link", name="Boulangerie du Val").first.click()
        r_page.wait_for_url(f"**/shops/{slug}")
        product = r_page.locator(".product").filter(has_text="Tarte aux mirabelles")
        product.wait_for()
        photo = product.locator("img")
        photo.scroll_into_view_if_needed()  # product photos load lazily
        r_page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=photo.element_handle()
        )
        product.locator("input[type=number]").fill("2")
        r_page.screenshot(path=str(SHOTS / "shops-shop.png"), full_page=True)
        _no_sideways_scroll(r_page)
        r_page.get_by_role("button", name="Commander pour retrait").click()
        r_page.wait_for_url("**/shops/orders/*")
        assert r_page.locator("#order-state").inner_text() == "Reçue"
        order_url = r_page.url.split("?")[0]

        # The merchant sees it on the dashboard and marks it ready.
        page.goto(live_server.url + "/shops/manage")
        order_row = page.locator(".dash-order").filter(has_text="Julie")
        order_row.get_by_role("button", name="Accepter").click()
        # Wait for the order's state badge, not for the network: the click's request may not have started yet.
        page.locator(".dash-order").filter(has_text="Julie").locator(".state-accepted").wait_for()
        page.locator(".dash-order").filter(has_text="Julie").get_by_role(
            "button", name="Prête"
        ).click()
        ready = page.locator(".dash-order").filter(has_text="Julie").locator(".state-ready")
        ready.wait_for()
        assert ready.inner_text() == "Prête"
        _no_sideways_scroll(page)

        # The resident sees it ready.
        r_page.goto(order_url)
        assert r_page.locator("#order-state").inner_text() == "Prête"
        r_page.screenshot(path=str(SHOTS / "shops-order-ready.png"), full_page=True)
        assert r_errors == []
    finally:
        r_context.close()
    assert log.errors == []


def test_the_sharing_pages_fit_a_phone(live_server, phone, engine, personas):
    SHOTS.mkdir(exist_ok=True)
    owner = personas["resident"]
    with write_session(engine) as s:
        item = SharedItem(
            owner_id=owner.id,
            kind="lend",
            title="Perceuse à percussion",
            category="tools",
            commune_insee="57038",
            description="Bosch 700 W, coffret de forets.",
            expires_at=utcnow(),
        )
        sharing.publish(s, item)
        item_id = item.id
    context, page, log = phone
    page.goto(live_server.url + "/sharing")
    assert page.locator(".item-card").count() == 1
    page.screenshot(path=str(SHOTS / "sharing-index.png"), full_page=True)
    _no_sideways_scroll(page)
    sign_in(context, live_server, personas["other_resident"])
    page.goto(live_server.url + f"/sharing/items/{item_id}")
    page.screenshot(path=str(SHOTS / "sharing-item.png"), full_page=True)
    _no_sideways_scroll(page)
    assert log.errors == []
