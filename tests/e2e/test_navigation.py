"""Moving between sections with the tab bar keeps every page styled and its scripts running."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("tab", "path", "asset"),
    [
        ("Covoiturage", "/carpool", "css/carpool.css"),
        ("Signaler", "/reports", "css/reports.css"),
        ("Commerces", "/shops", "css/shops.css"),
        ("Partage", "/sharing", "css/sharing.css"),
    ],
)
def test_a_tab_leads_to_a_styled_section_without_console_errors(
    live_server, phone, tab, path, asset
):
    context, page, log = phone
    page.goto(live_server.url + "/")
    page.locator("nav.tabbar").get_by_text(tab, exact=True).click()
    page.wait_for_url(re.compile(re.escape(path) + r"($|\?)"))
    page.wait_for_load_state("networkidle")
    sheets = page.evaluate("[...document.styleSheets].map(s => s.href || '')")
    assert any(asset in href for href in sheets), sheets
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # Map tiles come from the internet, which the test machine does not reach.
    assert [
        e
        for e in log.errors
        if "ERR_NAME_NOT_RESOLVED" not in e and "ERR_INTERNET_DISCONNECTED" not in e
    ] == []
