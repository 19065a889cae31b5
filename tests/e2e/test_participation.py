"""Participatory budget at phone size: a resident finds the vote from the home page, picks projects
within the envelope (a basket over it is refused), confirms, and sees the results page once the
vote is closed; screenshots go to /tmp/shots/participation-*.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import sign_in
from tests.participation_helpers import AUDUN, choices, live_in, make_budget, set_phase

SHOTS = Path("/tmp/shots")
pytestmark = pytest.mark.e2e


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"participation-{name}.png"), full_page=True)


def test_a_resident_votes_within_the_envelope_and_sees_the_results_at_phone_size(
    live_server, phone, personas, engine
):
    context, page, log = phone
    budget_id, (garden, benches, cycle, books) = make_budget(engine, envelope=60_000)
    resident = personas["resident"]
    live_in(engine, resident.id, AUDUN)
    sign_in(context, live_server, resident)
    base = live_server.url

    # The resident finds the vote from the home page.
    page.goto(f"{base}/")
    page.click(
        "text=Votez pour les projets de votre commune >> xpath=.. >> a:has-text('Budget participatif 2027')"
    )
    page.wait_for_url(re.compile(rf".*/participation/budgets/{budget_id}$"))
    assert "60" in page.inner_text("main")
    shot(page, "budget")

    # A basket over the envelope is refused, with the message next to the projects.
    for pid in (garden, benches, cycle):
        page.check(f"#project-{pid}")
    with page.expect_navigation():
        page.click("button:has-text('Vérifier mon choix')")
    page.wait_for_selector("#project-error")
    assert "dépasse l’enveloppe" in page.inner_text("#project-error")
    assert page.is_checked(f"#project-{cycle}")  # the choice is kept to be corrected
    shot(page, "over-budget")

    # Within the envelope: checked, confirmed, recorded.
    page.uncheck(f"#project-{cycle}")
    page.check(f"#project-{books}")
    with page.expect_navigation():
        page.click("button:has-text('Vérifier mon choix')")
    page.wait_for_selector("h1:has-text('Confirmer mon vote')")
    assert "45 500" in page.inner_text(".total").replace("\u202f", " ")
    shot(page, "confirm")
    page.click("button:has-text('Confirmer mon vote')")
    page.wait_for_url(re.compile(r".*\?voted=1$"))
    assert page.is_visible("text=Merci, votre vote est enregistré.")
    assert page.is_visible("text=Vous avez voté.")
    shot(page, "voted")
    assert sorted(p for _, _, p in choices(engine, budget_id)) == sorted([garden, benches, books])

    # After the close, the results page.
    set_phase(engine, budget_id, "results")
    page.goto(f"{base}/participation/budgets/{budget_id}")
    page.click("text=Voir les résultats")
    page.wait_for_url(re.compile(r".*/results$"))
    rows = page.locator("#ranked tbody tr")
    assert rows.count() == 4
    assert page.locator("tr.is-won").count() == 3
    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "results")
    assert [e for e in log.errors if "status of 400" not in e] == [], log.errors
