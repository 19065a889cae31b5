"""Renovation guide at phone size, without an account: a resident of Villerupt answers the
questionnaire one page at a time (a wrong year is refused in French and corrected), sees the aids
with their source and year, enters the cost of the quote, asks for an adviser's call; staff see
the request at a desk and mark it called. Screenshots go to /tmp/shots/renovation-*.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import select

from app.db import read_session, write_session
from app.models.renovation import Appointment
from app.renovation import rules
from tests.e2e.conftest import sign_in

SHOTS = Path("/tmp/shots")
pytestmark = pytest.mark.e2e


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"renovation-{name}.png"), full_page=True)


def next_page(page) -> None:
    with page.expect_navigation():
        page.click("button:has-text('Continuer')")


def test_a_resident_completes_the_questionnaire_and_asks_for_an_adviser_at_phone_size(
    live_server, phone, browser, staff, engine
):
    with write_session(engine) as session:
        rules.load_file(session, rules.NATIONAL_FILE)
    context, page, log = phone
    base = live_server.url

    page.goto(f"{base}/renovation")
    assert page.is_visible("h1:has-text('Quelles aides pour rénover mon logement ?')")
    page.select_option("#commune", "54580")
    shot(page, "1-commune")
    next_page(page)

    page.check("input[name=home_type][value=maison]")
    page.fill("#built_year", "2031")
    next_page(page)
    assert "au plus tard 2026" in page.inner_text("#built_year-error")
    shot(page, "2-home-error")
    page.fill("#built_year", "1928")
    next_page(page)

    page.check("input[name=heating][value=fioul]")
    next_page(page)
    page.fill("#persons", "3")
    next_page(page)
    assert "Jusqu’à 30\u202f206\u00a0€" in page.inner_text("#bracket")
    shot(page, "3-income")
    page.check("input[name=bracket][value=modeste]")
    next_page(page)

    page.check("input[name=works][value=pac_air_eau]")
    page.check("input[name=works][value=isolation_murs_ext]")
    shot(page, "4-works")
    next_page(page)
    page.fill("#q_isolation_murs_ext", "85")
    next_page(page)

    page.wait_for_selector("h1:has-text('Vos aides à la rénovation')")
    aids = page.inner_text("#aids")
    assert "MaPrimeRénov’ par geste : pompe à chaleur air/eau" in aids
    assert "5\u202f100\u00a0€" in aids  # 85 m² × 60 €
    assert "Prêt jusqu’à 25\u202f000\u00a0€" in aids
    assert aids.count("Règle 2026") == 4
    shot(page, "5-aids")

    page.fill("#cost", "24000")
    with page.expect_navigation():
        page.click("button:has-text('Calculer')")
    # 24 000 − (4 000 + 5 100 + 4 000) = 10 900
    assert "10\u202f900\u00a0€" in page.inner_text("#remaining")

    page.fill("#name", "Marie Dupont")
    page.fill("#phone", "03 82 89 12 34")
    page.check("input[name=slots][value=afternoon]")
    with page.expect_navigation():
        page.click("button:has-text('Demander un rendez-vous')")
    assert "Cochez la case" in page.inner_text("#consent-error")
    assert page.input_value("#name") == "Marie Dupont"  # kept to be corrected
    shot(page, "6-consent-missing")
    page.check("#consent input")
    with page.expect_navigation():
        page.click("button:has-text('Demander un rendez-vous')")
    page.wait_for_url(re.compile(r".*/renovation/appointments/sent$"))
    assert page.is_visible("h1:has-text('Demande envoyée')")
    shot(page, "7-sent")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert [e for e in log.errors if "status of 400" not in e] == [], log.errors

    with read_session(engine) as session:
        row = session.exec(select(Appointment)).one()
    assert row.name == "Marie Dupont" and row.commune_insee == "54580"
    assert "Coût estimé des travaux : 24\u202f000\u00a0€" in row.summary

    # Staff at a desk see the request and mark it called.
    desk = browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR")
    try:
        sign_in(desk, live_server, staff)
        office = desk.new_page()
        office.goto(f"{base}/renovation/staff/appointments?status=new")
        assert "Marie Dupont" in office.inner_text("#appointments")
        office.screenshot(path=str(SHOTS / "renovation-8-staff-desk.png"), full_page=True)
        office.select_option(f"#status-{row.id}", "called")
        with office.expect_navigation():
            office.click(f"#appointment-{row.id} button:has-text('Enregistrer')")
        assert "Rappelée" in office.inner_text(f"#appointment-{row.id}")
        office.goto(f"{base}/renovation/staff")
        office.screenshot(path=str(SHOTS / "renovation-9-staff-aids.png"), full_page=True)
    finally:
        desk.close()
