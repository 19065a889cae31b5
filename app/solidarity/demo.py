"""Demo solidarity transport for ``eclor demo``: the CCAS of Villerupt (its social worker, three
beneficiaries), usual destinations, two volunteer drivers, a weekly market trip, a doctor's
appointment in Esch-sur-Alzette waiting for a driver, and last week's trip confirmed."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlmodel import Session, col, select

from app import auth
from app.db import saved_id, utcnow
from app.models.accounts import User
from app.models.solidarity import Beneficiary, Booking, Place, Trip
from app.solidarity import beneficiaries, bookings, proofs, volunteers
from app.solidarity.schedule import local_at, local_today
from app.territories import zone as territory_zone

SOCIAL_WORKER = ("ccas@eclor.test", "Hélène (CCAS de Villerupt)", "54580")
PASSWORD = "eclor-demo-2026"
PLACES = [
    (
        "Cabinet médical, Esch-sur-Alzette",
        None,
        "Rue de l’Alzette, Esch-sur-Alzette",
        49.4958,
        5.9806,
    ),
    ("Marché de Villerupt", "54580", "Place Jean-Jaurès, Villerupt", 49.4672, 5.9287),
    ("Mairie de Villerupt", "54580", "Place de l’Hôtel-de-Ville, Villerupt", 49.4689, 5.9270),
    ("Pharmacie d’Audun-le-Tiche", "57038", "Rue Maréchal-Foch, Audun-le-Tiche", 49.4722, 5.9553),
]
PEOPLE = [
    ("Marguerite Lambert", "12 rue de la Paix, Villerupt", "0612345678", "Déambulateur"),
    ("Giuseppe Rossi", "3 cité Micheville, Villerupt", "0687654321", ""),
    ("Yvette Martin", "28 rue Carnot, Villerupt", "0382890011", "Fauteuil pliant, aide à la porte"),
]
# (e-mail, phone, communes or radius, slots (weekday, from, to))
VOLUNTEERS = [
    ("voisine@eclor.test", "0611223344", ["54580", "54523"], 0, [(0, 480, 1080), (3, 480, 1080)]),
    ("habitant@eclor.test", "0699887766", [], 10, [(1, 540, 1020), (3, 540, 720)]),
]


def _user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(col(User.email) == email)).first()


def load_demo(session: Session, rng: random.Random) -> str | None:
    if session.scalars(select(col(Beneficiary.id))).first() is not None:
        return None
    email, name, insee = SOCIAL_WORKER
    worker = _user(session, email)
    if worker is None:
        worker = auth.create_user(
            session, email, role="social_worker", password=PASSWORD, display_name=name
        )
        worker.commune_insee = insee
    now = utcnow()
    places = []
    for label, commune, address, lat, lon in PLACES:
        place = Place(label=label, commune_insee=commune, address=address, lat=lat, lon=lon)
        session.add(place)
        places.append(place)
    people = [
        beneficiaries.register(
            session,
            commune_insee=insee,
            full_name=full_name,
            address=address,
            phone=phone,
            mobility=mobility,
            consent=True,
            by_user=saved_id(worker),
            now=now,
            lat=49.467 + rng.uniform(-0.004, 0.004),
            lon=5.929 + rng.uniform(-0.004, 0.004),
        )
        for full_name, address, phone, mobility in PEOPLE
    ]
    drivers = []
    for v_email, phone, communes, radius, slots in VOLUNTEERS:
        user = _user(session, v_email)
        if user is None:
            continue
        drivers.append(
            volunteers.sign_up(
                session,
                saved_id(user),
                phone=phone,
                commune_insee=user.commune_insee or insee,
                area_communes=communes,
                radius_km=radius,
                slots=[volunteers.SlotInput(*s) for s in slots],
            )
        )
    session.flush()
    zone = territory_zone(session)  # the demo is the default territory's
    today = local_today(now, zone)
    next_thursday = today + timedelta(days=(3 - today.weekday()) % 7 or 7)
    market = bookings.book(
        session,
        bookings.BookingInput(
            beneficiary_id=saved_id(people[0]),
            place_id=saved_id(places[1]),
            destination="",
            purpose="Courses au marché",
            first_day=next_thursday,
            pickup_min=9 * 60 + 30,
            duration_min=90,
            round_trip=True,
            weekdays=[3],
            until=next_thursday + timedelta(weeks=8),
        ),
        commune_insee=insee,
        by_user=saved_id(worker),
        now=now,
    )
    if drivers:
        bookings.accept(session, saved_id(market), drivers[0], now)
    next_tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    bookings.book(
        session,
        bookings.BookingInput(
            beneficiary_id=saved_id(people[2]),
            place_id=saved_id(places[0]),
            destination="",
            purpose="Rendez-vous chez le cardiologue",
            first_day=next_tuesday,
            pickup_min=14 * 60,
            duration_min=150,
            round_trip=True,
            weekdays=[],
            until=None,
        ),
        commune_insee=insee,
        by_user=saved_id(worker),
        now=now,
    )
    if drivers:  # last week's trip to the town hall, driven and confirmed
        last_week = today - timedelta(days=7)
        start = local_at(last_week, 10 * 60, zone)
        past = Booking(
            beneficiary_id=saved_id(people[1]),
            commune_insee=insee,
            booked_by=saved_id(worker),
            pickup_address=people[1].address,
            pickup_lat=people[1].lat,
            pickup_lon=people[1].lon,
            destination=places[2].label,
            dest_lat=places[2].lat,
            dest_lon=places[2].lon,
            purpose="Dossier à la mairie",
            pickup_min=10 * 60,
            duration_min=60,
            first_day=last_week,
            km_tenths=24,
            status="accepted",
            driver_id=drivers[0].id,
            accepted_at=start - timedelta(days=3),
        )
        session.add(past)
        session.flush()
        session.add(
            Trip(
                booking_id=saved_id(past),
                pickup_at=start,
                ends_at=start + timedelta(minutes=60),
                status="confirmed",
                driver_id=drivers[0].id,
                km_tenths=26,
                done_at=start + timedelta(hours=1),
                confirmed_at=start + timedelta(days=1),
                confirmed_by=saved_id(worker),
                contribution_cents=proofs.cents(26, 25),
                allowance_cents=proofs.cents(26, 33),
            )
        )
    return (
        f"{len(people)} beneficiaries, {len(drivers)} volunteer drivers, 3 bookings "
        f"(social worker {email})"
    )
