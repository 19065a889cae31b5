"""A report kept on the phone with no network leaves from the home page (not only from a reports page)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_reports import LAT, LON, Console, count_reports, fill_form

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")


def test_a_report_kept_offline_is_sent_from_the_home_page(
    live_server: Any, phone: Any, resident: Any, engine: Any, settings: Any
) -> None:
    context, page, _log = phone
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/reports/new")
    page.wait_for_load_state("networkidle")
    context.set_offline(True)
    fill_form(page)
    page.fill("#lat", str(LAT))
    page.fill("#lon", str(LON))
    page.click("#report-submit")
    expect(page.locator("#queue-status")).to_contain_text("Pas de réseau")
    page.close()  # the person leaves the form; nothing has been sent
    assert count_reports(engine) == 0

    context.set_offline(False)
    home = context.new_page()
    console = Console(home, settings.tile_url)
    home.goto(live_server.url + "/")
    expect(home.locator("#queue-status")).to_contain_text("est envoyé", timeout=15000)
    expect(home.locator("#queue-status a")).to_have_attribute("href", "/reports/1")
    SHOTS.mkdir(exist_ok=True)
    home.screenshot(path=str(SHOTS / "outbox-sent-from-home.png"))
    assert count_reports(engine) == 1
    home.reload()
    home.wait_for_load_state("networkidle")
    assert count_reports(engine) == 1
    assert console.errors == []
