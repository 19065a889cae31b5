"""Moderation of residents' ads, one mechanism for carpool and sharing: hidden with a reason kept and sent
to the owner, and undone by staff with the owner told again."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from app.db import read_session, utcnow, write_session
from app.models.carpool import CarpoolAd, CarpoolReport
from app.models.jobs import Job
from app.models.sharing import ItemReport, SharedItem
from app.sharing import loans as sharing
from tests.test_carpool import publish as publish_ride


def owner_notices(engine: Any, user_id: int) -> list[dict[str, Any]]:
    with read_session(engine) as s:
        payloads = [
            json.loads(j.payload) for j in s.scalars(select(Job).where(Job.kind == "notify.user"))
        ]
    return [p for p in payloads if p["user_id"] == user_id]


def reported_item(engine: Any, owner_id: int, reporter: Any) -> tuple[int, int]:
    with write_session(engine) as s:
        item = SharedItem(
            owner_id=owner_id,
            kind="lend",
            title="Tronçonneuse",
            category="tools",
            commune_insee="57038",
            max_days=7,
            expires_at=utcnow(),
        )
        sharing.publish(s, item)
        item_id = int(item.id)
    assert (
        reporter.client.post_form(
            f"/sharing/items/{item_id}/report", {"reason": "Il la loue 20 €"}
        ).status_code
        == 303
    )
    with read_session(engine) as s:
        report_id = int(s.scalars(select(ItemReport.id)).one())
    return item_id, report_id


def test_a_hidden_shared_ad_keeps_its_reason_and_its_owner_is_told_why(engine, personas) -> None:
    owner, reporter, staff = personas["resident"], personas["other_resident"], personas["staff"]
    item_id, report_id = reported_item(engine, owner.id, reporter)
    answer = staff.client.post_form(
        f"/sharing/reports/{report_id}/hide", {"reason": "commercial", "note": "location payante"}
    )
    assert answer.status_code == 303
    with read_session(engine) as s:
        item = s.get(SharedItem, item_id)
        assert item.status == "hidden" and item.moderated_by == staff.id
        assert item.moderation_reason == "Annonce commerciale ou service payant — location payante"
        assert s.get(ItemReport, report_id).status == "hidden"
    (notice,) = owner_notices(engine, owner.id)
    assert notice["title"] == "Annonce masquée par la modération"
    assert "Tronçonneuse" in notice["body"] and "location payante" in notice["body"]
    assert reporter.client.get(f"/sharing/items/{item_id}").status_code == 404
    own_page = owner.client.get(f"/sharing/items/{item_id}").text
    assert "Annonce masquée par la modération. Motif : Annonce commerciale" in own_page
    assert (
        "location payante" in staff.client.get("/sharing/reports").text
    )  # on the staff list of hidden ads


def test_hiding_a_shared_ad_needs_a_reason_and_changes_nothing_without_one(
    engine, personas
) -> None:
    owner, reporter, staff = personas["resident"], personas["other_resident"], personas["staff"]
    item_id, report_id = reported_item(engine, owner.id, reporter)
    answer = staff.client.post_form(f"/sharing/reports/{report_id}/hide", {"reason": ""})
    assert answer.status_code == 400 and "Choisissez le motif." in answer.text
    with read_session(engine) as s:
        assert s.get(SharedItem, item_id).status == "active"
        assert s.get(ItemReport, report_id).status == "open"
    assert owner_notices(engine, owner.id) == []


def test_staff_restore_a_hidden_shared_ad_and_its_owner_is_told(engine, personas) -> None:
    owner, reporter, staff = personas["resident"], personas["other_resident"], personas["staff"]
    item_id, report_id = reported_item(engine, owner.id, reporter)
    staff.client.post_form(f"/sharing/reports/{report_id}/hide", {"reason": "fake"})
    assert reporter.client.post_form(f"/sharing/items/{item_id}/restore").status_code == 403
    assert staff.client.post_form(f"/sharing/items/{item_id}/restore").status_code == 303
    with read_session(engine) as s:
        item = s.get(SharedItem, item_id)
        assert (
            item.status == "active" and item.moderation_reason == "Fausse annonce"
        )  # kept for the record
    assert reporter.client.get(f"/sharing/items/{item_id}").status_code == 200
    assert [n["title"] for n in owner_notices(engine, owner.id)] == [
        "Annonce masquée par la modération",
        "Annonce rétablie",
    ]
    assert (
        staff.client.post_form(f"/sharing/items/{item_id}/restore").status_code == 303
    )  # twice: nothing more
    assert len(owner_notices(engine, owner.id)) == 2


def test_carpool_moderation_goes_through_the_same_mechanism_with_the_reason_and_the_undo(
    engine, personas
) -> None:
    driver, rider, staff = personas["resident"], personas["other_resident"], personas["staff"]
    ad = publish_ride(engine, driver.id)
    assert (
        rider.client.post_form(f"/carpool/ads/{ad}/report", {"reason": "commercial"}).status_code
        == 200
    )
    with read_session(engine) as s:
        report = s.scalars(select(CarpoolReport)).one().id
    assert (
        staff.client.post_form(f"/carpool/staff/reports/{report}", {"action": "hide"}).status_code
        == 303
    )
    assert staff.client.post_form(f"/carpool/staff/ads/{ad}/restore").status_code == 303
    with read_session(engine) as s:
        assert s.get(CarpoolAd, ad).status == "active"
    hidden, restored = owner_notices(engine, driver.id)
    assert (
        hidden["title"] == "Annonce masquée par la modération"
        and "Annonce commerciale" in hidden["body"]
    )
    assert restored["title"] == "Annonce rétablie"
