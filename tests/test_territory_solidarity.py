"""Solidarity transport on an install of several territories: a beneficiary, a volunteer and a
booking belong to the territory of their commune, a trip to its booking's, a usual destination to
the territory of the social worker who added it. Every solidarity page and action a host answers
(the social worker's lists, people, bookings, calls, SMS and export; the volunteers' offers,
accepting, proofs; the booking page; the staff's statistics and social workers) keeps to its
territory's, and the notifications and SMS reminders of one territory never reach another's
people."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from app import auth
from app.db import read_session, saved_id, utcnow, write_session
from app.models.accounts import User
from app.models.jobs import Job
from app.models.solidarity import Beneficiary, Booking, Place, Trip, Volunteer
from app.solidarity import bookings, reminders
from tests.conftest import EclorClient
from tests.solidarity_helpers import VILLERUPT, book, next_weekday, person, place, social_worker
from tests.solidarity_helpers import volunteer as make_volunteer
from tests.territory_sweep import domain_routes
from tests.territory_sweep import refused as is_refused
from tests.test_solidarity_reminders import Gateway, _run_jobs
from tests.test_territories import ESCH
from tests.test_territory_reports import add_minett

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

ESCH_INSEE = "L0204"
B_NAME = "Jeanne Schmit-Minett"
B_PHONE = "0661998877"
B_PLACE = "Maison médicale de Lallange"
B_WORKER = "ccas-minett@eclor.test"
A_NAME = "Marguerite Lambert"
DOMAIN = ("/solidarity", "/staff/solidarity")


def _b_person(engine: Any, worker: int) -> int:
    return person(engine, worker, name=B_NAME, commune=ESCH_INSEE, phone=B_PHONE)


@pytest.fixture
def two(app, engine, personas) -> dict[str, Any]:
    """Each territory's social worker, beneficiary, destination, volunteer and bookings.

    A (the first territory): the ``social_worker`` persona, CCAS of Villerupt, with a beneficiary
    and a booking; the ``resident`` persona drives there within 30 km of Villerupt (Esch is
    nearer than that). B (the Minett): a social worker of Esch, a beneficiary of Esch, a
    destination, the ``other_resident`` persona as its volunteer, an open booking and an accepted
    one whose first trip is done, waiting for the social worker's confirmation."""
    minett = add_minett(engine)
    a_worker = personas["social_worker"]
    with write_session(engine) as s:
        row = s.get(User, a_worker.id)
        assert row is not None
        row.commune_insee = VILLERUPT
    a_person = person(engine, a_worker.id, name=A_NAME)
    a_place = place(engine, "Marché de Villerupt")
    make_volunteer(engine, personas["resident"].id, radius_km=30)
    day = next_weekday(2)
    a_booking = book(engine, a_worker.id, a_person, a_place, first_day=day)

    b_worker = social_worker(engine, B_WORKER, commune=ESCH_INSEE)
    b_person = _b_person(engine, b_worker)
    with write_session(engine) as s:
        p = Place(label=B_PLACE, lat=49.49, lon=5.98, commune_insee=ESCH_INSEE, territory_id=minett)
        s.add(p)
        s.flush()
        b_place = saved_id(p)
    b_volunteer = make_volunteer(
        engine, personas["other_resident"].id, communes=(ESCH_INSEE,), home=ESCH_INSEE
    )
    b_open = book(engine, b_worker, b_person, b_place, first_day=day, commune=ESCH_INSEE)
    b_taken = book(
        engine,
        b_worker,
        b_person,
        b_place,
        first_day=day,
        at=14 * 60,
        weekdays=[day.weekday()],
        until=day + timedelta(days=14),
        commune=ESCH_INSEE,
    )
    with write_session(engine) as s:
        bookings.accept(s, b_taken, s.get(Volunteer, b_volunteer.id), utcnow())
        trips = bookings.trips_of(s, b_taken)
        done = trips[0]
        done.pickup_at, done.ends_at = utcnow() - timedelta(days=2), utcnow() - timedelta(days=2)
        done.status, done.km_tenths, done.done_at = "done", 124, utcnow() - timedelta(days=1)
        s.add(done)
        b_trips = [saved_id(done), saved_id(trips[1])]
    return {
        "minett": minett,
        "day": day,
        "a": {"worker": a_worker.id, "person": a_person, "place": a_place, "booking": a_booking},
        "b": {
            "worker": b_worker,
            "person_id": b_person,
            "place": b_place,
            "volunteer": b_volunteer.id,
            "bookings": [b_open, b_taken],
            "trips": b_trips,
        },
    }


def _leaks(text: str, echoed: tuple[str, ...] = ()) -> list[str]:
    """B's markers in a page (``echoed``: what the page gives back of the form that was sent)."""
    markers = (B_NAME, B_PHONE, B_PLACE, B_WORKER, f'value="{ESCH_INSEE}"')
    return [m for m in markers if m in text and m not in echoed]


def _state(engine: Any, two: dict[str, Any]) -> list[Any]:
    """B's rows as they stand, and how many solidarity rows and jobs of B's people exist."""
    b = two["b"]
    with Session(engine) as s:
        person_row = s.get(Beneficiary, b["person_id"])
        worker = s.get(User, b["worker"])
        volunteer = s.get(Volunteer, b["volunteer"])
        assert person_row and worker and volunteer
        counts = [
            s.scalar(
                select(func.count())
                .select_from(model)
                .where(col(model.territory_id) == two["minett"])
            )
            for model in (Beneficiary, Place, Volunteer, Booking, Trip)
        ]
        b_trips = set(
            s.scalars(select(col(Trip.id)).where(col(Trip.territory_id) == two["minett"]))
        )
        return [
            (person_row.full_name, person_row.phone, person_row.address),
            (worker.commune_insee, worker.role),
            (volunteer.active, volunteer.commune_insee, volunteer.area_communes),
            [
                (r.status, r.driver_id)
                for r in (s.get(Booking, i) for i in b["bookings"])
                if r is not None
            ],
            [
                (r.status, r.km_tenths, r.confirmed_at, r.reminded_at)
                for r in (s.get(Trip, i) for i in b["trips"])
                if r is not None
            ],
            counts,
            sorted(
                k
                for k in s.scalars(
                    select(col(Job.dedupe_key)).where(col(Job.kind) == reminders.JOB)
                )
                if k and int(k.rsplit(":", 1)[1]) in b_trips
            ),
        ]


def _fill(path: str, two: dict[str, Any]) -> list[str]:
    """The path with B's rows in its parameters (every parameter must be known to the sweep)."""
    b = two["b"]
    values = {
        "booking_id": [str(i) for i in b["bookings"]],
        "beneficiary_id": [str(b["person_id"])],
        "trip_id": [str(i) for i in b["trips"]],
    }
    urls = [path]
    for name in re.findall(r"\{(\w+):\w+\}", path):
        if name not in values:
            raise AssertionError(f"{path}: a solidarity route whose {name} has no sample")
        pattern = re.compile(r"\{" + name + r":\w+\}")
        urls = [pattern.sub(v, u) for u in urls for v in values[name]]
    return urls


def _form(two: dict[str, Any]) -> dict[str, Any]:
    """One form naming B's rows in every field a solidarity write reads."""
    b = two["b"]
    return {
        "phone": "0611223344",
        "commune_insee": ESCH_INSEE,
        "area": "communes",
        "area_communes": [ESCH_INSEE],
        "day_0": "on",
        "from_0": "08:00",
        "to_0": "18:00",
        "km": "12",
        "beneficiary_id": str(b["person_id"]),
        "place_id": str(b["place"]),
        "first_day": two["day"].isoformat(),
        "pickup_time": "09:00",
        "duration_min": "120",
        "day": two["day"].isoformat(),
        "email": B_WORKER,
        "month": two["day"].strftime("%Y-%m"),
    }


# Writes naming no row in their path: what they may do with B's rows in the form is checked by the
# state of B's rows (unchanged) and, for some, by their answer.
UNNAMED_WRITES = {
    "/solidarity/volunteer": 400,  # Esch is not a commune of this host's territory
    "/solidarity/bookings": 400,  # B's beneficiary and destination are not found here
    "/staff/solidarity/workers": 400,  # B's social worker and commune are not this territory's
    "/solidarity/beneficiaries": None,  # the worker's own commune's (none here for B's)
    "/solidarity/calls/sms": None,  # the worker's own commune's trips
    "/solidarity/places": None,  # the worker's own territory's
}


@pytest.fixture
def b_worker_client(app, engine, settings, personas, two):
    """B's social worker, signed in (on whatever host the test names). The personas a test uses
    are opened first: the test clients of one app close in the reverse order of their opening."""
    for key in ("staff", "social_worker", "resident", "other_resident"):
        personas[key]
    with write_session(engine) as s:
        row = s.get(User, two["b"]["worker"])
        assert row is not None
        token = auth.start_session(
            s,
            row,
            idle_minutes=settings.session_idle_minutes,
            absolute_days=settings.session_absolute_days,
        )
    with EclorClient(app=app) as c:
        c.cookies.set(auth.SESSION_COOKIE, token)
        yield c


@pytest.mark.parametrize(
    "who", ["staff", "social_worker", "resident", "other_resident", "b_worker", None]
)
def test_sweeping_every_solidarity_route_on_one_territorys_host_finds_nothing_of_the_other(
    app, engine, client, two, personas, b_worker_client, settings, who
):
    """As A's staff, A's social worker, A's volunteer, B's volunteer and B's social worker on A's
    host, and anonymously: B's people never appear, B's rows are refused and stay unchanged."""
    settings.solidarity_sms_url = "http://127.0.0.1:9/sms"  # the SMS form is offered
    if who == "b_worker":
        c = b_worker_client
    else:
        c = personas[who].client if who else client
    routes = domain_routes(app, DOMAIN)
    assert ("GET", "/staff/solidarity") in routes and len(routes) >= 20
    before = _state(engine, two)
    form = _form(two)
    read = refused = 0
    for method, path in routes:
        if "{" not in path:
            if method == "GET":
                for url in (path, f"{path}?day={two['day'].isoformat()}&beneficiary=1"):
                    answer = c.get(url, follow_redirects=False)
                    assert answer.status_code < 500, (url, answer.status_code)
                    assert not _leaks(answer.text), (who, url, _leaks(answer.text))
                    read += 1
            else:
                assert path in UNNAMED_WRITES, f"{path}: a write this sweep has no sample for"
                answer = c.post_form(path, form)
                assert answer.status_code < 500, (path, answer.status_code)
                # A refused form gives back what was typed in it (B's worker's address).
                echo = (B_WORKER,) if path == "/staff/solidarity/workers" else ()
                assert not _leaks(answer.text, echo), (who, path, _leaks(answer.text, echo))
                expected = UNNAMED_WRITES[path]
                if expected and answer.status_code != 403 and who:
                    assert answer.status_code == expected, (who, path, answer.status_code)
            continue
        for url in _fill(path, two):
            if method == "GET":
                answer = c.get(url, follow_redirects=False)
            else:
                answer = c.post_form(url, form)
            assert is_refused(answer), (who, method, url, answer.status_code)
            assert not _leaks(answer.text), (who, url, _leaks(answer.text))
            refused += 1
    assert read >= 16 and refused >= 10
    assert _state(engine, two) == before


def test_the_minett_host_shows_the_minetts_people_to_its_social_worker_and_volunteer(
    engine, two, personas, b_worker_client
):
    b = two["b"]
    ccas = b_worker_client.get("/solidarity/ccas", headers=ESCH)
    assert ccas.status_code == 200 and B_PLACE in ccas.text and A_NAME not in ccas.text
    page = b_worker_client.get(f"/solidarity/beneficiaries/{b['person_id']}", headers=ESCH)
    assert page.status_code == 200 and B_NAME in page.text
    booking = b_worker_client.get(f"/solidarity/bookings/{b['bookings'][1]}", headers=ESCH)
    assert booking.status_code == 200 and B_PHONE in booking.text
    a_booking = b_worker_client.get(f"/solidarity/bookings/{two['a']['booking']}", headers=ESCH)
    assert a_booking.status_code == 404
    driver = personas["other_resident"].client
    mine = driver.get("/solidarity/volunteer", headers=ESCH)
    assert mine.status_code == 200 and B_NAME in mine.text and B_PHONE in mine.text
    done = driver.post_form(f"/solidarity/trips/{b['trips'][1]}/done", {"km": "9"}, headers=ESCH)
    assert done.status_code == 400  # not driven yet: refused by the trip's own rule, not its host
    # A's volunteer (within 30 km of Villerupt, Esch included) is offered nothing on B's host, and
    # is not a volunteer there.
    theirs = personas["resident"].client.get("/solidarity/volunteer", headers=ESCH)
    assert B_PLACE not in theirs.text and "Marché de Villerupt" not in theirs.text
    confirm = b_worker_client.post_form(
        f"/solidarity/trips/{b['trips'][0]}/confirm", {}, headers=ESCH
    )
    assert confirm.status_code == 303
    with read_session(engine) as s:
        trip = s.get(Trip, b["trips"][0])
        assert trip is not None and trip.status == "confirmed"
    month = (utcnow() - timedelta(days=2)).strftime("%Y-%m")  # the month of the confirmed trip
    export = b_worker_client.get(f"/solidarity/export.csv?month={month}", headers=ESCH)
    assert export.status_code == 200 and B_NAME in export.text


def test_a_booking_in_one_territory_tells_its_own_volunteers_and_never_the_other_territorys(
    engine, two, personas
):
    """Both volunteers drive within 30 km of home (Esch and Villerupt are 8 km apart): a booking
    made on A's host reaches A's volunteer only, and one made on B's host B's only."""
    b = two["b"]
    with write_session(engine) as s:
        b_volunteer = s.get(Volunteer, b["volunteer"])
        assert b_volunteer is not None
        b_volunteer.area_communes, b_volunteer.radius_km = "", 30
    a_worker = personas["social_worker"].client
    day = next_weekday(4)
    answer = a_worker.post_form(
        "/solidarity/bookings",
        {
            "beneficiary_id": str(two["a"]["person"]),
            "place_id": str(two["a"]["place"]),
            "first_day": day.isoformat(),
            "pickup_time": "10:00",
            "duration_min": "60",
        },
    )
    assert answer.status_code == 303, answer.text
    new_id = int(answer.headers["location"].rsplit("/", 1)[1])
    told = _told(engine, f"solidarity-booking-{new_id}")
    assert personas["resident"].id in told
    assert personas["other_resident"].id not in told
    # A's volunteer is not offered B's bookings, nor may take one, even within their radius.
    offered = personas["resident"].client.get("/solidarity/volunteer").text
    assert B_PLACE not in offered and "Marché de Villerupt" in offered
    with write_session(engine) as s:
        own = s.scalars(
            select(Volunteer).where(col(Volunteer.user_id) == personas["resident"].id)
        ).one()
        with pytest.raises(bookings.SolidarityError):
            bookings.accept(s, b["bookings"][0], own, utcnow())
        s.rollback()


def _told(engine: Any, dedupe: str) -> set[int]:
    """The people a notification with that key was queued for."""
    prefix = f"notify:{dedupe}:"
    with read_session(engine) as s:
        keys = s.scalars(
            select(col(Job.dedupe_key)).where(
                col(Job.kind) == "notify.user", col(Job.dedupe_key).startswith(prefix)
            )
        ).all()
    return {int(k.removeprefix(prefix)) for k in keys if k}


def test_the_sms_reminders_of_one_territory_never_reach_the_other_territorys_people(
    engine, settings, two, personas, b_worker_client
):
    """Tomorrow's trips in each territory; A's social worker sends A's reminders, and B's social
    worker, on A's host, sends none of B's; the gateway is reached for A's beneficiary only."""
    gateway = Gateway()
    try:
        settings.solidarity_sms_url = gateway.url
        tomorrow = reminders.tomorrow(utcnow(), PARIS)
        a, b = two["a"], two["b"]
        book(engine, a["worker"], a["person"], a["place"], first_day=tomorrow, at=11 * 60)
        book(
            engine,
            b["worker"],
            b["person_id"],
            b["place"],
            first_day=tomorrow,
            at=11 * 60,
            commune=ESCH_INSEE,
        )
        day = {"day": tomorrow.isoformat()}
        calls = b_worker_client.get(f"/solidarity/calls?day={tomorrow.isoformat()}")
        assert calls.status_code == 200 and B_PHONE not in calls.text
        sent = b_worker_client.post_form("/solidarity/calls/sms", day)
        assert sent.status_code == 303 and sent.headers["location"].endswith("sent=0")
        sent = personas["social_worker"].client.post_form("/solidarity/calls/sms", day)
        assert sent.status_code == 303 and sent.headers["location"].endswith("sent=1")
        assert _run_jobs(engine, settings) == ["done"]
        assert [body["to"] for _headers, body in gateway.received] == ["0612345678"]
        # On B's own host, B's social worker reminds B's beneficiary.
        sent = b_worker_client.post_form("/solidarity/calls/sms", day, headers=ESCH)
        assert sent.headers["location"].endswith("sent=1")
        assert _run_jobs(engine, settings) == ["done"]
        assert [body["to"] for _headers, body in gateway.received] == ["0612345678", B_PHONE]
    finally:
        gateway.close()


def test_what_the_social_worker_and_volunteer_make_belongs_to_their_communes_territory(engine, two):
    b = two["b"]
    with read_session(engine) as s:
        rows: list[Any] = [s.get(Beneficiary, b["person_id"]), s.get(Volunteer, b["volunteer"])]
        rows += [s.get(Booking, i) for i in b["bookings"]]
        rows += bookings.trips_of(s, b["bookings"][0])
        assert {r.territory_id for r in rows if r is not None} == {two["minett"]}
        a_booking = s.get(Booking, two["a"]["booking"])
        assert a_booking is not None and a_booking.territory_id == 1
        assert {t.territory_id for t in bookings.trips_of(s, two["a"]["booking"])} == {1}


def test_staff_count_and_attach_social_workers_of_their_own_territory_only(engine, two, personas):
    staff = personas["staff"].client
    page = staff.get("/staff/solidarity").text
    assert "Villerupt" in page and not _leaks(page)
    answer = staff.post_form(
        "/staff/solidarity/workers", {"email": B_WORKER, "commune_insee": VILLERUPT}
    )
    assert answer.status_code == 400
    with read_session(engine) as s:
        worker = s.get(User, two["b"]["worker"])
        assert worker is not None and worker.commune_insee == ESCH_INSEE


def test_a_volunteer_of_one_territory_is_told_so_when_signing_up_in_another(engine, two, personas):
    answer = personas["other_resident"].client.post_form(
        "/solidarity/volunteer",
        {
            "phone": "0611223344",
            "commune_insee": VILLERUPT,
            "area": "communes",
            "area_communes": [VILLERUPT],
            "day_0": "on",
            "from_0": "08:00",
            "to_0": "18:00",
        },
    )
    assert answer.status_code == 400 and "un autre territoire" in answer.text
    with read_session(engine) as s:
        row = s.get(Volunteer, two["b"]["volunteer"])
        assert row is not None and row.commune_insee == ESCH_INSEE
        assert row.territory_id == two["minett"]
