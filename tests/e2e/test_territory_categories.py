"""A territory's own categories in the browser: the Minett's admin adds one on the reports'
settings page (a wide screen), and a resident of the Minett finds it in the report form (a phone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from app.db import write_session
from app.models.accounts import User
from app.models.territory import Territory
from tests.e2e.conftest import PHONE
from tests.test_territories import add_minett

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")
WIDE = {"width": 1440, "height": 900}


def _cookie(context, persona, base: str) -> None:
    from app import auth

    token = persona.client.cookies.get(auth.SESSION_COOKIE)
    context.add_cookies([{"name": auth.SESSION_COOKIE, "value": token, "url": base}])


def test_the_minetts_admin_adds_a_category_and_a_resident_of_the_minett_picks_it(
    live_server, browser, engine, personas
):
    add_minett(engine)
    admin, resident = personas["elected"], personas["resident"]
    with write_session(engine) as session:
        minett = session.scalars(select(Territory.id).where(Territory.slug == "minett")).one()
        user = session.get(User, admin.id)
        assert user is not None
        user.role, user.territory_id = "admin", minett
    base = f"http://esch.localhost:{live_server.port}"
    SHOTS.mkdir(exist_ok=True)
    errors: list[str] = []

    # The admin, on a wide screen: the settings page, a new category, a code already taken.
    context = browser.new_context(viewport=WIDE, locale="fr-FR")
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    _cookie(context, admin, base)
    page.goto(base + "/staff/reports/settings")
    page.fill("#category-label", "Vélos abandonnés")
    page.fill("#category-hint", "Vélos, trottinettes, remorques")
    page.click("text=Ajouter la catégorie")
    page.wait_for_url("**/staff/reports/settings#categories")
    rows = page.locator(".category-row .category-row-name strong").all_inner_texts()
    assert rows[-1] == "Vélos abandonnés" and len(rows) == 8
    page.fill("#category-label", "Pneus de camion")
    page.fill("#category-code", "tyres")
    page.click("text=Ajouter la catégorie")
    assert page.locator("#category_code-error").inner_text() == (
        "Le code « tyres » est déjà celui de la catégorie « Pneus » sur ce territoire."
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDE["width"]
    page.goto(base + "/staff/reports/settings#categories")
    page.screenshot(path=str(SHOTS / "categories-settings-1440.png"), full_page=True)
    context.close()

    # The resident, on a phone: the Minett's form offers it, last.
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="fr-FR"
    )
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    _cookie(context, resident, base)
    page.goto(base + "/reports/new")
    options = page.locator(".category-option strong").all_inner_texts()
    assert options[-1] == "Vélos abandonnés" and len(options) == 8
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator(".category-grid").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "categories-form-390.png"), full_page=True)
    context.close()
    assert errors == []
