"""The standard-covoiturage API (/api/carpool) checked against the fabmob OpenAPI file, and a round
trip by a client written from the file alone: search, book, message, cancel."""

from __future__ import annotations

import argparse
import contextlib
import io
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.carpool import bookings, cli, trips
from app.cli import build_parser
from app.db import read_session, utcnow, write_session
from app.models.accounts import User
from app.models.carpool import CarpoolAd, CarpoolBooking, CarpoolMessage
from tests.carpool_standards import HOST, STANDARD_FILE, openapi, validate_exchange
from tests.standard_carpool_client import StandardCarpoolClient
from tests.test_carpool import AUDUN, BELVAL, KIRCHBERG, RUSSANGE, make_user, next_weekday, publish

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

API = openapi(STANDARD_FILE, "/api/carpool")
WHERE = {
    "departureLat": AUDUN[0],
    "departureLng": AUDUN[1],
    "arrivalLat": KIRCHBERG[0],
    "arrivalLng": KIRCHBERG[1],
}


def add_operator(settings: Any, name: str = "MaaS Grand Est") -> str:
    args = build_parser().parse_args(["carpool", "operator", "add", name])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert cli.run(args, settings) == 0, err.getvalue()
    key = out.getvalue().strip()
    assert key.startswith("eclorcp_") and name in err.getvalue()
    return key


def get(client: Any, path: str, **params: Any) -> Any:
    return client.get(f"/api/carpool{path}", params=params)


def test_driver_and_passenger_journeys_around_a_date_validate_against_the_file(engine, client):
    driver, rider = make_user(engine, "d@eclor.test"), make_user(engine, "r@eclor.test")
    when = next_weekday(2, "07:30")
    offer = publish(engine, driver, AUDUN, KIRCHBERG, when=when)
    regular = publish(engine, driver, RUSSANGE, KIRCHBERG, days=(when.astimezone(PARIS).weekday(),))
    publish(engine, driver, AUDUN, BELVAL, when=when)
    wanted = publish(engine, rider, AUDUN, KIRCHBERG, role="passenger", when=when, seats=1)
    r = get(
        client, "/driver_journeys", **WHERE, departureDate=int(when.timestamp()), departureRadius=3
    )
    assert r.status_code == 200, r.text
    validate_exchange(API, r)
    found = {j["id"]: j for j in r.json()}
    stamp = when.strftime("%Y%m%d%H%M")
    assert set(found) == {f"eclor{offer}", f"eclor{regular}t{stamp}"}
    journey = found[f"eclor{offer}"]
    assert journey["passengerPickupDate"] == int(when.timestamp()) and journey["type"] == "PLANNED"
    assert journey["driver"]["operator"] == "127.0.0.1" and journey["availableSeats"] == 3
    assert journey["price"]["type"] == "PAYING" and journey["price"]["amount"] > 0
    assert found[f"eclor{regular}t{stamp}"]["passengerPickupDate"] == int(when.timestamp())
    p = get(client, "/passenger_journeys", **WHERE, departureDate=int(when.timestamp()))
    assert p.status_code == 200
    validate_exchange(API, p)
    [passenger] = p.json()
    assert passenger["id"] == f"eclor{wanted}" and passenger["passenger"]["alias"] == "R"
    assert passenger["driverDepartureDate"] <= passenger["passengerPickupDate"]
    assert get(
        client, "/driver_journeys", **WHERE, departureDate=int(when.timestamp()), count=1
    ).json()[:1]
    assert (
        len(
            get(
                client,
                "/driver_journeys",
                **WHERE,
                departureDate=int(when.timestamp()),
                departureRadius=3,
                count=1,
            ).json()
        )
        == 1
    )


def test_regular_trips_give_weekly_schedules_in_utc_with_the_offset_of_their_date(engine, client):
    driver = make_user(engine, "d@eclor.test")
    ad = publish(engine, driver, AUDUN, KIRCHBERG, days=(0, 1, 2, 3, 4), at="07:30", margin=10)
    publish(engine, driver, AUDUN, KIRCHBERG, days=(0, 1, 2, 3, 4), at="17:30")
    year = trips.local(utcnow(), PARIS).year + 1
    times = {}
    for season, month in (("winter", 1), ("summer", 7)):
        start = datetime(year, month, 4, 0, 0, tzinfo=UTC)
        utc_time = (
            datetime.combine(start.date(), time(7, 30), tzinfo=PARIS)
            .astimezone(UTC)
            .strftime("%H:%M:%S")
        )
        r = get(
            client,
            "/driver_regular_trips",
            **WHERE,
            departureTimeOfDay=utc_time,
            departureWeekdays="MON,TUE",
            minDepartureDate=int(start.timestamp()),
            maxDepartureDate=int((start + timedelta(days=14)).timestamp()),
        )
        assert r.status_code == 200, r.text
        validate_exchange(API, r)
        [trip] = r.json()
        assert trip["driver"]["alias"] == "D"
        days = {s["passengerPickupDay"]: s for s in trip["schedules"]}
        assert set(days) == {"MON", "TUE"}
        times[season] = days["MON"]["passengerPickupTimeOfDay"]
        mondays = days["MON"]["journeySchedules"]
        assert len(mondays) == 2 and all(j["id"].startswith(f"eclor{ad}t") for j in mondays)
        local_times = {
            datetime.fromtimestamp(j["passengerPickupDate"], PARIS).strftime("%H:%M")
            for j in mondays
        }
        assert local_times == {"07:30"}
    assert times == {"winter": "06:30:00", "summer": "05:30:00"}
    assert (
        get(client, "/passenger_regular_trips", **WHERE, departureTimeOfDay="06:30:00").json() == []
    )


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/driver_journeys", {}),
        ("/driver_journeys", {**WHERE}),
        ("/driver_journeys", {**WHERE, "departureDate": "tomorrow"}),
        ("/passenger_journeys", {**WHERE, "departureDate": 1, "departureRadius": 500}),
        ("/driver_regular_trips", {**WHERE}),
        (
            "/driver_regular_trips",
            {**WHERE, "departureTimeOfDay": "07:30:00", "departureWeekdays": "MONDAY"},
        ),
        ("/passenger_regular_trips", {**WHERE, "departureTimeOfDay": "25:99"}),
    ],
)
def test_bad_searches_answer_400_with_the_standards_error_body(client, path, params):
    r = get(client, path, **params)
    assert r.status_code == 400 and r.json()["error"]
    validate_exchange(API, r, check_request=False)


def test_status_is_public(client):
    r = get(client, "/status")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    validate_exchange(API, r)


def booking_body(journey_id: str, when: datetime, **changes: Any) -> dict[str, Any]:
    body = {
        "id": str(uuid.uuid4()),
        "driver": {"id": "x", "alias": "Driver", "operator": "127.0.0.1"},
        "passenger": {"id": "maas-user-42", "alias": "Léa", "operator": "maas.example.org"},
        "status": "WAITING_CONFIRMATION",
        "price": {"type": "PAYING", "amount": 2.4, "currency": "EUR"},
        "passengerPickupDate": int(when.timestamp()),
        "passengerPickupLat": AUDUN[0],
        "passengerPickupLng": AUDUN[1],
        "passengerDropLat": KIRCHBERG[0],
        "passengerDropLng": KIRCHBERG[1],
        "driverJourneyId": journey_id,
    }
    body.update(changes)
    return body


def test_bookings_and_messages_need_an_operator_key_and_follow_eclors_booking_rules(
    engine, client, settings
):
    driver = make_user(engine, "d@eclor.test")
    when = next_weekday(3, "08:00")
    ad = publish(engine, driver, AUDUN, KIRCHBERG, when=when, seats=1)
    body = booking_body(f"eclor{ad}", when)
    anonymous = client.post("/api/carpool/bookings", json=body)
    assert anonymous.status_code == 401
    bad_key = client.post(
        "/api/carpool/bookings", json=body, headers={"authorization": "Bearer nope"}
    )
    assert bad_key.status_code == 401
    key = add_operator(settings)
    auth = {"authorization": f"Bearer {key}"}
    made = client.post("/api/carpool/bookings", json=body, headers=auth)
    assert made.status_code == 201, made.text
    validate_exchange(API, made)
    assert made.json()["status"] == "WAITING_CONFIRMATION" and made.json()["id"] == body["id"]
    # The same seat again (another booking id): the ad is full, as for a resident.
    again = client.post(
        "/api/carpool/bookings", json=booking_body(f"eclor{ad}", when), headers=auth
    )
    assert again.status_code == 409
    assert client.post("/api/carpool/bookings", json=body, headers=auth).status_code == 409
    with read_session(engine) as s:
        booking = s.scalars(select(CarpoolBooking)).one()
        guest = s.get(User, booking.requester_id)
        assert booking.external_id == body["id"] and booking.status == "pending"
        assert guest is not None and not guest.is_active and guest.password_hash is None
        assert s.get(CarpoolAd, ad).seats_left == 0
    # The driver accepts in the app; the operator reads the booking.
    with write_session(engine) as s:
        bookings.accept(s, s.get(CarpoolBooking, booking.id), driver)
    seen = client.get(f"/api/carpool/bookings/{body['id']}", headers=auth)
    assert seen.status_code == 200 and seen.json()["status"] == "CONFIRMED"
    validate_exchange(API, seen)
    assert seen.json()["passenger"] == {
        "id": "maas-user-42",
        "operator": "MaaS Grand Est",
        "alias": "Léa",
    }
    other_key = add_operator(settings, "Autre opérateur")
    assert (
        client.get(
            f"/api/carpool/bookings/{body['id']}", headers={"x-api-key": other_key}
        ).status_code
        == 404
    )
    msg = {
        "from": body["passenger"],
        "to": body["driver"],
        "message": "J'attends devant la mairie.",
        "recipientCarpoolerType": "DRIVER",
        "bookingId": body["id"],
    }
    assert client.post("/api/carpool/messages", json=msg).status_code == 401
    sent = client.post("/api/carpool/messages", json=msg, headers=auth)
    assert sent.status_code == 201, sent.text
    validate_exchange(API, sent)
    empty = client.post("/api/carpool/messages", json={**msg, "message": " "}, headers=auth)
    assert empty.status_code == 400
    with read_session(engine) as s:
        [message] = s.scalars(select(CarpoolMessage)).all()
        assert message.body == "J'attends devant la mairie." and message.booking_id == booking.id
    confirm = client.patch(
        f"/api/carpool/bookings/{body['id']}", params={"status": "CONFIRMED"}, headers=auth
    )
    assert confirm.status_code == 409  # already confirmed
    validate = client.patch(
        f"/api/carpool/bookings/{body['id']}", params={"status": "VALIDATED"}, headers=auth
    )
    assert validate.status_code == 400
    cancel = client.patch(
        f"/api/carpool/bookings/{body['id']}",
        params={"status": "CANCELLED", "message": "Empêchée"},
        headers=auth,
    )
    assert cancel.status_code == 200
    validate_exchange(API, cancel)
    with read_session(engine) as s:
        assert s.get(CarpoolBooking, booking.id).status == "cancelled"
        assert s.get(CarpoolAd, ad).seats_left == 1
        assert len(s.scalars(select(CarpoolMessage)).all()) == 2
    unknown = client.get(f"/api/carpool/bookings/{uuid.uuid4()}", headers=auth)
    assert unknown.status_code == 404
    validate_exchange(API, unknown)
    not_uuid = client.get("/api/carpool/bookings/123", headers=auth)
    assert not_uuid.status_code == 400


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "not-a-uuid"},
        {"status": "CONFIRMED"},
        {"passengerPickupLat": "north"},
        {"driverJourneyId": "eclor99999"},
        {"driver": "someone"},
        {"passengerPickupDate": 1e300},
    ],
)
def test_a_bad_booking_is_refused_and_nothing_is_written(engine, client, settings, changes):
    driver = make_user(engine, "d@eclor.test")
    when = next_weekday(3, "08:00")
    ad = publish(engine, driver, AUDUN, KIRCHBERG, when=when)
    key = add_operator(settings)
    r = client.post(
        "/api/carpool/bookings",
        json=booking_body(f"eclor{ad}", when, **changes),
        headers={"authorization": f"Bearer {key}"},
    )
    assert r.status_code in (400, 404)
    assert r.json()["error"]
    with read_session(engine) as s:
        assert s.scalars(select(CarpoolBooking)).all() == []
        assert s.get(CarpoolAd, ad).seats_left == 3


def test_a_client_written_from_the_standard_searches_books_messages_and_cancels(
    engine, client, settings
):
    driver = make_user(engine, "d@eclor.test")
    when = next_weekday(4, "07:45")
    ad = publish(engine, driver, AUDUN, KIRCHBERG, when=when, seats=2)
    maas = StandardCarpoolClient(
        client, HOST + "/api/carpool", STANDARD_FILE, api_key=add_operator(settings)
    )
    assert maas.status().status_code == 200
    with pytest.raises(ValueError):
        maas.driver_journeys(**WHERE)  # the file requires departureDate: the client refuses first
    [journey] = maas.driver_journeys(**WHERE, departureDate=int(when.timestamp()), timeDelta=1800)
    booking = maas.book(journey, {"id": "u-77", "alias": "Malik"})
    assert booking["status"] == "WAITING_CONFIRMATION"
    assert maas.message(booking, "Bonjour, je serai à l'arrêt de bus.").status_code == 201
    with write_session(engine) as s:
        row = s.scalars(
            select(CarpoolBooking).where(CarpoolBooking.external_id == booking["id"])
        ).one()
        assert row.ad_id == ad
        bookings.accept(s, row, driver)
        bookings.post_message(s, row, driver, "Parfait, à demain.")
    assert maas.booking(booking["id"])["status"] == "CONFIRMED"
    assert maas.cancel(booking["id"], "Plus besoin").status_code == 200
    assert maas.booking(booking["id"])["status"] == "CANCELLED"
    with read_session(engine) as s:
        assert s.get(CarpoolAd, ad).seats_left == 2
        bodies = [m.body for m in s.scalars(select(CarpoolMessage).order_by(CarpoolMessage.id))]
    assert bodies == ["Bonjour, je serai à l'arrêt de bus.", "Parfait, à demain.", "Plus besoin"]


def test_the_cli_refuses_a_second_operator_of_the_same_name(settings):
    add_operator(settings, "Covoit Lorraine")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.run(argparse.Namespace(carpool_action="add", name="Covoit Lorraine"), settings)
    assert code == 2 and "existe déjà" in err.getvalue()


ODD_SEARCHES = [
    ("/api/rdex/journeys", {**WHERE, "frequency": "regular", "regularSchedule": "[1]"}),
    (
        "/api/rdex/journeys",
        {**WHERE, "frequency": "regular", "regularSchedule": '{"mondayTime": 5}'},
    ),
    (
        "/api/rdex/journeys",
        {**WHERE, "regularSchedule": '{"mondayTime": "07:00", "mondayTimeDelta": "x"}'},
    ),
    ("/api/rdex/journeys", {**WHERE, "count": -1}),
    ("/api/rdex/journeys", {**WHERE, "departureLat": "nan"}),
    ("/api/rdex/journeys", {**WHERE, "p[outward][mindate]": "2026-02-30"}),
    ("/api/rdex/journeys", {**WHERE, "p[driver][state]": "yes"}),
    ("/api/carpool/driver_journeys", {**WHERE, "departureDate": -(10**15)}),
    ("/api/carpool/driver_journeys", {**WHERE, "departureDate": 1, "departureLng": "inf"}),
    ("/api/carpool/driver_regular_trips", {**WHERE, "departureTimeOfDay": "07:00:00+02:00"}),
    (
        "/api/carpool/driver_regular_trips",
        {**WHERE, "departureTimeOfDay": "07:00", "departureWeekdays": ","},
    ),
    (
        "/api/carpool/passenger_regular_trips",
        {**WHERE, "departureTimeOfDay": "07:00", "minDepartureDate": 10**15},
    ),
]


def test_odd_inputs_are_answered_without_a_server_error(engine, client, settings):
    for path, params in ODD_SEARCHES:
        r = client.get(path, params=params)
        assert r.status_code in (200, 400), (path, params, r.status_code, r.text)
    auth = {"authorization": f"Bearer {add_operator(settings)}"}
    for body in (b"[]", b"null", b"5", b"{", b'{"id": {}}', b"x" * 70_000):
        for path in ("/api/carpool/bookings", "/api/carpool/messages"):
            r = client.post(
                path, content=body, headers={**auth, "content-type": "application/json"}
            )
            assert r.status_code == 400, (path, body[:20], r.status_code, r.text)
    weird = booking_body("eclor1", utcnow(), driver={"id": 5, "alias": None, "operator": []})
    assert client.post("/api/carpool/bookings", json=weird, headers=auth).status_code == 400
    message = {
        "from": {"id": "a", "alias": "b", "operator": "c"},
        "to": {"id": "a", "alias": "b", "operator": "c"},
    }
    for extra in (
        {"message": 5},
        {"message": "hi", "recipientCarpoolerType": "PILOT"},
        {
            "message": "hi",
            "recipientCarpoolerType": "DRIVER",
            "driverJourneyId": "eclor" + "9" * 30,
        },
    ):
        r = client.post("/api/carpool/messages", json={**message, **extra}, headers=auth)
        assert r.status_code in (400, 404), (extra, r.status_code, r.text)
    assert client.patch("/api/carpool/bookings/%ZZ", headers=auth).status_code in (400, 404)
