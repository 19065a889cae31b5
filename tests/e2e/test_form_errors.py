"""Errors where the eye is, at phone size: after tapping "send" at the bottom of a long form, the first
field in error is focused and on screen, and a summary with links sits at the top of the form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PHONE, sign_in
from tests.e2e.test_reports import Console, fill_form

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")

IN_VIEW = """(el) => { const r = el.getBoundingClientRect(); return r.bottom > 60 && r.top < window.innerHeight - 64; }"""


def focused(page: Any) -> str:
    return page.evaluate(
        "document.activeElement && (document.activeElement.id || document.activeElement.name)"
    )


def in_view_of(page: Any, selector: str) -> bool:
    """The element, or its fieldset when it is a visually hidden file input, is on screen."""
    return page.locator(selector).evaluate(
        "(el) => { const box = (el.offsetWidth < 2 && el.closest('fieldset')) || el; const r = box.getBoundingClientRect();"
        " return r.bottom > 60 && r.top < window.innerHeight - 64; }"
    )


def test_a_report_sent_without_a_photo_shows_the_error_where_the_person_looks(
    live_server: Any, phone: Any, resident: Any, settings: Any
) -> None:
    context, page, _log = phone
    log = Console(page, settings.tile_url)
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/reports/new")
    page.click("label.category-option:has(input[value=bulky_items])")
    page.fill("#description", "Un canapé au bout du chemin.")
    page.locator("#report-submit").scroll_into_view_if_needed()
    page.click("#report-submit")
    page.wait_for_selector(".error-summary")
    assert focused(page) == "photos" and in_view_of(page, "#photos")
    summary = page.locator(".error-summary")
    assert "Ajoutez au moins une photo du dépôt." in summary.inner_text()
    assert page.locator("#photos-error").inner_text() == "Ajoutez au moins une photo du dépôt."
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "form-error-photo.png"))
    # The link of the summary leads to the field.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    summary.locator("a").first.evaluate("(a) => a.click()")
    assert focused(page) == "photos" and in_view_of(page, "#photos")
    assert log.errors == []


def test_a_place_outside_the_territory_refused_by_the_server_is_shown_at_the_place_field(
    live_server: Any, phone: Any, resident: Any, settings: Any
) -> None:
    context, page, _log = phone
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/reports/new")
    fill_form(page)
    page.fill("#lat", "48.8566")  # Paris
    page.fill("#lon", "2.3522")
    page.locator("#report-submit").scroll_into_view_if_needed()
    page.click("#report-submit")
    page.wait_for_selector(".error-summary")
    assert focused(page) == "lat" and in_view_of(page, "#lat")
    assert page.locator(".error-summary a[href='#lat']").count() == 1
    page.screenshot(path=str(SHOTS / "form-error-place.png"))


def test_without_javascript_the_page_comes_back_with_a_summary_linking_to_each_field(
    live_server: Any, browser: Any, resident: Any
) -> None:
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, locale="fr-FR", java_script_enabled=False
    )
    page = context.new_page()
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/reports/new")
    page.click("#report-submit")
    page.wait_for_selector(".error-summary")
    links = page.locator(".error-summary a").evaluate_all(
        "(els) => els.map((a) => a.getAttribute('href'))"
    )
    assert "#photos" in links and "#category-first" in links
    assert page.locator(".error-summary").evaluate(IN_VIEW)
    page.screenshot(path=str(SHOTS / "form-error-nojs.png"))
    context.close()
