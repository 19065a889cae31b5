"""The lighting calendar editor in a browser without JavaScript, at a desk (1440×900) and on a phone
(390×844): programs picked from lists, weekdays by name, a rule added, an error next to its field,
the calendar saved and said in words. Screenshots in /tmp/shots/lighting-calendar-*.png."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db import read_session
from app.models.lighting import LightCalendar
from tests.e2e.conftest import sign_in

SHOTS = Path("/tmp/shots")
SIZES = {"desk": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_calendar_is_written_with_the_form_alone(live_server, browser, engine, staff, size):
    for name in ("Semaine", "Week-end", "Fêtes"):
        staff.client.post_form(
            "/staff/lighting/programs/new", {"name": name, "steps": "dusk 100\ndawn 0"}
        )
    context = browser.new_context(
        viewport=SIZES[size], locale="fr-FR", java_script_enabled=False, is_mobile=size == "phone"
    )
    sign_in(context, live_server, staff)
    page = context.new_page()
    SHOTS.mkdir(exist_ok=True)
    page.goto(live_server.url + "/staff/lighting/calendars/new")
    page.fill("#name", "Année")
    page.select_option("#default", label="Semaine")
    page.select_option("#rules-0-program", label="Week-end")
    rule = page.locator("#rules-0-rule")
    rule.get_by_label("samedi").check()
    rule.get_by_label("dimanche").check()
    page.get_by_role("button", name="Ajouter une règle").click()
    # The page came back with the first rule as typed and a second, empty rule.
    assert page.locator("#rules-0-rule").get_by_label("samedi").is_checked()
    page.select_option("#rules-1-program", label="Fêtes")
    page.get_by_role("button", name="Enregistrer").click()
    # Neither days nor period: the error is next to the days of that rule, and linked from the top.
    error = page.locator("#rules-1-weekdays-error")
    assert error.is_visible() and "Cochez des jours" in error.inner_text()
    days = page.locator("#rules-1-weekdays").bounding_box()
    below = error.bounding_box()
    assert days and below and days["y"] <= below["y"] <= days["y"] + days["height"] + 40
    assert page.locator('#error-summary a[href="#rules-1-weekdays"]').is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], f"the form is wider than the screen ({width} px)"
    page.screenshot(path=str(SHOTS / f"lighting-calendar-error-{size}.png"), full_page=True)
    page.fill("#rules-1-start", "2026-12-24")
    page.fill("#rules-1-end", "2027-01-01")
    page.locator("#rules-1-rule").get_by_label("Chaque année").check()
    page.fill("#rules-1-priority", "10")
    page.get_by_role("button", name="Enregistrer").click()
    assert page.url.endswith("/staff/lighting/programs")
    body = page.locator("body").inner_text()
    assert "samedi, dimanche : Week-end" in body
    assert "du 24 décembre au 1 janvier chaque année : Fêtes" in body
    page.screenshot(path=str(SHOTS / f"lighting-calendar-saved-{size}.png"), full_page=True)
    with read_session(engine) as session:
        stored = json.loads(session.scalars(select(LightCalendar.definition)).one())
    assert stored["default"] == "Semaine" and len(stored["rules"]) == 2
    context.close()
