"""Photo routes serve a photo only to those who may see what it belongs to.

All photos share one folder on disk, so a route that served any stored name
gave away a carpool profile photo (signed-in only), a hidden report's photo
or a moderated ad's photo to anyone who had the name.
"""

from __future__ import annotations

import io

from litestar.testing import TestClient
from PIL import Image
from sqlalchemy import select, update

from app.db import read_session, write_session
from app.models.carpool import CarpoolProfile
from app.models.reports import Report, ReportPhoto
from app.models.sharing import SharedItem, SharedPhoto
from app.models.shops import Product
from tests.test_shops import make_shop


def jpeg(colour: tuple[int, int, int] = (200, 140, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buf, "JPEG")
    return buf.getvalue()


def profile_photo(engine, persona) -> str:
    c = persona.client
    response = c.post(
        "/carpool/profile",
        data={"_csrf_token": c.csrf_token(), "first_name": "Julie", "phone": "", "about": ""},
        files={"photo": ("me.jpg", jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with read_session(engine) as s:
        name = s.get(CarpoolProfile, persona.id).photo_name
    assert name
    return name


def ad_photo(engine, persona) -> tuple[int, str]:
    c = persona.client
    response = c.post(
        "/sharing/items",
        data={
            "_csrf_token": c.csrf_token(),
            "kind": "lend",
            "title": "Échelle télescopique",
            "category": "tools",
            "condition": "good",
            "commune_insee": "54580",
        },
        files={"photos": ("e.jpg", jpeg((10, 90, 200)), "image/jpeg")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with read_session(engine) as s:
        ph = s.scalars(select(SharedPhoto)).one()
        return ph.item_id, ph.display_name


def hidden_report_photo(engine, persona) -> str:
    c = persona.client
    response = c.post(
        "/reports/new",
        data={
            "_csrf_token": c.csrf_token(),
            "category": "bulky_items",
            "description": "Un canapé au bord du chemin",
            "volume": "car",
            "commune": "54580",
            "lat": "49.4700",
            "lon": "5.9300",
            "idempotency_key": "0b3c6d0e8f554d8e9a573f8e6c1d2a44",
        },
        files={"photos": ("r.jpg", jpeg((90, 90, 90)), "image/jpeg")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:400]
    with write_session(engine) as s:
        ph = s.scalars(select(ReportPhoto)).one()
        s.execute(update(Report).where(Report.id == ph.report_id).values(status="hidden"))
        return ph.thumb_name


def test_a_signed_in_only_profile_photo_is_not_served_by_the_sharing_or_shop_routes(
    engine, client: TestClient, personas
):
    name = profile_photo(engine, personas["resident"])
    assert personas["other_resident"].client.get(f"/carpool/photos/{name}").status_code == 200
    assert client.get(f"/carpool/photos/{name}", follow_redirects=False).status_code in (303, 401)
    for route in ("/sharing/photos/", "/shops/photos/"):
        assert client.get(route + name).status_code == 404, route
        assert personas["other_resident"].client.get(route + name).status_code == 404, route


def test_a_hidden_reports_photo_is_not_served_by_the_sharing_or_shop_routes(
    engine, client: TestClient, personas
):
    name = hidden_report_photo(engine, personas["resident"])
    assert client.get(f"/reports/photos/{name}").status_code == 404
    for route in ("/sharing/photos/", "/shops/photos/"):
        assert client.get(route + name).status_code == 404, route


def test_a_moderated_or_removed_ads_photo_is_served_to_its_owner_and_staff_only(
    engine, client: TestClient, personas
):
    owner, other, staff = personas["resident"], personas["other_resident"], personas["staff"]
    item_id, name = ad_photo(engine, owner)
    listed = client.get(f"/sharing/photos/{name}")
    assert listed.status_code == 200 and "public" in listed.headers["cache-control"]
    with write_session(engine) as s:
        s.execute(update(SharedItem).where(SharedItem.id == item_id).values(status="hidden"))
    assert client.get(f"/sharing/photos/{name}").status_code == 404
    assert other.client.get(f"/sharing/photos/{name}").status_code == 404
    for viewer in (owner, staff):
        seen = viewer.client.get(f"/sharing/photos/{name}")
        assert seen.status_code == 200 and seen.headers["cache-control"] == "private, no-store"
    with write_session(engine) as s:
        s.execute(update(SharedItem).where(SharedItem.id == item_id).values(status="removed"))
    assert owner.client.get(f"/sharing/photos/{name}").status_code == 404
    # Never through the shop route either.
    with write_session(engine) as s:
        s.execute(update(SharedItem).where(SharedItem.id == item_id).values(status="active"))
    assert client.get(f"/shops/photos/{name}").status_code == 404


def test_a_withdrawn_products_photo_is_served_to_its_shopkeeper_only(
    engine, client: TestClient, personas
):
    merchant, other = personas["merchant"], personas["other_merchant"]
    shop = make_shop(engine, merchant.id)
    c = merchant.client
    response = c.post(
        f"/shops/manage/products/{shop['products'][0]}/photo",
        data={"_csrf_token": c.csrf_token()},
        files={"photo": ("b.jpg", jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    with read_session(engine) as s:
        name = s.get(Product, shop["products"][0]).thumb_name
    assert client.get(f"/shops/photos/{name}").status_code == 200
    with write_session(engine) as s:
        s.execute(update(Product).where(Product.id == shop["products"][0]).values(is_active=False))
    assert client.get(f"/shops/photos/{name}").status_code == 404
    assert other.client.get(f"/shops/photos/{name}").status_code == 404
    mine = c.get(f"/shops/photos/{name}")
    assert mine.status_code == 200 and mine.headers["cache-control"] == "private, no-store"
    assert client.get(f"/sharing/photos/{name}").status_code == 404
