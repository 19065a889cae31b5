"""On the report form, open reports nearby show as soon as the place is known, before the kind is chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from app.reports import catalogue, intake
from tests.e2e.conftest import sign_in
from tests.e2e.test_reports import LAT, LON

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")


def test_open_reports_nearby_show_as_soon_as_the_place_is_known(
    live_server: Any, phone: Any, resident: Any, engine: Any
) -> None:
    made = intake.create_report(
        engine,
        intake.NewReport(
            category="tyres", lat=LAT + 0.0002, lon=LON, description="Pneus", reporter_id=None
        ),
        media_dir=None,
    )
    context, page, _log = phone
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/reports/new")
    page.fill("#lat", str(LAT))
    page.fill("#lon", str(LON))
    page.locator("#lon").dispatch_event("change")
    nearby = page.locator("fieldset.step #nearby .nearby")
    expect(nearby).to_contain_text(catalogue.number(made.report))
    assert page.locator("[name=category]:checked").count() == 0
    nearby.scroll_into_view_if_needed()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "reports-nearby-early.png"))
