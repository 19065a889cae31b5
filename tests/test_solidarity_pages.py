"""Solidarity transport over HTTP, with the personas: the social worker (CCAS of Villerupt) books
by phone, volunteers see what fits and accept; a person's phone and address reach the social
worker and the accepted driver only; bad input is refused in French and writes nothing."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.db import read_session, utcnow, write_session
from app.models.accounts import User
from app.models.solidarity import Beneficiary, Booking, Place, Trip, Volunteer
from app.solidarity.schedule import local_today
from tests.conftest import PERSONA_PASSWORD
from tests.solidarity_helpers import THIL, VILLERUPT
from tests.test_privacy import rows_naming

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

PHONE = "0612345678"
ADDRESS = "12 rue de la Paix"
NAME = "Marguerite Lambert"


def _set_commune(engine, user_id: int, insee: str) -> None:
    with write_session(engine) as s:
        s.get(User, user_id).commune_insee = insee


def _count(engine, model) -> int:
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def _volunteer(persona, communes=(VILLERUPT,), phone="06 11 22 33 44"):
    r = persona.client.post_form(
        "/solidarity/volunteer",
        {
            "phone": phone,
            "commune_insee": VILLERUPT,
            "area": "communes",
            "area_communes": list(communes),
            **{f"day_{d}": "on" for d in range(7)},
            **{f"from_{d}": "08:00" for d in range(7)},
            **{f"to_{d}": "19:00" for d in range(7)},
        },
    )
    assert r.status_code == 303, r.text


@pytest.fixture
def ccas(personas, engine):
    worker = personas["social_worker"]
    _set_commune(engine, worker.id, VILLERUPT)
    with write_session(engine) as s:
        s.add(Place(label="Cabinet médical, Esch-sur-Alzette", lat=49.4958, lon=5.9806))
    return worker


def _register(worker, **change) -> object:
    data = {
        "full_name": NAME,
        "address": ADDRESS + ", Villerupt",
        "phone": "06 12 34 56 78",
        "mobility": "Déambulateur",
        "consent": "on",
        **change,
    }
    return worker.client.post_form("/solidarity/beneficiaries", data)


def _book(worker, person_id: int, **change):
    day = local_today(utcnow(), PARIS) + timedelta(days=4)
    data = {
        "beneficiary_id": str(person_id),
        "place_id": "1",
        "purpose": "Cardiologue",
        "first_day": day.isoformat(),
        "pickup_time": "09:30",
        "duration_min": "150",
        "round_trip": "on",
        **change,
    }
    return worker.client.post_form("/solidarity/bookings", data)


def test_a_social_worker_books_by_phone_and_a_volunteer_accepts(ccas, personas, engine):
    driver = personas["resident"]
    _volunteer(driver)
    r = _register(ccas)
    assert r.status_code == 303
    person_id = int(r.headers["location"].rsplit("/", 1)[1])
    page = ccas.client.get(r.headers["location"])
    assert NAME in page.text and PHONE in page.text and "recueilli le" in page.text
    r = _book(
        ccas,
        person_id,
        repeat="on",
        weekdays=["1", "3"],
        until=(local_today(utcnow(), PARIS) + timedelta(days=30)).isoformat(),
    )
    assert r.status_code == 303
    booking_id = int(r.headers["location"].rsplit("/", 1)[1])
    offers = driver.client.get("/solidarity/volunteer").text
    assert "Cabinet médical, Esch-sur-Alzette" in offers and "J’accepte ce trajet" in offers
    r = driver.client.post_form(f"/solidarity/bookings/{booking_id}/accept")
    assert r.status_code == 303 and r.headers["location"] == "/solidarity/volunteer?done=accepted"
    mine = driver.client.get("/solidarity/volunteer").text
    assert NAME in mine and PHONE in mine and ADDRESS in mine
    booking = ccas.client.get(f"/solidarity/bookings/{booking_id}").text
    assert "Julie" in booking and "0611223344" in booking  # the driver, for the social worker
    with read_session(engine) as s:
        b = s.get(Booking, booking_id)
        assert b.status == "accepted" and b.weekdays in ("1,3",)
        assert s.scalar(select(func.count()).select_from(Trip).where(Trip.driver_id.is_(None))) == 0


def test_phone_and_address_are_seen_by_the_social_worker_and_the_accepted_driver_only(
    client, ccas, personas, engine
):  # the anonymous client first: the app's test clients close in the reverse order
    driver, other = personas["resident"], personas["other_resident"]
    _volunteer(driver)
    _volunteer(other, phone="0699887766")
    person_id = int(_register(ccas).headers["location"].rsplit("/", 1)[1])
    booking_id = int(_book(ccas, person_id).headers["location"].rsplit("/", 1)[1])
    # Before anyone accepts: both volunteers are offered the trip, without name, address or phone.
    for v in (driver, other):
        text = v.client.get("/solidarity/volunteer").text
        assert "Cabinet médical" in text
        assert PHONE not in text and ADDRESS not in text and NAME not in text
    assert driver.client.post_form(f"/solidarity/bookings/{booking_id}/accept").status_code == 303
    elsewhere = personas["other_merchant"]  # a second social worker, of Thil's CCAS
    with write_session(engine) as s:
        s.get(User, elsewhere.id).role = "social_worker"
        s.get(User, elsewhere.id).commune_insee = THIL
    url = f"/solidarity/bookings/{booking_id}"
    seen = {}
    for key in ("social_worker", "resident", "other_resident", "merchant", "staff", "admin"):
        seen[key] = personas[key].client.get(url, follow_redirects=False)
    seen["ccas_thil"] = elsewhere.client.get(url, follow_redirects=False)
    seen["anonymous"] = client.get(url, follow_redirects=False)
    for key, r in seen.items():
        has = PHONE in r.text or ADDRESS in r.text
        if key in ("social_worker", "resident"):
            assert r.status_code == 200 and PHONE in r.text and ADDRESS in r.text, key
        else:
            assert r.status_code in (303, 403, 404) and not has, (key, r.status_code)
    # Nor anywhere else they can go.
    for persona, path in [
        (other, "/solidarity/volunteer"),
        (personas["staff"], "/staff/solidarity"),
        (elsewhere, "/solidarity/ccas"),
        (elsewhere, "/solidarity/calls"),
        (elsewhere, f"/solidarity/beneficiaries/{person_id}"),
        (personas["admin"], f"/solidarity/beneficiaries/{person_id}"),
    ]:
        text = persona.client.get(path).text
        assert PHONE not in text and ADDRESS not in text and NAME not in text, path
    # And the beneficiary, who has no account, never learns the driver's phone from a page: the
    # social worker does (to call), not the other volunteers.
    assert "0611223344" not in other.client.get("/solidarity/volunteer").text


def test_bad_input_gets_french_messages_and_writes_nothing(ccas, personas, engine):
    r = _register(ccas, consent="")
    assert r.status_code == 400 and "accord pour être inscrite" in r.text
    r = _register(ccas, phone="12")
    assert r.status_code == 400 and "numéro de téléphone" in r.text
    r = _register(ccas, full_name="", address="")
    assert r.status_code == 400 and "Ce champ est obligatoire" in r.text
    assert _count(engine, Beneficiary) == 0
    person_id = int(_register(ccas).headers["location"].rsplit("/", 1)[1])
    past = (local_today(utcnow(), PARIS) - timedelta(days=1)).isoformat()
    cases = [
        (dict(first_day=past), "date et une heure à venir"),
        (dict(first_day="demain"), "Date invalide"),
        (dict(pickup_time="25:00"), "heure de prise en charge"),
        (dict(duration_min="5"), "trop petite"),
        (dict(place_id="999"), "destination de la liste"),
        (dict(repeat="on"), "Cochez les jours"),
        (dict(repeat="on", weekdays=["2"]), "jusqu’à quelle date"),
        (dict(beneficiary_id="999"), "inscrite dans votre commune"),
    ]
    for change, message in cases:
        r = _book(ccas, person_id, **change)
        assert r.status_code == 400 and message in r.text, (change, r.status_code)
        assert "Le formulaire n’a pas été envoyé" in r.text
    assert _count(engine, Booking) == 0 and _count(engine, Trip) == 0
    volunteer = personas["resident"]
    r = volunteer.client.post_form(
        "/solidarity/volunteer",
        {
            "phone": "0611223344",
            "commune_insee": VILLERUPT,
            "area": "radius",
            "radius_km": "500",
            "day_0": "on",
            "from_0": "9h",
            "to_0": "12:00",
        },
    )
    assert (
        r.status_code == 400
        and "Le rayon va de 1 à 60 km" in r.text
        and "Indiquez les heures du lundi" in r.text
    )
    assert _count(engine, Volunteer) == 0
    r = ccas.client.get("/solidarity/export.csv?month=2026-13")
    assert r.status_code == 400 and "Mois invalide" in r.text
    r = ccas.client.get("/solidarity/calls?day=hier")
    assert r.status_code == 400 and "Date invalide" in r.text
    r = ccas.client.post_form("/solidarity/places", {"label": "Loin", "lat": "48", "lon": "2"})
    assert r.status_code == 400 and _count(engine, Place) == 1


def test_the_driver_proves_a_trip_the_social_worker_confirms_and_the_export_counts_it(
    ccas, personas, engine, settings
):
    driver = personas["resident"]
    _volunteer(driver)
    person_id = int(_register(ccas).headers["location"].rsplit("/", 1)[1])
    booking_id = int(_book(ccas, person_id).headers["location"].rsplit("/", 1)[1])
    driver.client.post_form(f"/solidarity/bookings/{booking_id}/accept")
    with write_session(engine) as s:  # the trip took place yesterday at 09:30
        trip = s.scalars(select(Trip).where(Trip.booking_id == booking_id)).one()
        trip.pickup_at = utcnow() - timedelta(days=1)
        trip.ends_at = trip.pickup_at + timedelta(hours=2)
        trip_id, month = (
            trip.id,
            trip.pickup_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")),
        )
    r = driver.client.post_form(f"/solidarity/trips/{trip_id}/done", {"km": "abc"})
    assert r.status_code == 400 and "kilomètres parcourus" in r.text
    assert (
        driver.client.post_form(f"/solidarity/trips/{trip_id}/done", {"km": "18,6"}).status_code
        == 303
    )
    assert (
        personas["other_resident"]
        .client.post_form(f"/solidarity/trips/{trip_id}/done", {"km": "1"})
        .status_code
        == 404
    )
    assert ccas.client.post_form(f"/solidarity/trips/{trip_id}/confirm").status_code == 303
    r = ccas.client.get(f"/solidarity/export.csv?month={month:%Y-%m}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text), delimiter=";"))
    # 18.6 km at the default 0.25 €/km and 0.33 €/km: 4.65 € and 6.138 → 6.14 €.
    assert rows[1][2:] == [
        NAME,
        "Julie",
        "Cabinet médical, Esch-sur-Alzette",
        "18.6",
        "4.65",
        "6.14",
    ]
    assert rows[-1] == ["total", "", "", "", "", "18.6", "4.65", "6.14"]
    stats = personas["staff"].client.get("/staff/solidarity").text
    assert "Villerupt" in stats and "18.6" in stats and "4.65 €" in stats


def test_a_volunteers_account_deletion_leaves_no_row_naming_them(ccas, personas, engine):
    driver = personas["resident"]
    _volunteer(driver)
    person_id = int(_register(ccas).headers["location"].rsplit("/", 1)[1])
    booking_id = int(_book(ccas, person_id).headers["location"].rsplit("/", 1)[1])
    driver.client.post_form(f"/solidarity/bookings/{booking_id}/accept")
    export = driver.client.get("/me/export")
    assert export.status_code == 200
    r = driver.client.post_form("/me/delete", {"password": PERSONA_PASSWORD, "confirm": "yes"})
    assert r.status_code == 303
    assert [row for row in rows_naming(engine, driver.id, driver.email) if "jobs" not in row] == []
    with read_session(engine) as s:
        assert s.get(Booking, booking_id).status == "open"
    assert "Cabinet médical" in ccas.client.get("/solidarity/ccas").text
