"""Solidarity transport: bookings and their trips, volunteers who fit, never a double booking
(even with accepts at once), proofs, the mileage export and volunteers' personal data."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.db import read_session, utcnow, write_session
from app.models.solidarity import Booking, Slot, Trip, Volunteer
from app.solidarity import bookings, mileage, privacy, proofs, volunteers
from app.solidarity.schedule import SolidarityError, local_at, overlaps
from tests.solidarity_helpers import (
    BOULANGE,
    THIL,
    VILLERUPT,
    book,
    next_weekday,
    person,
    place,
    social_worker,
    user,
    volunteer,
)

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone


@pytest.fixture
def world(engine):
    worker = social_worker(engine)
    return {
        "worker": worker,
        "person": person(engine, worker),
        "place": place(engine),
    }


def _offered(engine, vol) -> list[int]:
    with read_session(engine) as s:
        return [b.id for b in bookings.offered(s, s.get(Volunteer, vol.id), utcnow())]


def _accept(engine, booking_id, vol) -> None:
    with write_session(engine) as s:
        bookings.accept(s, booking_id, s.get(Volunteer, vol.id), utcnow())


def _driver_trips(engine, vol) -> list[Trip]:
    with read_session(engine) as s:
        return list(
            s.scalars(select(Trip).where(Trip.driver_id == vol.id).order_by(Trip.pickup_at))
        )


def test_a_weekly_booking_makes_one_trip_per_chosen_day_until_the_date(engine, world):
    monday = next_weekday(0)
    bid = book(
        engine,
        world["worker"],
        world["person"],
        world["place"],
        first_day=monday,
        weekdays=(0, 3),
        until=monday + timedelta(weeks=3),
    )
    with read_session(engine) as s:
        trips = bookings.trips_of(s, bid)
        booking = s.get(Booking, bid)
    # Mondays and Thursdays over three weeks plus the last Monday: 4 Mondays, 3 Thursdays.
    assert len(trips) == 7
    assert trips[0].pickup_at == local_at(monday, 9 * 60, PARIS)
    assert all(t.ends_at - t.pickup_at == timedelta(minutes=120) for t in trips)
    assert booking.weekdays == "0,3" and booking.status == "open"
    # Villerupt → Esch-sur-Alzette and back: about 2 × 5.3 km × 1.3.
    assert 100 <= booking.km_tenths <= 200


def test_a_recurring_booking_never_double_books_a_volunteer(engine, world):
    vol = volunteer(engine, user(engine, "karim@eclor.test"))
    monday = next_weekday(0)
    weekly = book(
        engine,
        world["worker"],
        world["person"],
        world["place"],
        first_day=monday,
        weekdays=(0,),
        until=monday + timedelta(weeks=6),
    )
    other = person(engine, world["worker"], "Giuseppe Rossi", phone="0687654321")
    # A one-off trip on the fourth Monday, overlapping by half an hour, and one later that day.
    clash = book(
        engine,
        world["worker"],
        other,
        world["place"],
        first_day=monday + timedelta(weeks=3),
        at=10 * 60 + 30,
    )
    later = book(
        engine,
        world["worker"],
        other,
        world["place"],
        first_day=monday + timedelta(weeks=3),
        at=11 * 60,
    )
    _accept(engine, weekly, vol)
    assert _offered(engine, vol) == [later]  # the overlapping one is not even offered
    with pytest.raises(SolidarityError, match="Vous conduisez déjà à ce moment-là"):
        _accept(engine, clash, vol)
    _accept(engine, later, vol)  # back-to-back is fine: 09:00-11:00 then 11:00-13:00
    trips = _driver_trips(engine, vol)
    assert len(trips) == 8
    for a, b in zip(trips, trips[1:]):
        assert not overlaps(a.pickup_at, a.ends_at, b.pickup_at, b.ends_at)
    with read_session(engine) as s:
        assert s.get(Booking, clash).status == "open" and s.get(Booking, clash).driver_id is None


def test_a_weekly_booking_overlapping_an_accepted_one_on_one_day_only_is_refused(engine, world):
    vol = volunteer(engine, user(engine, "karim@eclor.test"))
    tuesday = next_weekday(1)
    first = book(
        engine,
        world["worker"],
        world["person"],
        world["place"],
        first_day=tuesday + timedelta(weeks=5),
    )
    weekly = book(
        engine,
        world["worker"],
        person(engine, world["worker"], "Yvette Martin", phone="0382890011"),
        world["place"],
        first_day=tuesday,
        weekdays=(1, 4),
        until=tuesday + timedelta(weeks=8),
        at=10 * 60,
    )
    _accept(engine, first, vol)
    with pytest.raises(SolidarityError, match="1 trajet"):
        _accept(engine, weekly, vol)
    assert len(_driver_trips(engine, vol)) == 1


def test_concurrent_accepts_of_overlapping_bookings_by_one_volunteer_give_one(engine, world):
    vol = volunteer(engine, user(engine, "karim@eclor.test"))
    wednesday = next_weekday(2)
    ids = [
        book(
            engine,
            world["worker"],
            person(engine, world["worker"], f"Personne {i}", phone=f"06000000{i:02d}"),
            world["place"],
            first_day=wednesday,
            weekdays=(2,),
            until=wednesday + timedelta(weeks=4),
            at=9 * 60 + 15 * i,  # every one overlaps every other on every Wednesday
        )
        for i in range(8)
    ]
    barrier = threading.Barrier(len(ids))
    outcomes: list[str] = []
    lock = threading.Lock()

    def take(booking_id: int) -> None:
        barrier.wait()
        try:
            _accept(engine, booking_id, vol)
            result = "accepted"
        except SolidarityError as exc:
            result = str(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=take, args=(b,)) for b in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 8 and outcomes.count("accepted") == 1, outcomes
    assert all(o == "accepted" or "Vous conduisez déjà" in o for o in outcomes)
    trips = _driver_trips(engine, vol)
    assert len(trips) == 5
    for a, b in zip(trips, trips[1:]):
        assert not overlaps(a.pickup_at, a.ends_at, b.pickup_at, b.ends_at)
    with read_session(engine) as s:
        accepted = s.scalar(
            select(func.count()).select_from(Booking).where(Booking.status == "accepted")
        )
    assert accepted == 1


def test_concurrent_accepts_of_one_booking_by_several_volunteers_give_it_to_one(engine, world):
    vols = [volunteer(engine, user(engine, f"v{i}@eclor.test")) for i in range(6)]
    monday = next_weekday(0)
    bid = book(
        engine,
        world["worker"],
        world["person"],
        world["place"],
        first_day=monday,
        weekdays=(0,),
        until=monday + timedelta(weeks=2),
    )
    barrier = threading.Barrier(len(vols))
    outcomes: list[str] = []
    lock = threading.Lock()

    def take(vol) -> None:
        barrier.wait()
        try:
            _accept(engine, bid, vol)
            result = "accepted"
        except SolidarityError as exc:
            result = str(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=take, args=(v,)) for v in vols]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("accepted") == 1, outcomes
    assert all(o == "accepted" or "déjà été accepté" in o for o in outcomes)
    with read_session(engine) as s:
        booking = s.get(Booking, bid)
        drivers = set(s.scalars(select(Trip.driver_id).where(Trip.booking_id == bid)))
    assert drivers == {booking.driver_id}


def test_a_volunteer_outside_the_beneficiarys_area_is_not_offered_the_trip(engine, world):
    in_villerupt = volunteer(engine, user(engine, "a@eclor.test"), communes=(VILLERUPT, THIL))
    only_thil = volunteer(engine, user(engine, "b@eclor.test"), communes=(THIL,))
    near = volunteer(engine, user(engine, "c@eclor.test"), communes=(), radius_km=5, home=THIL)
    far = volunteer(engine, user(engine, "d@eclor.test"), communes=(), radius_km=5, home=BOULANGE)
    bid = book(engine, world["worker"], world["person"], world["place"], first_day=next_weekday(4))
    assert _offered(engine, in_villerupt) == [bid]
    assert _offered(engine, near) == [bid]  # Thil is 1.8 km from Villerupt
    assert _offered(engine, only_thil) == []
    assert _offered(engine, far) == []  # Boulange is about 9.5 km away
    for outsider in (only_thil, far):
        with pytest.raises(SolidarityError, match="secteur ou à vos disponibilités"):
            _accept(engine, bid, outsider)


def test_a_volunteer_not_free_at_that_time_is_not_offered_the_trip(engine, world):
    mornings = volunteer(engine, user(engine, "a@eclor.test"), slots=[(3, 8 * 60, 12 * 60)])
    thursday = next_weekday(3)
    fits = book(
        engine,
        world["worker"],
        world["person"],
        world["place"],
        first_day=thursday,
        at=9 * 60,
        duration=90,
    )
    too_long = book(
        engine, world["worker"], world["person"], world["place"], first_day=thursday, at=11 * 60
    )
    other_day = book(
        engine,
        world["worker"],
        world["person"],
        world["place"],
        first_day=thursday + timedelta(days=1),
    )
    weekly_with_a_friday = book(
        engine,
        world["worker"],
        world["person"],
        world["place"],
        first_day=thursday,
        weekdays=(3, 4),
        until=thursday + timedelta(weeks=2),
        at=8 * 60,
    )
    assert _offered(engine, mornings) == [fits]
    assert {too_long, other_day, weekly_with_a_friday}.isdisjoint(_offered(engine, mornings))


def test_bad_bookings_are_refused_in_french_and_write_nothing(engine, world):
    monday = next_weekday(0)
    cases = [
        (dict(first_day=monday - timedelta(weeks=2)), "date et une heure à venir"),
        (dict(first_day=monday, weekdays=(0,), until=None), "jusqu’à quelle date"),
        (
            dict(first_day=monday, weekdays=(0,), until=monday + timedelta(days=400)),
            "un an au plus",
        ),
        (
            dict(first_day=monday, weekdays=(2,), until=monday + timedelta(days=1)),
            "Aucun des jours",
        ),
        (dict(first_day=monday, duration=5), "15 minutes"),
        (dict(first_day=monday, at=23 * 60, duration=120), "finir le jour même"),
    ]
    for kwargs, message in cases:
        with pytest.raises(SolidarityError, match=message):
            book(engine, world["worker"], world["person"], world["place"], **kwargs)
    elsewhere = social_worker(engine, "ccas-thil@eclor.test", THIL)
    with pytest.raises(SolidarityError, match="inscrite dans votre commune"):
        book(engine, elsewhere, world["person"], world["place"], first_day=monday, commune=THIL)
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Booking)) == 0
        assert s.scalar(select(func.count()).select_from(Trip)) == 0


def test_the_mileage_export_adds_up(engine, world):
    vol = volunteer(engine, user(engine, "karim@eclor.test"))
    now = utcnow()
    monday = next_weekday(0, weeks_ahead=0) if next_weekday(0, 0) > now.date() else next_weekday(0)
    bid = book(
        engine,
        world["worker"],
        world["person"],
        world["place"],
        first_day=monday,
        weekdays=(0,),
        until=monday + timedelta(weeks=2),
    )
    _accept(engine, bid, vol)
    driven = [124, 70, 255]  # 12.4 km, 7.0 km, 25.5 km
    with write_session(engine) as s:
        trips = bookings.trips_of(s, bid)
        booking = s.get(Booking, bid)
        v = s.get(Volunteer, vol.id)
        later = trips[-1].ends_at + timedelta(hours=1)
        for trip, km in zip(trips, driven):
            proofs.mark_done(s, trip, v, km, later)
            proofs.confirm(
                s,
                trip,
                booking,
                commune_insee=VILLERUPT,
                by_user=world["worker"],
                contribution_cents_per_km=25,
                allowance_cents_per_km=33,
                now=later,
            )
    # By hand, at 0.25 €/km and 0.33 €/km (halves rounded up):
    #   12.4 km → 3.10 € and 4.092 → 4.09 €;  7.0 km → 1.75 € and 2.31 €;
    #   25.5 km → 6.375 → 6.38 € and 8.415 → 8.42 €.  Totals: 44.9 km, 11.23 €, 14.82 €.
    months = {t.pickup_at.astimezone(PARIS).date().replace(day=1) for t in trips}
    text = ""
    rows = []
    with read_session(engine) as s:
        for month in sorted(months):
            lines = mileage.lines(s, VILLERUPT, month)
            rows += lines
            text = mileage.to_csv(lines) if len(months) == 1 else text
    assert [(r.km_tenths, r.contribution_cents, r.allowance_cents) for r in rows] == [
        (124, 310, 409),
        (70, 175, 231),
        (255, 638, 842),
    ]
    assert sum(r.contribution_cents for r in rows) == 1123
    assert sum(r.allowance_cents for r in rows) == 1482
    with read_session(engine) as s:
        one = mileage.to_csv(rows)
    table = list(csv.reader(io.StringIO(one), delimiter=";"))
    assert table[0] == list(mileage.HEADER)
    assert table[1][2:] == [
        "Marguerite Lambert",
        "Karim",
        "Cabinet médical, Esch-sur-Alzette",
        "12.4",
        "3.10",
        "4.09",
    ]
    assert table[-1] == ["total", "", "", "", "", "44.9", "11.23", "14.82"]
    if text:
        assert text == one


def test_a_trip_is_proven_by_its_driver_then_confirmed_by_the_social_worker(engine, world):
    vol = volunteer(engine, user(engine, "karim@eclor.test"))
    stranger = volunteer(engine, user(engine, "other@eclor.test"))
    bid = book(engine, world["worker"], world["person"], world["place"], first_day=next_weekday(2))
    _accept(engine, bid, vol)
    with write_session(engine) as s:
        trip = bookings.trips_of(s, bid)[0]
        booking = s.get(Booking, bid)
        with pytest.raises(SolidarityError, match="pas encore eu lieu"):
            proofs.mark_done(s, trip, s.get(Volunteer, vol.id), 100, utcnow())
        after = trip.ends_at + timedelta(minutes=5)
        with pytest.raises(SolidarityError, match="ne conduisez pas"):
            proofs.mark_done(s, trip, s.get(Volunteer, stranger.id), 100, after)
        with pytest.raises(SolidarityError, match="pas encore indiqué"):
            proofs.confirm(
                s,
                trip,
                booking,
                commune_insee=VILLERUPT,
                by_user=1,
                contribution_cents_per_km=25,
                allowance_cents_per_km=33,
                now=after,
            )
        proofs.mark_done(s, trip, s.get(Volunteer, vol.id), 100, after)
        with pytest.raises(SolidarityError, match="pas de votre commune"):
            proofs.confirm(
                s,
                trip,
                booking,
                commune_insee=THIL,
                by_user=1,
                contribution_cents_per_km=25,
                allowance_cents_per_km=33,
                now=after,
            )
        proofs.confirm(
            s,
            trip,
            booking,
            commune_insee=VILLERUPT,
            by_user=world["worker"],
            contribution_cents_per_km=10,
            allowance_cents_per_km=50,
            now=after,
        )
        assert (trip.status, trip.contribution_cents, trip.allowance_cents) == (
            "confirmed",
            100,
            500,
        )


def test_kilometres_are_read_in_french(engine):
    assert (
        proofs.parse_km("12,4") == 124
        and proofs.parse_km("7") == 70
        and proofs.parse_km("0.5") == 5
    )
    for bad in ("", "abc", "12,45", "-3", "0", "301", "1e3"):
        with pytest.raises(SolidarityError):
            proofs.parse_km(bad)


def test_a_volunteers_data_is_exported_and_erased_and_their_bookings_reopen(
    engine, world, tmp_path
):
    uid = user(engine, "karim@eclor.test")
    vol = volunteer(engine, uid)
    bid = book(engine, world["worker"], world["person"], world["place"], first_day=next_weekday(1))
    _accept(engine, bid, vol)
    with read_session(engine) as s:
        data, files = privacy.export_person(s, uid, tmp_path)
    assert data["volunteer"]["phone"] == "0611223344" and len(data["slots"]) == 7
    assert [t["destination"] for t in data["trips_driven"]] == ["Cabinet médical, Esch-sur-Alzette"]
    assert "Marguerite" not in repr(data) and files == []
    with write_session(engine) as s:
        privacy.erase_person(s, uid, tmp_path)
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Volunteer)) == 0
        assert s.scalar(select(func.count()).select_from(Slot)) == 0
        booking = s.get(Booking, bid)
        assert (booking.status, booking.driver_id) == ("open", None)
        assert set(s.scalars(select(Trip.driver_id).where(Trip.booking_id == bid))) == {None}


def test_a_volunteer_signs_up_with_french_messages_for_what_is_wrong(engine):
    uid = user(engine, "karim@eclor.test")
    good = dict(
        phone="0611223344",
        commune_insee=VILLERUPT,
        area_communes=[VILLERUPT],
        radius_km=0,
        slots=[volunteers.SlotInput(0, 480, 600)],
    )
    cases = [
        (dict(phone="12"), "numéro de téléphone"),
        (dict(commune_insee="99999"), "commune du territoire"),
        (dict(area_communes=[], radius_km=0), "ou un rayon"),
        (dict(radius_km=99), "de 1 à 60 km"),
        (dict(slots=[]), "au moins un créneau"),
        (dict(slots=[volunteers.SlotInput(0, 600, 480)]), "finir après son début"),
    ]
    for change, message in cases:
        with pytest.raises(SolidarityError, match=message):
            with write_session(engine) as s:
                volunteers.sign_up(s, uid, **{**good, **change})
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Volunteer)) == 0
