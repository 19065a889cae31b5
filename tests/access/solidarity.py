"""Access rules of the solidarity-transport routes: the public page, volunteers (any signed-in
person), the social worker of a commune (CCAS) and staff's statistics. ``resident`` is the
volunteer driver of the bookings made by ``setup``; ``social_worker`` works for Villerupt's CCAS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.access import AccessContext, Row, roles_only, same_for_all, signed_in_only

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

VILLERUPT = "54580"


def worker_only(status: int, *, anonymous: int = 303) -> dict[str, int | tuple[int, ...]]:
    return {**roles_only((), status, anonymous=anonymous), "social_worker": status}


def world(ctx: AccessContext) -> dict[str, Any]:
    """A beneficiary of Villerupt, a destination, the resident as volunteer driver of an accepted
    booking, an open booking, and a past trip the driver made (done, to confirm)."""
    from app.db import utcnow, write_session
    from app.models.accounts import User
    from app.models.solidarity import Booking, Place, Trip
    from app.solidarity import beneficiaries, bookings, volunteers
    from app.solidarity.schedule import local_today

    with write_session(ctx.engine) as s:
        s.get(User, ctx.user_ids["social_worker"]).commune_insee = VILLERUPT
        person = beneficiaries.register(
            s,
            commune_insee=VILLERUPT,
            full_name="Marguerite Lambert",
            address="12 rue de la Paix",
            phone="0612345678",
            mobility="",
            consent=True,
            by_user=ctx.user_ids["social_worker"],
            now=utcnow(),
        )
        place = Place(label="Marché de Villerupt", lat=49.4672, lon=5.9287)
        s.add(place)
        s.flush()
        driver = volunteers.sign_up(
            s,
            ctx.user_ids["resident"],
            phone="0611223344",
            commune_insee=VILLERUPT,
            area_communes=[VILLERUPT],
            radius_km=0,
            slots=[volunteers.SlotInput(d, 6 * 60, 22 * 60) for d in range(7)],
        )
        day = local_today(utcnow(), PARIS) + timedelta(days=3)

        def booking(at: int) -> Booking:
            return bookings.book(
                s,
                bookings.BookingInput(
                    beneficiary_id=person.id,
                    place_id=place.id,
                    destination="",
                    purpose="",
                    first_day=day,
                    pickup_min=at,
                    duration_min=60,
                    round_trip=True,
                    weekdays=[],
                    until=None,
                ),
                commune_insee=VILLERUPT,
                by_user=ctx.user_ids["social_worker"],
                now=utcnow(),
            )

        accepted = booking(9 * 60)
        bookings.accept(s, accepted.id, driver, utcnow())
        still_open = booking(14 * 60)
        past = Trip(
            booking_id=accepted.id,
            pickup_at=utcnow() - timedelta(days=2),
            ends_at=utcnow() - timedelta(days=2) + timedelta(hours=1),
            driver_id=driver.id,
            km_tenths=30,
        )
        done = Trip(
            booking_id=accepted.id,
            pickup_at=utcnow() - timedelta(days=4),
            ends_at=utcnow() - timedelta(days=4) + timedelta(hours=1),
            driver_id=driver.id,
            km_tenths=30,
            status="done",
        )
        s.add_all([past, done])
        s.flush()
        return {
            "person_id": person.id,
            "place_id": place.id,
            "accepted_id": accepted.id,
            "open_id": still_open.id,
            "past_trip_id": past.id,
            "done_trip_id": done.id,
        }


def _future_day() -> str:
    from app.db import utcnow
    from app.solidarity.schedule import local_today

    return (local_today(utcnow(), PARIS) + timedelta(days=5)).isoformat()


SLOTS = {"day_0": "on", "from_0": "09:00", "to_0": "12:00"}

ROWS = [
    Row("GET", "/solidarity", same_for_all(200)),
    Row("GET", "/solidarity/volunteer", {**signed_in_only(200), "social_worker": 200}, setup=world),
    Row(
        "POST",
        "/solidarity/volunteer",
        {**signed_in_only(303, anonymous=401), "social_worker": 303},
        data={
            "phone": "0611223344",
            "commune_insee": VILLERUPT,
            "area": "communes",
            "area_communes": VILLERUPT,
            **SLOTS,
        },
    ),
    Row(
        "POST",
        "/solidarity/bookings/{open_id}/accept",
        {**signed_in_only(409, anonymous=401), "resident": 303, "social_worker": 409},
        setup=world,
        route="/solidarity/bookings/{booking_id:int}/accept",
        notes="only the volunteer whose area and slots fit may take it; then it is taken",
    ),
    Row(
        "POST",
        "/solidarity/bookings/{accepted_id}/withdraw",
        {**signed_in_only(404, anonymous=401), "resident": 303, "social_worker": 404},
        setup=world,
        route="/solidarity/bookings/{booking_id:int}/withdraw",
    ),
    Row(
        "POST",
        "/solidarity/trips/{past_trip_id}/done",
        {**signed_in_only(404, anonymous=401), "resident": 303, "social_worker": 404},
        setup=world,
        data={"km": "4,2"},
        route="/solidarity/trips/{trip_id:int}/done",
    ),
    Row(
        "GET",
        "/solidarity/bookings/{accepted_id}",
        {**signed_in_only(404), "resident": 200, "social_worker": 200, "elected": 404},
        setup=world,
        route="/solidarity/bookings/{booking_id:int}",
        notes="the person's phone and address: the social worker and the accepted driver only",
    ),
    Row("GET", "/solidarity/ccas", worker_only(200), setup=world),
    Row("GET", "/solidarity/beneficiaries/new", worker_only(200)),
    Row(
        "POST",
        "/solidarity/beneficiaries",
        worker_only(303, anonymous=401),
        setup=world,
        data={
            "full_name": "Giuseppe Rossi",
            "address": "3 cité Micheville",
            "phone": "0687654321",
            "consent": "on",
        },
    ),
    Row(
        "GET",
        "/solidarity/beneficiaries/{person_id}",
        worker_only(200),
        setup=world,
        route="/solidarity/beneficiaries/{beneficiary_id:int}",
    ),
    Row(
        "POST",
        "/solidarity/beneficiaries/{person_id}/erase",
        worker_only(303, anonymous=401),
        setup=world,
        route="/solidarity/beneficiaries/{beneficiary_id:int}/erase",
    ),
    Row("GET", "/solidarity/bookings/new", worker_only(200), setup=world),
    Row(
        "POST",
        "/solidarity/bookings",
        worker_only(303, anonymous=401),
        setup=world,  # a fresh database: the person and the place are the first rows, id 1
        data={
            "beneficiary_id": "1",
            "place_id": "1",
            "first_day": _future_day(),
            "pickup_time": "10:00",
            "duration_min": "90",
            "round_trip": "on",
        },
    ),
    Row(
        "POST",
        "/solidarity/bookings/{open_id}/cancel",
        worker_only(303, anonymous=401),
        setup=world,
        route="/solidarity/bookings/{booking_id:int}/cancel",
    ),
    Row(
        "POST",
        "/solidarity/trips/{done_trip_id}/confirm",
        worker_only(303, anonymous=401),
        setup=world,
        route="/solidarity/trips/{trip_id:int}/confirm",
    ),
    Row("GET", "/solidarity/calls", worker_only(200), setup=world),
    Row("POST", "/solidarity/calls/sms", worker_only(303, anonymous=401), setup=world),
    Row("GET", "/solidarity/export.csv", worker_only(200), setup=world),
    Row(
        "POST",
        "/solidarity/places",
        worker_only(303, anonymous=401),
        setup=world,
        data={"label": "Mairie de Thil", "lat": "49.473", "lon": "5.905"},
    ),
    Row("GET", "/staff/solidarity", roles_only(("staff", "admin")), setup=world),
    Row(
        "POST",
        "/staff/solidarity/workers",
        roles_only(("staff", "admin"), 303, anonymous=401),
        setup=world,
        data={"email": "ccas@eclor.test", "commune_insee": VILLERUPT},
    ),
]
