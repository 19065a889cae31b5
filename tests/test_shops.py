"""Local shops: opening hours (midnight, holidays), stock under concurrent orders, click & collect, ownership."""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.db import read_session, utcnow, write_session
from app.models.jobs import Job
from app.models.shops import OrderLine, Product, Shop, ShopHours, ShopHoursException, ShopOrder
from app.shops import hours as shops_hours
from app.shops import orders as shops
from app.shops.hours import Schedule

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

ALWAYS = [
    (wd, time(0), time(0)) for wd in range(7)
]  # open around the clock (00:00 to 00:00 the next day)


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def schedule(
    weekly, *, commune: str = "57038", holidays_closed: bool = True, exceptions=None
) -> Schedule:
    return Schedule(
        commune_insee=commune,
        closed_on_holidays=holidays_closed,
        weekly=tuple(weekly),
        exceptions=exceptions or {},
        zone=PARIS,
    )


def make_shop(
    engine,
    owner_id: int,
    *,
    name: str = "Boulangerie du Val",
    weekly=ALWAYS,
    products=(("Baguette", 130, 5),),
    holidays_closed: bool = False,
    commune: str = "54580",
) -> dict:
    with write_session(engine) as s:
        shop = Shop(
            owner_id=owner_id,
            slug=shops.unique_slug(s, name),
            name=name,
            category="bakery",
            address="12 rue Carnot",
            commune_insee=commune,
            lat=49.467,
            lon=5.929,
            phone="03 82 89 12 34",
            closed_on_holidays=holidays_closed,
        )
        s.add(shop)
        s.flush()
        for wd, opens, closes in weekly:
            s.add(ShopHours(shop_id=shop.id, weekday=wd, opens=opens, closes=closes))
        ids = []
        for pname, price, stock in products:
            p = Product(shop_id=shop.id, name=pname, price_cents=price, stock=stock)
            s.add(p)
            s.flush()
            ids.append(p.id)
        return {"id": shop.id, "slug": shop.slug, "products": ids}


def first_slot(engine, shop_id: int) -> datetime:
    with read_session(engine) as s:
        shop = s.get(Shop, shop_id)
        return shops_hours.pickup_slots(Schedule.load(s, shop), utcnow())[0]


def stock_of(engine, product_id: int) -> int | None:
    with read_session(engine) as s:
        return s.get(Product, product_id).stock


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 140, 60)).save(buf, "JPEG")
    return buf.getvalue()


# --- opening hours ------------------------------------------------------------------------------


def test_a_bar_open_until_two_is_open_after_midnight_and_closed_after_two():
    friday_night = schedule([(4, time(18), time(2))])  # Friday 18:00 -> Saturday 02:00
    assert friday_night.is_open(paris(2026, 11, 20, 23, 59))
    assert friday_night.is_open(paris(2026, 11, 21, 0, 30))  # Saturday, still Friday's evening
    assert friday_night.is_open(paris(2026, 11, 21, 1, 59))
    assert not friday_night.is_open(paris(2026, 11, 21, 2, 0))
    assert not friday_night.is_open(paris(2026, 11, 20, 17, 59))
    assert not friday_night.is_open(
        paris(2026, 11, 22, 0, 30)
    )  # Sunday night: Saturday has no hours


def test_open_now_is_computed_in_paris_time_from_a_utc_instant():
    day = schedule([(0, time(9), time(12))])  # Monday 9-12, Paris
    monday_8h30_utc = datetime(
        2026, 11, 23, 8, 30, tzinfo=UTC
    )  # 09:30 in Paris (UTC+1 in November)
    assert day.is_open(monday_8h30_utc)
    assert not day.is_open(datetime(2026, 11, 23, 11, 30, tzinfo=UTC))  # 12:30 Paris


def test_easter_and_the_holidays_that_follow_it_are_computed():
    # Easter Sundays: 31 March 2024, 20 April 2025, 5 April 2026.
    assert shops_hours.public_holidays(2024)[date(2024, 4, 1)] == "Lundi de Pâques"
    assert shops_hours.public_holidays(2025)[date(2025, 4, 21)] == "Lundi de Pâques"
    assert shops_hours.public_holidays(2025)[date(2025, 6, 9)] == "Lundi de Pentecôte"
    holidays = shops_hours.public_holidays(2026)
    assert holidays[date(2026, 4, 6)] == "Lundi de Pâques"
    assert holidays[date(2026, 5, 14)] == "Ascension"
    assert holidays[date(2026, 5, 25)] == "Lundi de Pentecôte"
    assert date(2026, 4, 3) not in holidays  # Good Friday is not a holiday in the rest of France


def test_a_shop_closed_on_holidays_is_closed_on_christmas_and_on_good_friday_in_moselle_only():
    weekly = [(wd, time(9), time(19)) for wd in range(7)]
    moselle = schedule(weekly, commune="57038")  # Audun-le-Tiche, Moselle
    meurthe = schedule(weekly, commune="54580")  # Villerupt, Meurthe-et-Moselle
    assert not moselle.is_open(paris(2026, 12, 25, 10))
    assert not meurthe.is_open(paris(2026, 12, 25, 10))
    assert not moselle.is_open(paris(2026, 4, 3, 10))  # Good Friday
    assert meurthe.is_open(paris(2026, 4, 3, 10))
    assert not moselle.is_open(paris(2026, 12, 26, 10))  # Saint-Étienne
    assert meurthe.is_open(paris(2026, 12, 26, 10))
    assert schedule(weekly, holidays_closed=False).is_open(paris(2026, 12, 25, 10))


def test_france_has_eleven_public_holidays_and_moselle_two_more_each_named_in_english_too():
    from app.i18n import catalogue

    english = catalogue("en")
    for year in (2025, 2026, 2027):
        france, moselle = shops_hours.public_holidays(year), shops_hours.public_holidays(year, True)
        assert len(france) == 11 and len(moselle) == 13
        easter_monday = next(d for d, name in france.items() if name == "Lundi de Pâques")
        good_friday = easter_monday - timedelta(days=3)
        assert set(moselle) - set(france) == {good_friday, date(year, 12, 26)}
        assert (
            moselle[good_friday] == "Vendredi saint"
            and moselle[date(year, 12, 26)] == "Saint-Étienne"
        )
        for name in moselle.values():
            assert english.get(name), f"no English name for the holiday {name!r}"
    assert shops_hours.in_alsace_moselle("67482") and shops_hours.in_alsace_moselle("57038")
    assert not shops_hours.in_alsace_moselle("54580")


def test_a_late_evening_before_a_holiday_still_runs_past_midnight_into_the_holiday():
    # New Year's Eve until 03:00: the interval belongs to 31 December, which is not a holiday.
    eve = schedule([(3, time(20), time(3))])  # 31 Dec 2026 is a Thursday
    assert eve.is_open(paris(2027, 1, 1, 1, 0))
    assert not eve.is_open(paris(2027, 1, 1, 4, 0))


def test_an_exception_overrides_the_week_and_the_holiday():
    weekly = [(wd, time(9), time(19)) for wd in range(7)]
    special = schedule(
        weekly,
        exceptions={
            date(2026, 12, 25): (time(9), time(12), "Ouverture de Noël"),
            date(2026, 11, 24): (None, None, "Inventaire"),
        },
    )
    assert special.is_open(paris(2026, 12, 25, 10))
    assert not special.is_open(paris(2026, 12, 25, 13))
    assert not special.is_open(paris(2026, 11, 24, 10))
    status = special.status(paris(2026, 11, 24, 10))
    assert status["open"] is False and status["next"] == paris(2026, 11, 25, 9)


def test_pick_up_slots_start_two_hours_after_now_and_stay_inside_opening_hours():
    sched = schedule([(wd, time(9), time(12)) for wd in range(7)], holidays_closed=False)
    now = paris(2026, 11, 23, 9, 40)
    slots = shops_hours.pickup_slots(sched, now)
    assert slots[0] >= now + timedelta(hours=2)
    assert all(sched.is_open(s) for s in slots)
    assert slots[0].astimezone(PARIS) == paris(
        2026, 11, 24, 9, 0
    )  # 11:40 is past the last 11:30 slot


# --- stock under concurrency ---------------------------------------------------------------------


def test_twenty_concurrent_orders_for_five_items_in_stock_sell_exactly_five(engine, personas):
    merchant = personas["merchant"]
    shop = make_shop(engine, merchant.id, products=(("Tarte aux mirabelles", 1850, 5),))
    customers = [personas["resident"].id, personas["other_resident"].id]
    pickup = first_slot(engine, shop["id"])
    product_id = shop["products"][0]
    outcomes: list[str] = []
    barrier = threading.Barrier(20)

    def order(i: int) -> None:
        barrier.wait()
        try:
            with write_session(engine) as s:
                db_shop = s.get(Shop, shop["id"])
                shops.place_order(s, db_shop, customers[i % 2], "client", {product_id: 1}, pickup)
            outcomes.append("sold")
        except shops.OrderError:
            outcomes.append("refused")

    threads = [threading.Thread(target=order, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("sold") == 5
    assert outcomes.count("refused") == 15
    assert stock_of(engine, product_id) == 0
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ShopOrder)) == 5
        assert s.scalar(select(func.sum(OrderLine.quantity))) == 5


def test_an_order_short_on_one_line_takes_no_stock_on_any_line(engine, merchant, resident):
    shop = make_shop(engine, merchant.id, products=(("Baguette", 130, 10), ("Bretzel", 150, 1)))
    baguette, bretzel = shop["products"]
    pickup = first_slot(engine, shop["id"])
    with pytest.raises(shops.OrderError, match="Bretzel"), write_session(engine) as s:
        shops.place_order(
            s, s.get(Shop, shop["id"]), resident.id, "Julie", {baguette: 3, bretzel: 2}, pickup
        )
    assert stock_of(engine, baguette) == 10
    assert stock_of(engine, bretzel) == 1
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ShopOrder)) == 0


def test_a_product_on_request_is_ordered_without_touching_stock(engine, merchant, resident):
    shop = make_shop(engine, merchant.id, products=(("Kougelhopf", 1200, None),))
    with write_session(engine) as s:
        order = shops.place_order(
            s,
            s.get(Shop, shop["id"]),
            resident.id,
            "Julie",
            {shop["products"][0]: 2},
            first_slot(engine, shop["id"]),
        )
        assert order.total_cents == 2400
    assert stock_of(engine, shop["products"][0]) is None


# --- click & collect over HTTP --------------------------------------------------------------------


def test_a_resident_orders_the_merchant_is_told_at_once_and_the_resident_when_it_is_ready(
    engine, merchant, resident
):
    shop = make_shop(engine, merchant.id)
    product_id = shop["products"][0]
    page = resident.client.get(f"/shops/{shop['slug']}")
    slot = re.search(r'<option value="([^"]+)"', page.text).group(1)
    response = resident.client.post_form(
        f"/shops/{shop['slug']}/order", {f"qty-{product_id}": "2", "pickup_at": slot}
    )
    assert response.status_code == 303
    order_id = int(re.search(r"/shops/orders/(\d+)", response.headers["location"]).group(1))
    assert stock_of(engine, product_id) == 3

    def notices(user_id: int) -> list[dict]:
        with read_session(engine) as s:
            payloads = [
                json.loads(j.payload)
                for j in s.scalars(select(Job).where(Job.kind == "notify.user"))
            ]
        return [p for p in payloads if p["user_id"] == user_id and p["topic"] == "local_shops"]

    told = notices(merchant.id)
    assert (
        len(told) == 1
        and told[0]["url"] == f"/shops/manage/orders/{order_id}"
        and told[0]["urgency"] == "high"
    )
    assert notices(resident.id) == []

    assert merchant.client.post_form(f"/shops/manage/orders/{order_id}/accept").status_code == 303
    assert merchant.client.post_form(f"/shops/manage/orders/{order_id}/ready").status_code == 303
    ready = [n for n in notices(resident.id) if "prête" in n["title"]]
    assert len(ready) == 1 and ready[0]["url"] == f"/shops/orders/{order_id}"
    assert "Prête" in resident.client.get(f"/shops/orders/{order_id}").text
    # A second click on "ready" changes nothing and says so.
    assert merchant.client.post_form(f"/shops/manage/orders/{order_id}/ready").status_code == 409
    assert (
        merchant.client.post_form(f"/shops/manage/orders/{order_id}/collected").status_code == 303
    )


def test_an_order_for_a_pick_up_outside_opening_hours_is_refused_and_changes_nothing(
    engine, merchant, resident
):
    shop = make_shop(engine, merchant.id, weekly=[(wd, time(9), time(12)) for wd in range(7)])
    product_id = shop["products"][0]
    now = utcnow().astimezone(PARIS)
    night = datetime.combine(now.date() + timedelta(days=2), time(22), tzinfo=PARIS)
    response = resident.client.post_form(
        f"/shops/{shop['slug']}/order", {f"qty-{product_id}": "1", "pickup_at": night.isoformat()}
    )
    assert response.status_code == 400
    assert "heures d&#39;ouverture" in response.text or "heures d'ouverture" in response.text
    assert stock_of(engine, product_id) == 5
    soon = utcnow() + timedelta(minutes=30)
    response = resident.client.post_form(
        f"/shops/{shop['slug']}/order", {f"qty-{product_id}": "1", "pickup_at": soon.isoformat()}
    )
    assert response.status_code == 400
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ShopOrder)) == 0


def test_cancelling_an_order_gives_the_stock_back(engine, merchant, resident):
    shop = make_shop(engine, merchant.id)
    product_id = shop["products"][0]
    with write_session(engine) as s:
        order = shops.place_order(
            s,
            s.get(Shop, shop["id"]),
            resident.id,
            "Julie",
            {product_id: 4},
            first_slot(engine, shop["id"]),
        )
        order_id = order.id
    assert stock_of(engine, product_id) == 1
    assert resident.client.post_form(f"/shops/orders/{order_id}/cancel").status_code == 303
    assert stock_of(engine, product_id) == 5
    assert resident.client.post_form(f"/shops/orders/{order_id}/cancel").status_code == 409
    assert stock_of(engine, product_id) == 5


def test_a_merchant_cannot_touch_another_merchants_shop_or_orders(engine, personas):
    owner, intruder, resident = (
        personas["merchant"],
        personas["other_merchant"],
        personas["resident"],
    )
    shop = make_shop(engine, owner.id)
    product_id = shop["products"][0]
    make_shop(engine, intruder.id, name="Fleurs de Sophie", products=(("Rose", 350, 50),))
    with write_session(engine) as s:
        order = shops.place_order(
            s,
            s.get(Shop, shop["id"]),
            resident.id,
            "Julie",
            {product_id: 1},
            first_slot(engine, shop["id"]),
        )
        order_id = order.id
    c = intruder.client
    for action in ("accept", "ready", "refuse", "collected"):
        assert c.post_form(f"/shops/manage/orders/{order_id}/{action}").status_code == 404
    assert c.get(f"/shops/manage/orders/{order_id}").status_code == 404
    assert c.get(f"/shops/manage/products/{product_id}").status_code == 404
    assert (
        c.post_form(
            f"/shops/manage/products/{product_id}/save",
            {"price": "0,01", "stock": "0", "is_active": "true"},
        ).status_code
        == 404
    )
    assert (
        c.post(
            f"/shops/manage/products/{product_id}/photo",
            data={"_csrf_token": c.csrf_token()},
            files={"photo": ("p.jpg", jpeg(), "image/jpeg")},
        ).status_code
        == 404
    )
    # The intruder's own dashboard never lists the other shop's order.
    assert f"/shops/manage/orders/{order_id}" not in c.get("/shops/manage").text
    # A resident gets nothing either, and cannot see someone else's order.
    assert resident.client.get("/shops/manage").status_code == 403
    assert personas["other_resident"].client.get(f"/shops/orders/{order_id}").status_code == 404
    with read_session(engine) as s:
        assert s.get(ShopOrder, order_id).status == "placed"
        assert s.get(Product, product_id).price_cents == 130


# --- merchant pages -----------------------------------------------------------------------------


def test_a_merchant_creates_the_shop_page_sets_hours_and_adds_a_product_with_a_photo(
    engine, merchant
):
    c = merchant.client
    assert (
        c.get("/shops/manage", follow_redirects=False).headers["location"] == "/shops/manage/shop"
    )
    response = c.post(
        "/shops/manage/shop/save",
        data={
            "_csrf_token": c.csrf_token(),
            "name": "Épicerie de Thil",
            "category": "grocery",
            "address": "2 Grand'Rue",
            "commune_insee": "54523",
            "click_collect": "true",
        },
        files={"photo": ("", b"", "application/octet-stream")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    hours = {f"h{wd}_o1": "08:30" for wd in range(6)} | {f"h{wd}_c1": "19:30" for wd in range(6)}
    assert c.post_form("/shops/manage/hours/save", hours).status_code == 303
    response = c.post(
        "/shops/manage/products",
        data={
            "_csrf_token": c.csrf_token(),
            "name": "Mirabelles",
            "price": "6,50",
            "unit": "le kg",
            "stock": "20",
        },
        files={"photo": ("m.jpg", jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with read_session(engine) as s:
        shop = s.scalars(select(Shop)).one()
        assert shop.slug == "epicerie-de-thil"
        assert (
            s.scalar(
                select(func.count()).select_from(ShopHours).where(ShopHours.shop_id == shop.id)
            )
            == 6
        )
        product = s.scalars(select(Product)).one()
        assert (product.price_cents, product.stock) == (650, 20) and product.thumb_name
    photo = c.get(f"/shops/photos/{product.thumb_name}")
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["x-content-type-options"] == "nosniff"
    assert "max-age=31536000" in photo.headers["cache-control"]


def test_a_product_form_with_a_bad_price_or_a_fake_photo_changes_nothing(engine, merchant):
    make_shop(engine, merchant.id, products=())
    c = merchant.client
    response = c.post(
        "/shops/manage/products",
        data={"_csrf_token": c.csrf_token(), "name": "Pain", "price": "deux euros", "stock": "3"},
        follow_redirects=False,
    )
    assert response.status_code == 400 and "Prix invalide" in response.text
    response = c.post(
        "/shops/manage/products",
        data={"_csrf_token": c.csrf_token(), "name": "Pain", "price": "2", "stock": "3"},
        files={"photo": ("p.jpg", b"<svg onload=alert(1)>", "image/jpeg")},
        follow_redirects=False,
    )
    assert response.status_code == 400 and "pas une photo" in response.text
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 0


def test_quick_edit_changes_price_and_stock_and_a_negative_stock_is_refused(engine, merchant):
    shop = make_shop(engine, merchant.id)
    pid = shop["products"][0]
    c = merchant.client
    assert (
        c.post_form(
            f"/shops/manage/products/{pid}/save",
            {"price": "1,35", "stock": "12", "is_active": "true"},
        ).status_code
        == 303
    )
    assert (stock_of(engine, pid)) == 12
    assert (
        c.post_form(
            f"/shops/manage/products/{pid}/save",
            {"price": "1,35", "stock": "-4", "is_active": "true"},
        ).status_code
        == 400
    )
    assert stock_of(engine, pid) == 12
    assert (
        c.post_form(
            f"/shops/manage/products/{pid}/save", {"price": "1,35", "on_request": "true"}
        ).status_code
        == 303
    )
    assert stock_of(engine, pid) is None


def test_the_dashboard_shows_todays_orders_and_low_stock(engine, merchant, resident):
    shop = make_shop(engine, merchant.id, products=(("Baguette", 130, 40), ("Tarte", 1850, 2)))
    with write_session(engine) as s:
        shops.place_order(
            s,
            s.get(Shop, shop["id"]),
            resident.id,
            "Julie",
            {shop["products"][0]: 3},
            first_slot(engine, shop["id"]),
        )
    html = merchant.client.get("/shops/manage").text
    assert "Julie" in html and "Stock bas" in html and "Tarte" in html


def test_an_order_ready_for_a_later_day_stays_on_the_dashboard_until_it_is_collected(
    engine, merchant, resident
):
    shop = make_shop(engine, merchant.id)
    later = utcnow() + timedelta(days=3)
    with write_session(engine) as s:
        order = shops.place_order(
            s, s.get(Shop, shop["id"]), resident.id, "Julie", {shop["products"][0]: 1}, later
        )
        order_id = order.id
    c = merchant.client
    assert c.post_form(f"/shops/manage/orders/{order_id}/accept").status_code == 303
    assert c.post_form(f"/shops/manage/orders/{order_id}/ready").status_code == 303
    html = c.get("/shops/manage").text
    assert f'id="order-{order_id}"' in html and f"/shops/manage/orders/{order_id}/collected" in html
    assert c.post_form(f"/shops/manage/orders/{order_id}/collected").status_code == 303
    assert f'id="order-{order_id}"' not in c.get("/shops/manage").text


def test_the_shop_page_carries_local_business_json_ld_with_special_hours(engine, client, merchant):
    shop = make_shop(
        engine,
        merchant.id,
        weekly=[(wd, time(9), time(19)) for wd in range(6)],
        holidays_closed=True,
        commune="57038",
    )
    with write_session(engine) as s:
        s.add(
            ShopHoursException(
                shop_id=shop["id"], on_date=utcnow().date() + timedelta(days=5), label="Congés"
            )
        )
    response = client.get(f"/shops/{shop['slug']}")
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"]).group(1)
    block = re.search(
        r'<script type="application/ld\+json" nonce="([^"]+)">(.*?)</script>',
        response.text,
        re.DOTALL,
    )
    assert block and block.group(1) == nonce
    data = json.loads(block.group(2))
    assert data["@type"] == "Bakery" and data["name"] == "Boulangerie du Val"
    specs = data["openingHoursSpecification"]
    assert {
        "@type": "OpeningHoursSpecification",
        "dayOfWeek": "https://schema.org/Monday",
        "opens": "09:00",
        "closes": "19:00",
    } in specs
    special = [s for s in specs if "validFrom" in s]
    assert any(s["opens"] == s["closes"] == "00:00" for s in special)  # closed that day
    assert data["geo"]["latitude"] == 49.467
    assert "openstreetmap.org" in response.text


def test_residents_find_products_by_search_and_shops_open_now(engine, client, merchant, personas):
    make_shop(engine, merchant.id, products=(("Pain aux noix", 380, 4),))
    make_shop(
        engine,
        personas["other_merchant"].id,
        name="Fleurs de Sophie",
        weekly=[],
        products=(("Rose", 350, 5),),
    )
    html = client.get("/shops?q=noix").text
    assert "Pain aux noix" in html and "Fleurs de Sophie" not in html
    open_now = client.get("/shops?open_now=1").text
    assert "Boulangerie du Val" in open_now and "Fleurs de Sophie" not in open_now
    assert "Fleurs de Sophie" in client.get("/shops?commune=54580").text
    assert "Boulangerie du Val" not in client.get("/shops?category=florist").text


def test_the_privacy_eraser_cancels_open_orders_and_anonymises_the_rest(
    engine, merchant, resident, settings
):
    from app import privacy

    shop = make_shop(engine, merchant.id)
    pid = shop["products"][0]
    with write_session(engine) as s:
        shops.place_order(
            s,
            s.get(Shop, shop["id"]),
            resident.id,
            "Julie",
            {pid: 2},
            first_slot(engine, shop["id"]),
            "sonnez deux fois",
        )
    with write_session(engine) as s:
        exported, _files = privacy.export_user(s, resident.id, settings.resolved_media_dir)
        assert exported["shops"]["orders"][0]["note"] == "sonnez deux fois"
        privacy.erase_user(s, resident.id, settings.resolved_media_dir)
    with read_session(engine) as s:
        order = s.scalars(select(ShopOrder)).one()
        assert (order.status, order.customer_id, order.customer_name, order.note) == (
            "cancelled",
            None,
            "",
            "",
        )
    assert stock_of(engine, pid) == 5


def test_the_home_page_lists_open_shops_and_tells_the_resident_an_order_is_ready(
    engine, merchant, resident
):
    shop = make_shop(engine, merchant.id)
    with write_session(engine) as s:
        order = shops.place_order(
            s,
            s.get(Shop, shop["id"]),
            resident.id,
            "Julie",
            {shop["products"][0]: 1},
            first_slot(engine, shop["id"]),
        )
        shops.merchant_move(s, order, "ready")
        order_id = order.id
    html = resident.client.get("/").text
    assert "Commerces ouverts maintenant" in html and "Boulangerie du Val" in html
    assert f"/shops/orders/{order_id}" in html
