"""The regular-trip form carries Monday's times to the other days ticked, at phone size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.db import read_session
from app.models.carpool import CarpoolAd
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")


def test_mondays_times_are_carried_to_the_other_days_and_a_typed_time_is_kept(
    live_server: Any, phone: Any, resident: Any
) -> None:
    context, page, log = phone
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/carpool/ads/new")
    for day in range(5):
        page.check(f"[name=d{day}]")
    page.fill("[name=out0]", "07:15")
    page.locator("[name=out0]").dispatch_event("change")
    page.fill("[name=ret0]", "17:30")
    page.locator("[name=ret0]").dispatch_event("change")
    assert [page.input_value(f"[name=out{d}]") for d in range(5)] == ["07:15"] * 5
    assert [page.input_value(f"[name=ret{d}]") for d in range(5)] == ["17:30"] * 5
    page.fill("[name=ret4]", "16:00")  # Friday: home earlier
    page.locator("[name=ret4]").dispatch_event("change")
    page.fill("[name=out0]", "07:00")
    page.locator("[name=out0]").dispatch_event("change")
    assert [page.input_value(f"[name=out{d}]") for d in range(5)] == ["07:00"] * 5
    assert page.input_value("[name=ret4]") == "16:00"
    page.check("[name=d5]")  # Saturday ticked later takes Monday's times too
    assert page.input_value("[name=out5]") == "07:00"
    page.locator(".cp-week-table").scroll_into_view_if_needed()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "carpool-week.png"))
    assert log.errors == []


def test_without_javascript_the_days_ticked_take_mondays_times_when_published(
    live_server: Any, browser: Any, resident: Any, engine: Any
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="fr-FR", java_script_enabled=False
    )
    sign_in(context, live_server, resident)
    page = context.new_page()
    page.goto(live_server.url + "/carpool/ads/new")
    page.select_option("#from_place", "commune-57038")
    page.check("[name=frequency][value=regular]")
    for day in range(5):
        page.check(f"[name=d{day}]")
    page.fill("[name=out0]", "07:15")
    page.fill("[name=ret0]", "17:45")
    page.get_by_role("button", name="Publier").click()
    assert "/carpool/ads/" in page.url, page.locator("main").inner_text()[:600]
    with read_session(engine) as session:
        schedules = {ad.leg: json.loads(ad.schedule) for ad in session.scalars(select(CarpoolAd))}
    assert schedules["outward"] == {str(d): [435, 15] for d in range(5)}
    assert schedules["return"] == {str(d): [1065, 15] for d in range(5)}
    context.close()
