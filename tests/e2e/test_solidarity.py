"""Solidarity transport at phone size: a social worker of Villerupt's CCAS registers a person and
books a trip for them (as on the phone with them), a volunteer driver signs up with their slots,
sees the request without the person's details, accepts it, and then reads the address and phone;
the social worker sees who drives. Screenshots go to /tmp/shots/solidarity-*.png."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.db import utcnow, write_session
from app.models.accounts import User
from app.models.solidarity import Place
from app.solidarity.schedule import local_today
from tests.e2e.conftest import PHONE, ConsoleLog, sign_in

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

SHOTS = Path("/tmp/shots")
pytestmark = pytest.mark.e2e


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"solidarity-{name}.png"), full_page=True)


def fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def test_a_social_worker_books_a_trip_and_a_volunteer_accepts_it_at_phone_size(
    live_server, phone, browser, personas, engine
):
    context, page, log = phone
    worker, driver = personas["social_worker"], personas["resident"]
    with write_session(engine) as s:
        s.get(User, worker.id).commune_insee = "54580"
        s.add(Place(label="Cabinet médical, Esch-sur-Alzette", lat=49.4958, lon=5.9806))
        s.add(Place(label="Marché de Villerupt", commune_insee="54580", lat=49.4672, lon=5.9287))
    base = live_server.url
    sign_in(context, live_server, worker)

    # The social worker registers the person who called, with her consent.
    page.goto(f"{base}/solidarity/ccas")
    shot(page, "ccas-empty")
    page.click("text=Inscrire une personne")
    page.fill("#full_name", "Marguerite Lambert")
    page.fill("#address", "12 rue de la Paix, Villerupt")
    page.fill("#phone", "06 12 34 56 78")
    page.fill("#mobility", "Déambulateur")
    with page.expect_navigation():
        page.click("button:has-text('Inscrire')")
    page.wait_for_selector("#consent-error, .error-summary")
    assert "accord" in page.inner_text(".error-summary")  # consent is required
    shot(page, "consent-missing")
    page.check("#consent")
    with page.expect_navigation():
        page.click("button:has-text('Inscrire')")
    page.wait_for_url(re.compile(r".*/solidarity/beneficiaries/\d+$"))
    assert "0612345678" in page.inner_text("main")
    shot(page, "beneficiary")

    # ... and books her Tuesday appointment in Esch-sur-Alzette.
    page.click("text=Réserver un trajet")
    page.wait_for_url(re.compile(r".*/solidarity/bookings/new\?beneficiary=\d+$"))
    day = local_today(utcnow(), PARIS) + timedelta(days=3)
    page.select_option("#place_id", label="Cabinet médical, Esch-sur-Alzette")
    page.fill("#purpose", "Cardiologue")
    page.fill("#first_day", day.isoformat())
    page.fill("#pickup_time", "09:30")
    page.fill("#duration_min", "150")
    fits_the_phone(page)
    shot(page, "booking-form")
    with page.expect_navigation():
        page.click("button:has-text('Réserver')")
    page.wait_for_url(re.compile(r".*/solidarity/bookings/\d+$"))
    booking_url = page.url
    assert "En attente d’un bénévole" in page.inner_text("main")
    fits_the_phone(page)
    shot(page, "booked")

    # A volunteer, on their own phone, signs up for that day and sees the request, anonymised.
    vcontext = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="fr-FR"
    )
    vpage = vcontext.new_page()
    vlog = ConsoleLog()
    vlog.attach(vpage)
    sign_in(vcontext, live_server, driver)
    vpage.goto(f"{base}/solidarity")
    shot(vpage, "index")
    vpage.click("text=Je m’inscris comme bénévole")
    vpage.fill("#phone", "06 11 22 33 44")
    vpage.select_option("#commune_insee", label="Villerupt")
    vpage.check("input[name=area_communes][value='54580']")
    weekday = day.weekday()
    vpage.check(f"input[name=day_{weekday}]")
    vpage.fill(f"#from_{weekday}", "08:00")
    vpage.fill(f"input[name=to_{weekday}]", "18:00")
    fits_the_phone(vpage)
    shot(vpage, "volunteer-form")
    with vpage.expect_navigation():
        vpage.click("button:has-text('Enregistrer')")
    vpage.wait_for_url(re.compile(r".*done=saved$"))
    offers = vpage.inner_text("#offers-title >> xpath=..")
    assert "Cabinet médical, Esch-sur-Alzette" in offers
    assert (
        "Marguerite" not in offers and "0612345678" not in offers and "rue de la Paix" not in offers
    )
    fits_the_phone(vpage)
    shot(vpage, "offers")
    with vpage.expect_navigation():
        vpage.click("button:has-text('J’accepte ce trajet')")
    vpage.wait_for_url(re.compile(r".*done=accepted$"))
    mine = vpage.inner_text("#driven-title >> xpath=..")
    assert "Marguerite Lambert" in mine and "0612345678" in mine and "12 rue de la Paix" in mine
    fits_the_phone(vpage)
    shot(vpage, "accepted")

    # The social worker sees who drives, with the phone to call.
    page.goto(booking_url)
    text = page.inner_text("main")
    assert "Julie" in text and "0611223344" in text and "Acceptée" in text
    fits_the_phone(page)
    shot(page, "booking-accepted")
    vcontext.close()
    assert [e for e in log.errors + vlog.errors if "status of 400" not in e] == [], (
        log.errors + vlog.errors
    )
