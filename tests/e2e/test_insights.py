"""Browser checks of decision support at desk size (1440×900) and the monthly summary's print preview;
screenshots in /tmp/shots/insights-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import months
from app.db import utcnow
from tests.e2e.conftest import sign_in
from tests.insights_seed import seed

SHOTS = Path("/tmp/shots")
DESK = {"width": 1440, "height": 900}

pytestmark = pytest.mark.e2e


def test_staff_read_the_themes_the_flow_map_and_print_the_monthly_summary(
    live_server, browser, engine, staff
):
    seed(engine, years=2)
    month = months.shift(months.of(utcnow()), -1)
    context = browser.new_context(viewport=DESK, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    # JavaScript errors of the page (map tiles cannot load offline: the console says so, not an error here)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(context, live_server, staff)
    SHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(live_server.url + "/staff/insights")
    assert page.get_by_role("heading", name=f"Aide à la décision : {month}").is_visible()
    assert page.locator("article.insight").count() >= 7
    page.screenshot(path=str(SHOTS / "insights-index.png"), full_page=True)

    page.get_by_role("link", name="Mobilité").first.click()
    page.wait_for_selector("#od-map .leaflet-interactive")
    assert page.locator("#od-map path.od-line").count() >= 1  # flows of 11 trips or more, drawn
    assert page.get_by_text("Luxembourg").first.is_visible()
    page.screenshot(path=str(SHOTS / "insights-mobility.png"), full_page=True)

    page.goto(live_server.url + f"/staff/insights/energy?month={month}")
    assert page.get_by_text("0,052 kg CO₂e par kWh").is_visible()
    page.screenshot(path=str(SHOTS / "insights-energy.png"), full_page=True)

    page.goto(live_server.url + f"/staff/insights/summary?month={month}")
    assert page.locator(".staff-nav").is_visible()
    page.emulate_media(media="print")
    assert not page.locator(
        ".staff-nav"
    ).is_visible()  # the print stylesheet keeps the figures only
    assert not page.locator(".month-nav").is_visible()
    assert page.locator(".summary-theme").count() >= 7
    page.screenshot(path=str(SHOTS / "insights-summary-print.png"), full_page=True)
    page.pdf(path=str(SHOTS / "insights-summary-print.pdf"), format="A4")
    assert not errors, errors
    context.close()
