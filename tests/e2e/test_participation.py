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


def test_a_resident_answers_a_consultation_and_reads_its_results_at_phone_size(
    live_server, phone, personas, engine
):
    from tests.test_participation_consultations import close, make_consultation, seed_responses

    context, page, log = phone
    cid, q = make_consultation(engine, communes=AUDUN)
    resident = personas["resident"]
    live_in(engine, resident.id, AUDUN)
    sign_in(context, live_server, resident)
    base = live_server.url

    page.goto(f"{base}/participation")
    page.click("text=Vos trajets")
    page.wait_for_url(re.compile(rf".*/participation/consultations/{cid}$"))
    shot(page, "consultation")

    # Sent without the required answer: the message, at the question.
    with page.expect_navigation():
        page.click("button:has-text('Envoyer ma réponse')")
    page.wait_for_selector(f"#q{q['single']}-error")
    assert "demande une réponse" in page.inner_text(f"#q{q['single']}-error")
    shot(page, "consultation-error")

    page.check(f"#q{q['single']}-2")
    page.check(f"#q{q['multiple']}-1")
    for option, rank in ((0, "2"), (1, "1"), (2, "3")):
        page.select_option(f"#q{q['ranking']}_{option}", rank)
    page.fill(f"#q{q['text']}-text", "Un abri vélo fermé à la gare.")
    # The place: a tap on the map fills the point.
    page.wait_for_selector(".consultation-map.leaflet-container")
    page.locator(".consultation-map").click()
    assert page.input_value(f"input[name=q{q['place']}_lat]") != ""
    shot(page, "consultation-filled")
    with page.expect_navigation():
        page.click("button:has-text('Envoyer ma réponse')")
    page.wait_for_url(re.compile(r".*\?answered=1$"))
    assert page.is_visible("text=Merci, votre réponse est enregistrée.")
    assert page.is_visible("text=Vous avez répondu.")
    shot(page, "consultation-answered")

    # After the close, the results: bars, the ranking's points, the map of places.
    seed_responses(engine, cid, q)
    close(engine, cid)
    page.goto(f"{base}/participation/consultations/{cid}")
    page.click("text=Voir les résultats")
    page.wait_for_url(re.compile(r".*/results$"))
    assert page.locator("svg.bar").count() >= 9
    assert "13 réponses" in page.inner_text("main").replace("\u202f", " ")
    page.wait_for_selector(".consultation-map.leaflet-container")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "consultation-results")
    # Map tiles cannot load (no network to the tile server in tests): the only unresolved names.
    unexpected = [
        e for e in log.errors if "status of 400" not in e and "ERR_NAME_NOT_RESOLVED" not in e
    ]
    assert unexpected == [], log.errors


def test_staff_write_a_consultation_publish_it_and_read_its_texts_at_desk_size(
    live_server, browser, personas, engine
):
    from tests.test_participation_consultations import close, make_consultation, seed_responses

    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    staff = personas["staff"]
    sign_in(context, live_server, staff)
    base = live_server.url
    page.goto(f"{base}/participation/staff/consultations")
    page.fill("#title", "Le marché du samedi")
    page.check(f"#commune-{AUDUN}")
    page.fill("#first_day", "2027-01-04")
    page.fill("#last_day", "2027-01-31")
    with page.expect_navigation():
        page.click("button:has-text('Créer la consultation')")
    page.fill("#label", "Quel jour pour le marché ?")
    page.select_option("#kind", "single")
    page.fill("#options", "Samedi matin\nDimanche matin\nVendredi soir")
    page.check("#required")
    with page.expect_navigation():
        page.click("button:has-text('Ajouter la question')")
    assert page.is_visible("text=Quel jour pour le marché ?")
    shot(page, "staff-consultation-draft")
    with page.expect_navigation():
        page.click("button:has-text('Publier')")
    assert page.is_visible("text=À venir")

    # Another consultation, closed with its texts to read.
    cid, q = make_consultation(engine)
    seed_responses(engine, cid, q)
    close(engine, cid)
    page.goto(f"{base}/participation/staff/consultations/{cid}")
    assert page.locator("#moderation blockquote").count() == 3
    shot(page, "staff-consultation-moderation")
    with page.expect_navigation():
        page.locator("#moderation li", has_text="Plus de bus le samedi.").locator(
            "button:has-text('Publier')"
        ).click()
    assert page.locator("#moderation blockquote").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    context.close()
    assert errors == [], errors
