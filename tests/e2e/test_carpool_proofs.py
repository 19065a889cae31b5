"""Proofs of carpooling at phone size: the identity for proofs given with consent in the profile, then
both people confirm a trip with their phones' positions (the page's script joins them); the proof is
class C. Screenshots go to /tmp/shots/carpool-proof-*.png."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.carpool import bookings
from app.db import read_session, utcnow, write_session
from app.models.carpool import CarpoolProfile
from app.models.carpool_interop import CarpoolProof
from tests.e2e.conftest import PHONE, sign_in
from tests.test_carpool import AUDUN, KIRCHBERG, publish

SHOTS = Path("/tmp/shots")
pytestmark = pytest.mark.e2e


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"carpool-proof-{name}.png"), full_page=True)


def test_identity_with_consent_then_both_confirm_the_trip_with_their_positions(
    live_server, browser, personas, engine
):
    base = live_server.url
    people = {"driver": personas["resident"], "rider": personas["other_resident"]}
    ad = publish(
        engine, people["driver"].id, AUDUN, KIRCHBERG, when=utcnow() + timedelta(minutes=20)
    )
    with write_session(engine) as s:
        b = bookings.request_seats(s, ad, people["rider"].id, 1)
        bookings.accept(s, b, people["driver"].id)
        booking_id = b.id
    pages = {}
    contexts = []
    try:
        for role, (lat, lon) in (("driver", AUDUN), ("rider", AUDUN)):
            context = browser.new_context(
                viewport=PHONE,
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                locale="fr-FR",
                geolocation={"latitude": lat, "longitude": lon},
                permissions=["geolocation"],
            )
            contexts.append(context)
            sign_in(context, live_server, people[role])
            page = context.new_page()
            page.goto(f"{base}/carpool/profile#proof")
            page.fill("#proof_phone", "06 01 02 03 0" + ("4" if role == "driver" else "5"))
            page.fill("#proof_last_name", "Martin" if role == "driver" else "Schmit")
            if role == "driver":
                shot(page, "profile")
            # Without the consent box the browser does not send the form (required).
            page.click("button:has-text('Enregistrer pour les preuves')")
            assert page.url.endswith("/carpool/profile#proof")
            page.check("input[name=proof_consent]")
            page.click("button:has-text('Enregistrer pour les preuves')")
            page.wait_for_selector("text=Retirer mon identité pour les preuves")
            if role == "driver":
                shot(page, "profile-saved")
            pages[role] = page
        for role, page in pages.items():
            page.goto(f"{base}/carpool/bookings/{booking_id}")
            if role == "driver":
                shot(page, "booking-start")
            page.click("button:has-text('Nous partons')")
            page.wait_for_selector("button:has-text('Nous sommes arrivés')")
        for context in contexts:
            context.set_geolocation({"latitude": KIRCHBERG[0], "longitude": KIRCHBERG[1]})
        for role, page in pages.items():
            page.click("button:has-text('Nous sommes arrivés')")
            page.wait_for_selector(".notice")
        shot(pages["rider"], "booking-done")
        assert "Trajet confirmé par vous deux" in pages["rider"].content()
    finally:
        for context in contexts:
            context.close()
    with read_session(engine) as s:
        [proof] = s.scalars(select(CarpoolProof)).all()
        assert s.get(CarpoolProfile, people["driver"].id).proof_identity_key
    payload = json.loads(proof.payload)
    assert proof.operator_class == "C"
    assert payload["start"]["lat"] == AUDUN[0] and payload["end"]["lat"] == KIRCHBERG[0]
