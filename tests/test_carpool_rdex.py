"""RDEX+ (/api/rdex/journeys) checked against the RDEX+ OpenAPI file: shapes, dates, v1 parameters, DST."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.carpool import rdex, trips
from app.db import utcnow
from tests.carpool_standards import RDEX_FILE, openapi, spec_dict, validate_exchange
from tests.test_carpool import AUDUN, BELVAL, KIRCHBERG, make_user, next_weekday, publish

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

API = openapi(RDEX_FILE, "/api/rdex")


def search(client: Any, **params: Any) -> Any:
    base = {
        "departureLat": AUDUN[0],
        "departureLng": AUDUN[1],
        "arrivalLat": KIRCHBERG[0],
        "arrivalLng": KIRCHBERG[1],
    }
    # The file asks for an api_key on every route; Eclor's search is public (as RDEX+ allows) and
    # does not read it, but a client built from the file sends one.
    return client.get(
        "/api/rdex/journeys", params={**base, **params}, headers={"api_key": "any-partner"}
    )


def no_nulls(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, dict):
        return all(no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nulls(v) for v in value)
    return True


def test_a_punctual_search_answers_journeys_and_their_count_valid_against_the_rdex_plus_file(
    engine, client
):
    driver = make_user(engine, "d@eclor.test")
    when = next_weekday(1, "07:30")
    near = publish(engine, driver, AUDUN, KIRCHBERG, when=when)
    publish(engine, driver, AUDUN, BELVAL, when=when)  # another destination
    publish(engine, driver, AUDUN, KIRCHBERG, when=when + timedelta(hours=3))  # too late
    r = search(client, departureDate=int(when.timestamp()), timeDelta=900)
    assert r.status_code == 200, r.text
    validate_exchange(API, r)
    body = r.json()
    assert body["nbJourneys"] == 1 and len(body["journeys"]) == 1
    [journey] = body["journeys"]
    assert journey["id"] == f"eclor{near}" and journey["carpoolerType"] == "driver"
    assert journey["outward"]["departureDate"] == int(when.timestamp())
    assert journey["price"]["type"] == "variable" and journey["price"]["amount"] > 0
    assert journey["from"]["latitude"] == AUDUN[0] and journey["to"]["country"] == "LU"
    assert no_nulls(body)
    # The same search an hour and a half off, with the default quarter of an hour: nothing.
    later = search(client, departureDate=int((when + timedelta(minutes=90)).timestamp()))
    assert later.status_code == 200 and later.json() == {"journeys": [], "nbJourneys": 0}


def test_regular_trips_give_utc_times_with_the_offset_of_their_own_date_across_dst(engine, client):
    driver = make_user(engine, "d@eclor.test")
    ad = publish(engine, driver, AUDUN, KIRCHBERG, days=(0, 2), at="07:30", margin=10)
    year = trips.local(utcnow(), PARIS).year + 1
    winter = datetime(year, 1, 12, 0, 0, tzinfo=UTC)  # CET, UTC+1
    summer = datetime(year, 7, 13, 0, 0, tzinfo=UTC)  # CEST, UTC+2
    seen = {}
    for name, start in (("winter", winter), ("summer", summer)):
        r = search(client, frequency="regular", departureDate=int(start.timestamp()))
        assert r.status_code == 200, r.text
        validate_exchange(API, r)
        [journey] = r.json()["journeys"]
        assert journey["id"] == f"eclor{ad}" and journey["frequency"] == "regular"
        [week] = journey["outward"]["regularSchedule"]
        assert set(week) == {"mondayTime", "mondayTimeDelta", "wednesdayTime", "wednesdayTimeDelta"}
        assert week["mondayTimeDelta"] == 600
        seen[name] = week["mondayTime"]
    assert seen == {"winter": "06:30:00", "summer": "05:30:00"}


def test_a_regular_schedule_in_utc_is_read_with_the_offset_of_its_date():
    start = date(2027, 7, 5)  # a Monday in summer
    schedule = rdex.parse_week_schedule(
        json.dumps([{"mondayTime": "05:30:00", "mondayTimeDelta": 600}]), start, 900, PARIS
    )
    assert schedule == {0: (450, 10)}  # 07:30 local
    winter = rdex.parse_week_schedule(
        json.dumps({"mondayTime": "06:30:00"}), date(2027, 1, 4), 900, PARIS
    )
    assert winter == {0: (450, 15)}


def test_a_regular_schedule_search_finds_the_trip_at_its_local_time(engine, client):
    driver = make_user(engine, "d@eclor.test")
    ad = publish(engine, driver, AUDUN, KIRCHBERG, days=(0, 1, 2, 3, 4), at="07:30")
    publish(engine, driver, AUDUN, KIRCHBERG, days=(0, 1, 2, 3, 4), at="17:30")
    start = trips.local(utcnow(), PARIS).date() + timedelta(days=1)
    monday = rdex.next_weekday_on_or_after(start, 0)
    utc_0730 = (
        datetime.combine(monday, time(7, 30), tzinfo=PARIS).astimezone(UTC).strftime("%H:%M:%S")
    )
    r = search(
        client,
        frequency="regular",
        departureDate=int(datetime.combine(start, time(0, 0), tzinfo=PARIS).timestamp()),
        regularSchedule=json.dumps([{"mondayTime": utc_0730}]),
    )
    assert r.status_code == 200, r.text
    assert [j["id"] for j in r.json()["journeys"]] == [f"eclor{ad}"]


def test_rdex_v1_parameters_are_honoured_not_ignored(engine, client):
    driver = make_user(engine, "d@eclor.test")
    rider = make_user(engine, "r@eclor.test")
    to_kirchberg = publish(engine, driver, AUDUN, KIRCHBERG, days=(0, 1, 2, 3, 4))
    publish(engine, driver, AUDUN, BELVAL, days=(0, 1, 2, 3, 4))
    wanted = publish(engine, rider, AUDUN, KIRCHBERG, role="passenger", seats=1)
    v1 = {
        "p[from][latitude]": AUDUN[0],
        "p[from][longitude]": AUDUN[1],
        "p[to][latitude]": KIRCHBERG[0],
        "p[to][longitude]": KIRCHBERG[1],
        "p[frequency]": "regular",
    }
    drivers = client.get("/api/rdex/journeys", params={**v1, "p[driver][state]": 1})
    assert drivers.status_code == 200
    assert [j["id"] for j in drivers.json()["journeys"]] == [f"eclor{to_kirchberg}"]
    both = client.get(
        "/api/rdex/journeys", params={**v1, "p[driver][state]": 1, "p[passenger][state]": 1}
    )
    assert {j["id"] for j in both.json()["journeys"]} == {f"eclor{to_kirchberg}", f"eclor{wanted}"}
    passengers = client.get("/api/rdex/journeys", params={**v1, "p[passenger][state]": 1})
    assert [j["id"] for j in passengers.json()["journeys"]] == [f"eclor{wanted}"]
    refused = client.get("/api/rdex/journeys", params={**v1, "p[days][monday]": 1})
    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "invalid_input"
    assert "p[days][monday]" in refused.json()["errorMessage"]
    validate_exchange(API, refused, check_request=False)


@pytest.mark.parametrize(
    ("alone", "params", "code"),
    [
        (True, {}, "missing_required_query_parameter"),
        (True, {"departureLat": 49.4}, "missing_required_query_parameter"),
        (False, {"departureLat": "abc"}, "invalid_input"),
        (False, {"carpoolerType": "pilot"}, "invalid_input"),
        (False, {"departureDate": "2026-12-01T07:30"}, "invalid_input"),
        (False, {"departureRadius": 80}, "invalid_input"),
        (False, {"timeDelta": -5}, "invalid_input"),
        (False, {"departureDate": 10**20}, "invalid_input"),
        (False, {"regularSchedule": "{nope", "frequency": "regular"}, "invalid_input"),
    ],
)
def test_bad_searches_answer_400_with_an_rdex_plus_error(client, alone, params, code):
    r = client.get("/api/rdex/journeys", params=params) if alone else search(client, **params)
    assert r.status_code == 400
    assert r.json()["errorCode"] == code and r.json()["errorMessage"]
    validate_exchange(API, r, check_request=False)


def test_the_rdex_plus_file_requires_what_eclor_requires():
    """The file itself, so the tests above are checked against what the standard says."""
    params = {p["name"]: p for p in spec_dict(RDEX_FILE)["paths"]["/journeys"]["get"]["parameters"]}
    assert all(
        params[n]["required"] for n in ("departureLat", "departureLng", "arrivalLat", "arrivalLng")
    )
    assert params["departureDate"]["schema"]["type"] == "integer"


def test_the_published_carpooler_type_schema_admits_no_value_so_its_intent_stands_in():
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    spec = spec_dict(RDEX_FILE)
    resource = Resource.from_contents(spec, default_specification=DRAFT4)
    registry = Registry().with_resource("urn:rdex", resource)
    schema = {"$ref": "urn:rdex#/components/schemas/carpoolerType"}
    validator = Draft4Validator(schema, registry=registry)
    assert not any(validator.is_valid(v) for v in ("driver", "passenger", "both"))
