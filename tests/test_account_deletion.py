"""Deleting an account does what the goodbye page says: the shop hears about a cancelled order, and the
public reports stay online with their photos, anonymised, as the page tells."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from app.db import write_session
from app.models.jobs import Job
from app.models.reports import Report, ReportPhoto
from app.models.shops import Shop, ShopOrder
from app.shops import orders as shops
from tests.conftest import PERSONA_PASSWORD
from tests.test_reports import submit
from tests.test_shops import first_slot, make_shop


def test_a_ready_order_cancelled_by_the_account_deletion_is_told_to_the_shop(
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
        shops.merchant_move(s, order, "accept")
        shops.merchant_move(s, order, "ready")
        order_id = order.id
    r = resident.client.post_form("/me/delete", {"password": PERSONA_PASSWORD, "confirm": "yes"})
    assert r.status_code == 303
    with write_session(engine) as s:
        assert s.get(ShopOrder, order_id).status == "cancelled"
        told = [
            json.loads(j.payload)
            for j in s.scalars(select(Job).where(Job.kind == "notify.user")).all()
        ]
    to_shop = [
        p
        for p in told
        if p["user_id"] == merchant.id and p["title"] == f"Commande n° {order_id} annulée"
    ]
    assert len(to_shop) == 1 and "supprimé son compte" in to_shop[0]["body"]
    assert to_shop[0]["url"] == f"/shops/manage/orders/{order_id}"


def test_the_goodbye_page_says_public_report_photos_stay_anonymised_and_they_do(
    engine, resident, client
):
    r = submit(resident.client)
    assert r.status_code == 303
    with write_session(engine) as s:
        report = s.scalars(select(Report)).one()
        photo = s.scalars(select(ReportPhoto)).first()
        report_id, photo_name = report.id, photo.display_name
    before = client.get(f"/reports/{report_id}").text
    photo_url = re.search(r'src="(/reports/photos/[^"]+)"', before).group(1)
    words = resident.client.get("/me/delete").text
    assert "restent en ligne avec leurs photos, sans votre nom" in words
    r = resident.client.post_form("/me/delete", {"password": PERSONA_PASSWORD, "confirm": "yes"})
    goodbye = resident.client.get(r.headers["location"]).text
    assert "restent en ligne avec leurs photos, sans votre nom ni votre adresse" in goodbye
    assert "vos photos" not in goodbye
    # Behaviour matches the words: the report and its photo are still public, with no link to the person.
    assert client.get(f"/reports/{report_id}").status_code == 200
    assert client.get(photo_url).status_code == 200 and photo_name
    with write_session(engine) as s:
        report = s.get(Report, report_id)
        assert (report.reporter_id, report.contact_email, report.contact_name) == (None, None, None)
