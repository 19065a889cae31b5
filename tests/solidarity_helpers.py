"""What the solidarity-transport tests share: a social worker, beneficiaries, places, volunteers
and bookings made through the domain's own functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from app import auth
from app.db import saved_id, utcnow, write_session
from app.models.accounts import User
from app.models.solidarity import Place
from app.solidarity import beneficiaries, bookings, volunteers
from app.solidarity.schedule import local_today

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

VILLERUPT = "54580"
THIL = "54523"
BOULANGE = "57097"  # about 10 km south of Villerupt


def user(engine: Engine, email: str, role: str = "resident", commune: str | None = None) -> int:
    with write_session(engine) as s:
        u = auth.create_user(s, email, role=role, display_name=email.split("@")[0].title())
        u.commune_insee = commune
        return saved_id(u)


def place(engine: Engine, label: str = "Cabinet médical, Esch-sur-Alzette") -> int:
    with write_session(engine) as s:
        p = Place(label=label, address="Rue de l’Alzette", lat=49.4958, lon=5.9806)
        s.add(p)
        s.flush()
        return saved_id(p)


def person(
    engine: Engine,
    worker_id: int,
    name: str = "Marguerite Lambert",
    commune: str = VILLERUPT,
    phone: str = "06 12 34 56 78",
) -> int:
    with write_session(engine) as s:
        p = beneficiaries.register(
            s,
            commune_insee=commune,
            full_name=name,
            address="12 rue de la Paix, Villerupt",
            phone=phone,
            mobility="Déambulateur",
            consent=True,
            by_user=worker_id,
            now=utcnow(),
        )
        return saved_id(p)


def volunteer(
    engine: Engine,
    user_id: int,
    *,
    communes: Sequence[str] = (VILLERUPT,),
    radius_km: int = 0,
    home: str = VILLERUPT,
    slots: Sequence[tuple[int, int, int]] = tuple((d, 8 * 60, 18 * 60) for d in range(7)),
):
    with write_session(engine) as s:
        return volunteers.sign_up(
            s,
            user_id,
            phone="0611223344",
            commune_insee=home,
            area_communes=list(communes),
            radius_km=radius_km,
            slots=[volunteers.SlotInput(*x) for x in slots],
        )


def next_weekday(weekday: int, weeks_ahead: int = 1) -> date:
    today = local_today(utcnow(), PARIS)
    return today + timedelta(days=(weekday - today.weekday()) % 7 + 7 * weeks_ahead)


def book(
    engine: Engine,
    worker_id: int,
    person_id: int,
    place_id: int,
    *,
    first_day: date,
    at: int = 9 * 60,
    duration: int = 120,
    weekdays: Sequence[int] = (),
    until: date | None = None,
    commune: str = VILLERUPT,
    now: datetime | None = None,
) -> int:
    with write_session(engine) as s:
        b = bookings.book(
            s,
            bookings.BookingInput(
                beneficiary_id=person_id,
                place_id=place_id,
                destination="",
                purpose="Rendez-vous médical",
                first_day=first_day,
                pickup_min=at,
                duration_min=duration,
                round_trip=True,
                weekdays=list(weekdays),
                until=until,
            ),
            commune_insee=commune,
            by_user=worker_id,
            now=now or utcnow(),
        )
        return saved_id(b)


def social_worker(engine: Engine, email: str = "ccas@eclor.test", commune: str = VILLERUPT) -> int:
    return user(engine, email, role="social_worker", commune=commune)


def name_of(engine: Engine, user_id: int) -> str:
    with write_session(engine) as s:
        return s.get(User, user_id).display_name
