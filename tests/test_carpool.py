"""Carpooling: matching, booking (seats never oversold), alerts, trust, RDEX+, proofs, privacy, pages."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select

from app import geo
from app.auth import create_user
from app.carpool import ads as cp
from app.carpool import bookings, demo, privacy, proofs, trips
from app.carpool import matching as carpool_matching
from app.db import read_session, utcnow, write_session
from app.models.carpool import (
    CarpoolAd,
    CarpoolAlertSent,
    CarpoolBooking,
    CarpoolMessage,
    CarpoolProfile,
    CarpoolReport,
    CarpoolSearch,
)
from app.models.jobs import Job
from workers import runner

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

# Points of the territory and of Luxembourg (see the places seeded by the migration).
AUDUN = (49.472, 5.955)
RUSSANGE = (49.483, 5.953)
VILLERUPT = (49.467, 5.929)
BOULANGE = (49.382, 5.951)
KIRCHBERG = (49.6296, 6.1619)
GARE = (49.5999, 6.1335)
BELVAL = (49.5006, 5.9430)
DIFFERDANGE = (49.5242, 5.8914)


def next_weekday(weekday: int, at: str = "07:30") -> datetime:
    """The next given weekday (0 = Monday) at a local time, at least two days ahead, in UTC."""
    day = trips.local(utcnow(), PARIS).date() + timedelta(days=2)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime.combine(day, time.fromisoformat(at), tzinfo=PARIS).astimezone(UTC)


def make_user(engine, email: str) -> int:
    with write_session(engine) as s:
        return create_user(s, email, display_name=email.split("@")[0].capitalize()).id


def publish(
    engine,
    user_id: int,
    frm=AUDUN,
    to=KIRCHBERG,
    *,
    role="driver",
    when: datetime | None = None,
    days=(0, 1, 2, 3, 4),
    at="07:30",
    margin=15,
    seats=3,
    returns: dict | None = None,
) -> int:
    minute = trips.minute_of(time.fromisoformat(at))
    data = cp.AdInput(
        role=role,
        frequency="punctual" if when else "regular",
        from_label="A",
        from_lat=frm[0],
        from_lon=frm[1],
        to_label="B",
        to_lat=to[0],
        to_lon=to[1],
        seats=seats,
        departure_at=when,
        margin_min=margin,
        outward={} if when else {d: (minute, margin) for d in days},
        returns=returns or {},
    )
    with write_session(engine) as s:
        return cp.create_ad(s, user_id, data)[0].id


def run_worker(settings, engine) -> int:
    return asyncio.run(
        runner.run(settings, engine, once=True, install_signals=False, services=False)
    )


def jobs_of(engine, kind: str) -> list[dict]:
    with read_session(engine) as s:
        return [
            json.loads(j.payload)
            for j in s.scalars(select(Job).where(Job.kind == kind).order_by(Job.id))
        ]


# --- matching ---------------------------------------------------------------------------


def test_matching_ranks_a_near_perfect_offer_above_a_poor_one(engine):
    driver = make_user(engine, "d@eclor.test")
    when = next_weekday(1)
    perfect = publish(engine, driver, RUSSANGE, KIRCHBERG, when=when)
    too_far = publish(engine, driver, VILLERUPT, GARE, when=when, margin=15)  # 40% detour: out
    poor = publish(
        engine, driver, VILLERUPT, KIRCHBERG, when=when + timedelta(minutes=35), margin=15
    )
    q = carpool_matching.Query(*AUDUN, *KIRCHBERG, role="driver", when=when)
    with read_session(engine) as s:
        found = carpool_matching.search(s, q)
    assert [m.ad_id for m in found] == [perfect, poor]
    assert found[0].score > found[1].score + 10
    assert too_far not in [m.ad_id for m in found]
    assert found[0].time_diff_min < found[1].time_diff_min


def test_it_excludes_offers_past_the_detour_limit(engine):
    driver = make_user(engine, "d@eclor.test")
    when = next_weekday(2)
    # Boulange → Belval is a short trip: a pick-up in Russange and a drop-off near Differdange is far off its route.
    ad = publish(engine, driver, BOULANGE, BELVAL, when=when)
    q = carpool_matching.Query(
        *RUSSANGE, *DIFFERDANGE, role="driver", when=when, from_radius_m=20_000, to_radius_m=20_000
    )
    with read_session(engine) as s:
        row = s.get(CarpoolAd, ad)
        assert carpool_matching.search(s, q) == []
        a, b, p, d = (row.from_lat, row.from_lon), (row.to_lat, row.to_lon), RUSSANGE, DIFFERDANGE
        via = geo.distance_m(*a, *p) + geo.distance_m(*p, *d) + geo.distance_m(*d, *b)
        assert via / geo.distance_m(*a, *b) - 1 > trips.MAX_DETOUR  # the reason it is left out


def test_it_excludes_offers_outside_the_time_margins(engine):
    driver = make_user(engine, "d@eclor.test")
    when = next_weekday(3)
    publish(engine, driver, AUDUN, KIRCHBERG, when=when + timedelta(minutes=50), margin=10)
    inside = publish(engine, driver, AUDUN, KIRCHBERG, when=when + timedelta(minutes=25), margin=10)
    q = carpool_matching.Query(*AUDUN, *KIRCHBERG, role="driver", when=when, margin_min=15)
    with read_session(engine) as s:
        assert [m.ad_id for m in carpool_matching.search(s, q)] == [inside]


def test_regular_trips_match_only_on_shared_weekdays(engine):
    driver = make_user(engine, "d@eclor.test")
    mon_wed = publish(engine, driver, AUDUN, KIRCHBERG, days=(0, 2))
    weekend = publish(engine, driver, AUDUN, KIRCHBERG, days=(5, 6))
    all_week = publish(engine, driver, AUDUN, KIRCHBERG, days=(0, 1, 2, 3, 4))
    q = carpool_matching.Query(
        *AUDUN,
        *KIRCHBERG,
        role="driver",
        frequency="regular",
        days_mask=trips.mask_of([0, 1, 2]),
        minute=450,
    )
    with read_session(engine) as s:
        found = {m.ad_id: m for m in carpool_matching.search(s, q)}
    assert set(found) == {mon_wed, all_week}
    assert weekend not in found
    assert found[mon_wed].days == [0, 2] and found[all_week].days == [0, 1, 2]
    assert found[all_week].score > found[mon_wed].score  # serves every searched day


def test_a_one_off_search_finds_a_regular_trip_on_that_weekday_and_its_return_leg(engine):
    driver = make_user(engine, "d@eclor.test")
    out = publish(engine, driver, AUDUN, KIRCHBERG, days=(1,), returns={1: (17 * 60 + 30, 15)})
    with read_session(engine) as s:
        back = s.scalars(
            select(CarpoolAd).where(CarpoolAd.pair_id == out, CarpoolAd.id != out)
        ).one()
        assert (back.from_lat, back.to_lat) == (KIRCHBERG[0], AUDUN[0]) and back.leg == "return"
        tuesday = next_weekday(1, "17:40")
        found = carpool_matching.search(
            s, carpool_matching.Query(*KIRCHBERG, *AUDUN, role="driver", when=tuesday)
        )
        assert [m.ad_id for m in found] == [back.id]
        assert (
            carpool_matching.search(
                s,
                carpool_matching.Query(
                    *KIRCHBERG, *AUDUN, role="driver", when=next_weekday(2, "17:40")
                ),
            )
            == []
        )


def test_drivers_find_passenger_requests_and_cross_border_is_detected(engine):
    passenger = make_user(engine, "p@eclor.test")
    request = publish(
        engine, passenger, RUSSANGE, KIRCHBERG, role="passenger", days=(0, 1), seats=1
    )
    with read_session(engine) as s:
        found = carpool_matching.search(
            s,
            carpool_matching.Query(
                *AUDUN,
                *KIRCHBERG,
                role="passenger",
                frequency="regular",
                days_mask=trips.mask_of([0]),
                minute=450,
            ),
        )
        assert [m.ad_id for m in found] == [request]
        assert s.get(CarpoolAd, request).cross_border is True
    assert (
        trips.country_of(*AUDUN) == "FR"
        and trips.country_of(*BELVAL) == "LU"
        and trips.country_of(*GARE) == "LU"
    )
    assert trips.country_of(49.493, 5.918) == "FR"  # Rédange, right at the border


# --- booking ----------------------------------------------------------------------------


def test_forty_concurrent_requests_for_the_last_three_seats_book_exactly_three(engine):
    driver = make_user(engine, "d@eclor.test")
    ad = publish(engine, driver, seats=3)
    riders = [make_user(engine, f"r{i}@eclor.test") for i in range(40)]
    barrier = threading.Barrier(len(riders))
    outcomes: list[str] = []
    lock = threading.Lock()

    def ask(uid: int) -> None:
        barrier.wait()
        try:
            with write_session(engine) as s:
                bookings.request_seats(s, ad, uid, 1)
            result = "booked"
        except trips.CarpoolError:
            result = "full"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=ask, args=(uid,)) for uid in riders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes).count("booked") == 3 and len(outcomes) == 40
    with read_session(engine) as s:
        assert s.get(CarpoolAd, ad).seats_left == 0
        assert (
            s.scalar(select(func.sum(CarpoolBooking.seats)).where(CarpoolBooking.ad_id == ad)) == 3
        )


@pytest.mark.parametrize("how", ["decline", "cancel_by_passenger", "cancel_by_driver"])
def test_a_declined_or_cancelled_booking_frees_its_seats_once(engine, how):
    driver, rider = make_user(engine, "d@eclor.test"), make_user(engine, "r@eclor.test")
    ad = publish(engine, driver, seats=3)
    with write_session(engine) as s:
        booking = bookings.request_seats(s, ad, rider, 2)
    with write_session(engine) as s:
        assert s.get(CarpoolAd, ad).seats_left == 1
        b = s.get(CarpoolBooking, booking.id)
        if how == "decline":
            bookings.decline(s, b, driver)
        else:
            bookings.accept(s, b, driver)
            bookings.cancel(s, b, rider if how == "cancel_by_passenger" else driver)
    with write_session(engine) as s:
        assert s.get(CarpoolAd, ad).seats_left == 3
        with pytest.raises(trips.CarpoolError):
            bookings.cancel(s, s.get(CarpoolBooking, booking.id), rider)
    with read_session(engine) as s:
        assert s.get(CarpoolAd, ad).seats_left == 3


def test_only_the_owner_accepts_and_a_stranger_cannot_cancel(engine):
    driver, rider, stranger = (make_user(engine, f"{n}@eclor.test") for n in ("d", "r", "x"))
    ad = publish(engine, driver)
    with write_session(engine) as s:
        booking = bookings.request_seats(s, ad, rider, 1)
    with write_session(engine) as s:
        b = s.get(CarpoolBooking, booking.id)
        with pytest.raises(trips.CarpoolError):
            bookings.accept(s, b, rider)
        with pytest.raises(trips.CarpoolError):
            bookings.cancel(s, b, stranger)
        with pytest.raises(trips.CarpoolError):
            bookings.request_seats(s, ad, driver, 1)  # one's own ad
        with pytest.raises(trips.CarpoolError):
            bookings.request_seats(s, ad, rider, 1)  # already asked


def test_accepting_schedules_a_reminder_an_hour_before_departure_and_it_reaches_both(
    engine, settings
):
    driver, rider = make_user(engine, "d@eclor.test"), make_user(engine, "r@eclor.test")
    when = next_weekday(4, "08:00")
    ad = publish(engine, driver, when=when)
    with write_session(engine) as s:
        booking = bookings.request_seats(s, ad, rider, 1)
        bookings.accept(s, booking, driver)
    with read_session(engine) as s:
        job = s.scalars(select(Job).where(Job.kind == "carpool.reminder")).one()
        assert job.run_at == when - timedelta(hours=1)
        job_id = job.id
    with write_session(engine) as s:
        s.get(Job, job_id).run_at = utcnow()
    run_worker(settings, engine)
    told = [p["user_id"] for p in jobs_of(engine, "notify.user") if p["title"].startswith("Départ")]
    assert sorted(told) == sorted([driver, rider])


def test_a_regular_booking_reminder_schedules_the_next_departure(engine, settings):
    driver, rider = make_user(engine, "d@eclor.test"), make_user(engine, "r@eclor.test")
    ad = publish(engine, driver, days=(0, 2))
    with write_session(engine) as s:
        booking = bookings.request_seats(s, ad, rider, 1)
        bookings.accept(s, booking, driver)
    first = jobs_of(engine, "carpool.reminder")[0]
    with write_session(engine) as s:
        s.scalars(select(Job).where(Job.kind == "carpool.reminder")).one().run_at = utcnow()
    run_worker(settings, engine)
    payloads = jobs_of(engine, "carpool.reminder")
    assert len(payloads) == 2
    nxt = datetime.fromisoformat(payloads[1]["departure"])
    assert nxt > datetime.fromisoformat(first["departure"]) and trips.local(
        nxt, PARIS
    ).weekday() in (0, 2)


# --- saved searches ---------------------------------------------------------------------


def test_a_saved_search_produces_one_alert_when_a_matching_ad_appears(engine, settings):
    rider, driver = make_user(engine, "r@eclor.test"), make_user(engine, "d@eclor.test")
    with write_session(engine) as s:
        s.add(
            CarpoolSearch(
                user_id=rider,
                role="driver",
                frequency="regular",
                from_label="Audun",
                from_lat=AUDUN[0],
                from_lon=AUDUN[1],
                to_label="Kirchberg",
                to_lat=KIRCHBERG[0],
                to_lon=KIRCHBERG[1],
                days_mask=trips.mask_of([0, 1]),
                minute=450,
                margin_min=30,
            )
        )
    publish(engine, driver, RUSSANGE, BELVAL)  # elsewhere: no alert
    matching = publish(engine, driver, RUSSANGE, KIRCHBERG)
    run_worker(settings, engine)
    with write_session(engine) as s:  # the alert job runs again (a retry): still one alert
        cp.alert_new_ad(s, s.get(CarpoolAd, matching))
    run_worker(settings, engine)
    alerts = [p for p in jobs_of(engine, "notify.user") if p["topic"] == "carpool"]
    assert [(p["user_id"], p["url"]) for p in alerts] == [(rider, f"/carpool/ads/{matching}")]
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(CarpoolAlertSent)) == 1
    assert any(p["to"] == "r@eclor.test" for p in jobs_of(engine, "mail.send"))


# --- pages ------------------------------------------------------------------------------


def ad_form(**over) -> dict[str, str]:
    data = {
        "role": "driver",
        "frequency": "regular",
        "from_place": "commune-57038",
        "to_place": "kirchberg",
        "seats": "3",
        "margin": "15",
        "price": "8",
        "d0": "1",
        "out0": "07:30",
        "ret0": "17:30",
        "d1": "1",
        "out1": "07:30",
        "ret1": "17:30",
        "comment": "Départ devant la mairie.",
    }
    data.update(over)
    return data


def count_ads(engine) -> int:
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(CarpoolAd))


def test_a_resident_publishes_and_a_neighbour_finds_books_and_gets_contact_after_acceptance(
    engine, personas
):
    resident, other = personas["resident"], personas["other_resident"]
    r = resident.client.post_form("/carpool/ads", ad_form())
    assert r.status_code == 303, r.text
    ad_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert count_ads(engine) == 2  # outward and return
    page = other.client.get(
        "/carpool/search",
        params={
            "from_place": "commune-57602",
            "to_place": "kirchberg",
            "role": "driver",
            "frequency": "regular",
            "d0": "1",
            "time": "07:30",
            "margin": "30",
            "radius": "5000",
        },
    )
    assert page.status_code == 200 and f"/carpool/ads/{ad_id}" in page.text
    r = other.client.post_form(f"/carpool/ads/{ad_id}/book", {"seats": "1", "message": "Bonjour !"})
    assert r.status_code == 303
    booking_url = r.headers["location"]
    before = other.client.get(booking_url)
    assert "resident@eclor.test" not in before.text and "Bonjour !" in before.text
    assert resident.client.post_form(booking_url + "/accept").status_code == 303
    after = other.client.get(booking_url)
    assert "resident@eclor.test" in after.text
    assert personas["merchant"].client.get(booking_url).status_code == 404
    assert personas["merchant"].client.post_form(booking_url + "/cancel").status_code == 404
    home = other.client.get("/")
    assert "Mes trajets" in home.text and "Luxembourg Kirchberg" in home.text


@pytest.mark.parametrize(
    "field,value",
    [
        ("price", "15"),
        ("seats", "0"),
        ("to_place", "nowhere"),
        ("out0", "25:99"),
        ("from_place", ""),
        ("frequency", "daily"),
    ],
)
def test_it_rejects_a_bad_ad_with_a_french_message_and_stores_nothing(
    engine, personas, field, value
):
    r = personas["resident"].client.post_form("/carpool/ads", ad_form(**{field: value}))
    assert r.status_code == 400
    assert "field-error" in r.text or "form-error" in r.text
    assert count_ads(engine) == 0


def test_it_rejects_a_one_off_trip_in_the_past(engine, personas):
    r = personas["resident"].client.post_form(
        "/carpool/ads",
        ad_form(
            frequency="punctual", date=(date.today() - timedelta(days=2)).isoformat(), time="08:00"
        ),
    )
    assert r.status_code == 400 and "futur" in r.text
    assert count_ads(engine) == 0


def test_a_full_trip_answers_a_clear_message(engine, personas):
    driver = personas["resident"].id
    ad = publish(engine, driver, seats=1)
    first = make_user(engine, "first@eclor.test")
    with write_session(engine) as s:
        bookings.request_seats(s, ad, first, 1)
    r = personas["other_resident"].client.post_form(f"/carpool/ads/{ad}/book", {"seats": "1"})
    assert r.status_code == 400 and "plus assez de places" in r.text


def test_messages_flow_between_the_two_parties_only(engine, personas):
    driver, rider = personas["resident"], personas["other_resident"]
    ad = publish(engine, driver.id)
    with write_session(engine) as s:
        booking = bookings.request_seats(s, ad, rider.id, 1).id
    assert (
        driver.client.post_form(
            f"/carpool/bookings/{booking}/messages", {"body": "Rendez-vous 7h25"}
        ).status_code
        == 303
    )
    assert (
        rider.client.post_form(f"/carpool/bookings/{booking}/messages", {"body": "  "}).status_code
        == 400
    )
    assert (
        personas["staff"]
        .client.post_form(f"/carpool/bookings/{booking}/messages", {"body": "x"})
        .status_code
        == 404
    )
    with read_session(engine) as s:
        assert [m.body for m in s.scalars(select(CarpoolMessage))] == ["Rendez-vous 7h25"]


def test_a_reported_ad_hidden_by_staff_leaves_the_search(engine, personas):
    driver = personas["resident"].id
    ad = publish(engine, driver)
    rider = personas["other_resident"]
    assert (
        rider.client.post_form(f"/carpool/ads/{ad}/report", {"reason": "commercial"}).status_code
        == 200
    )
    assert (
        rider.client.post_form(f"/carpool/ads/{ad}/report", {"reason": "bogus"}).status_code == 400
    )
    staff = personas["staff"].client
    page = staff.get("/carpool/staff")
    assert page.status_code == 200 and "Annonce commerciale" in page.text
    with read_session(engine) as s:
        report = s.scalars(select(CarpoolReport)).one().id
    assert (
        staff.post_form(f"/carpool/staff/reports/{report}", {"action": "hide"}).status_code == 303
    )
    with read_session(engine) as s:
        assert s.get(CarpoolAd, ad).status == "hidden"
        assert (
            carpool_matching.search(
                s,
                carpool_matching.Query(
                    *AUDUN, *KIRCHBERG, frequency="regular", days_mask=1, minute=450
                ),
            )
            == []
        )
    assert rider.client.get(f"/carpool/ads/{ad}").status_code == 404
    assert (
        personas["resident"].client.get(f"/carpool/ads/{ad}").status_code == 200
    )  # the owner still sees it


def test_blocking_hides_ads_and_stops_requests_and_messages(engine, personas):
    driver, rider = personas["resident"], personas["other_resident"]
    ad = publish(engine, driver.id)
    with write_session(engine) as s:
        booking = bookings.request_seats(s, ad, rider.id, 1).id
    assert driver.client.post_form(f"/carpool/users/{rider.id}/block").status_code == 303
    with read_session(engine) as s:
        b = s.get(CarpoolBooking, booking)
        assert b.status == "cancelled" and s.get(CarpoolAd, ad).seats_left == 3
        q = carpool_matching.Query(
            *AUDUN,
            *KIRCHBERG,
            frequency="regular",
            days_mask=1,
            minute=450,
            viewer_id=rider.id,
            exclude_users=carpool_matching.blocked_with(s, rider.id),
        )
        assert carpool_matching.search(s, q) == []
    assert rider.client.post_form(f"/carpool/ads/{ad}/book", {"seats": "1"}).status_code == 404
    assert driver.client.post_form(f"/carpool/users/{rider.id}/unblock").status_code == 303
    assert rider.client.post_form(f"/carpool/ads/{ad}/book", {"seats": "1"}).status_code == 303


def test_the_profile_keeps_a_first_name_a_phone_and_a_photo_without_metadata(
    engine, personas, settings
):
    client = personas["resident"].client
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 60)).save(buf, "JPEG")
    r = client.post(
        "/carpool/profile",
        data={
            "first_name": "Julie",
            "phone": "+33 6 12 34 56 78",
            "_csrf_token": client.csrf_token(),
        },
        files={"photo": ("me.jpg", buf.getvalue(), "image/jpeg")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with read_session(engine) as s:
        prof = s.get(CarpoolProfile, personas["resident"].id)
    assert prof.first_name == "Julie" and prof.thumb_name
    img = personas["other_resident"].client.get(f"/carpool/photos/{prof.thumb_name}")
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    bad = client.post(
        "/carpool/profile",
        data={"first_name": "Julie", "_csrf_token": client.csrf_token()},
        files={"photo": ("x.jpg", b"<svg></svg>", "image/jpeg")},
        follow_redirects=False,
    )
    assert bad.status_code == 400
    assert client.post_form("/carpool/profile", {"phone": "call me"}).status_code == 400


# --- interoperability and staff ---------------------------------------------------------


def test_the_proof_export_lists_completed_trips_in_class_a_shape_for_staff_only(
    engine, personas, settings
):
    driver, rider = make_user(engine, "d@eclor.test"), make_user(engine, "r@eclor.test")
    ad = publish(engine, driver, days=(0, 1, 2, 3, 4))
    with write_session(engine) as s:
        booking = bookings.request_seats(s, ad, rider, 1)
        bookings.accept(s, booking, driver)
        booking.accepted_at = utcnow() - timedelta(days=14)
    with read_session(engine) as s:
        items = proofs.proofs(s, utcnow() - timedelta(days=30), utcnow(), settings.secret_key)
    assert 9 <= len(items) <= 11  # two working weeks
    first = items[0]
    assert first["operator_class"] == "A" and first["distance"] > 20_000
    assert first["passenger"]["contribution"] == first["driver"]["revenue"] > 0
    assert first["passenger"]["identity"]["operator_user_id"] != str(rider)
    staff = personas["staff"].client
    csv_text = staff.get("/carpool/staff/proofs.csv").text
    assert csv_text.splitlines()[0].startswith(
        "operator_journey_id,operator_trip_id,operator_class"
    )
    assert len(staff.get("/carpool/staff/proofs.json").json()) >= 9
    assert staff.get("/carpool/staff/proofs.json", params={"from": "2026-13-01"}).status_code == 400
    assert personas["resident"].client.get("/carpool/staff/proofs.csv").status_code == 403


def test_staff_statistics_count_offers_matches_bookings_cross_border_and_km_saved(engine):
    driver, rider = make_user(engine, "d@eclor.test"), make_user(engine, "r@eclor.test")
    ad = publish(engine, driver, AUDUN, KIRCHBERG)
    publish(engine, driver, AUDUN, BOULANGE)
    publish(engine, rider, RUSSANGE, KIRCHBERG, role="passenger", seats=1)
    with write_session(engine) as s:
        b = bookings.request_seats(s, ad, rider, 1)
        bookings.accept(s, b, driver)
        b.accepted_at = utcnow() - timedelta(days=7)
    with read_session(engine) as s:
        stats = proofs.statistics(s)
    assert stats["offers_active"] == 2 and stats["requests_active"] == 1
    assert stats["requests_matched"] == 1 and stats["match_pairs"] == 1
    assert stats["accepted_bookings"] == 1
    assert stats["cross_border_share"] == pytest.approx(66.7)
    assert stats["km_saved"] > 100 and stats["km_saved_per_week"] > 100


def test_privacy_export_and_erasure_cover_carpool_rows_and_give_seats_back(engine, settings):
    driver, rider = make_user(engine, "d@eclor.test"), make_user(engine, "r@eclor.test")
    ad = publish(engine, driver)
    own = publish(engine, rider, role="passenger", seats=1)
    with write_session(engine) as s:
        b = bookings.request_seats(s, ad, rider, 2)
        bookings.post_message(s, b, rider, "Salut")
    with read_session(engine) as s:
        data, _files = privacy.export_person(s, rider, settings.resolved_media_dir)
    assert (
        len(data["bookings"]) == 1
        and data["messages_sent"][0]["body"] == "Salut"
        and len(data["ads"]) == 1
    )
    with write_session(engine) as s:
        privacy.erase_person(s, rider, settings.resolved_media_dir)
    with read_session(engine) as s:
        assert s.get(CarpoolAd, ad).seats_left == 3 and s.get(CarpoolAd, own) is None
        assert s.scalar(select(func.count()).select_from(CarpoolBooking)) == 0
        assert s.scalar(select(func.count()).select_from(CarpoolMessage)) == 0


def test_the_demo_loader_adds_believable_ads_once(engine):
    from app.demo import load_users

    with write_session(engine) as s:
        load_users(s, None)
    import random

    with write_session(engine) as s:
        said = demo.load_demo(s, random.Random(1))
    with write_session(engine) as s:
        assert demo.load_demo(s, random.Random(1)) is None
    assert said and "carpool ads" in said
    with read_session(engine) as s:
        ads = s.scalars(select(CarpoolAd)).all()
        assert len(ads) >= 25 and any(a.role == "passenger" for a in ads)
        assert sum(a.cross_border for a in ads) / len(ads) > 0.7
        assert (
            s.scalar(
                select(func.count())
                .select_from(CarpoolBooking)
                .where(CarpoolBooking.status == "accepted")
            )
            == 1
        )


def test_the_pages_render_for_visitors_and_members(engine, client, personas):
    publish(engine, personas["resident"].id)
    assert client.get("/carpool").status_code == 200
    for path in ("/carpool", "/carpool/mine", "/carpool/ads/new", "/carpool/profile"):
        r = personas["resident"].client.get(path)
        assert r.status_code == 200, path
    english = personas["resident"].client.get("/carpool", headers={"accept-language": "en"})
    assert "Carpooling" in english.text
