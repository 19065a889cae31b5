"""Open311 GeoReport v2: field names, filters, limits and error bodies, in JSON and in XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlmodel import Session

from app.db import utcnow, write_session
from app.models.reports import Report, ReportEvent
from app.reports import catalogue
from app.reports import workflow as rp

# The spec's field lists (GeoReport v2), as REFERENCE.md lists them.
DISCOVERY = {"changeset", "contact", "key_service", "endpoints"}
ENDPOINT = {"specification", "url", "changeset", "type", "formats"}
SERVICE = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
DEFINITION = {"service_code", "attributes"}
ATTRIBUTE = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}
VALUE = {"key", "name"}
REQUEST = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
POST_ANSWER = {"service_request_id", "service_notice", "account_id"}  # no token: the id exists
ERROR = {"code", "description"}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}

LAT, LON = 49.472345, 5.955678


def xml(response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml")
    return ET.fromstring(response.content)


def children(element: ET.Element) -> set[str]:
    return {child.tag for child in element}


def assert_json_error(response, code: int) -> None:
    assert response.status_code == code
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == ERROR and body[0]["code"] == code and body[0]["description"]


def assert_xml_error(response, code: int) -> None:
    assert response.status_code == code
    root = xml(response)
    assert root.tag == "errors" and [e.tag for e in root] == ["error"]
    assert (
        children(root[0]) == ERROR
        and root[0].findtext("code") == str(code)
        and root[0].findtext("description")
    )


def report(
    engine, *, status: str = "new", category: str = "tyres", days_ago: int = 0, reporter_id=None
) -> Report:
    with write_session(engine) as s:
        r = Report(
            category=category,
            lat=LAT,
            lon=LON,
            commune_insee="57038",
            status=status,
            description="Pneus au bord du chemin",
            contact_email="secret@example.org",
            contact_name="Jeanne Secrète",
            address="devant le 12 rue des Lilas",
            reporter_id=reporter_id,
            created_at=utcnow() - timedelta(days=days_ago),
            updated_at=utcnow() - timedelta(days=days_ago),
        )
        s.add(r)
        s.flush()
        return r


@pytest.fixture
def api_key(engine) -> str:
    with write_session(engine) as s:
        _row, key = rp.issue_api_key(s, "Partenaire", None)
    return key


def test_discovery_has_the_spec_fields_in_both_formats(client):
    body = client.get("/open311/v2/discovery.json").json()
    assert set(body) == DISCOVERY and set(body["endpoints"][0]) == ENDPOINT
    assert (
        "application/json" in body["endpoints"][0]["formats"]
        and "text/xml" in body["endpoints"][0]["formats"]
    )
    root = xml(client.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery" and children(root) == DISCOVERY
    endpoint = root.find("endpoints/endpoint")
    assert endpoint is not None and children(endpoint) == ENDPOINT
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_list_every_category_with_the_spec_fields(client):
    body = client.get("/open311/v2/services.json").json()
    assert isinstance(body, list) and [s["service_code"] for s in body] == list(
        catalogue.CATEGORIES
    )
    assert all(
        set(s) == SERVICE and s["metadata"] is True and s["type"] == "realtime" for s in body
    )
    root = xml(client.get("/open311/v2/services.xml"))
    assert root.tag == "services" and len(root) == len(catalogue.CATEGORIES)
    assert all(
        s.tag == "service" and children(s) == SERVICE and s.findtext("metadata") == "true"
        for s in root
    )


def test_a_service_definition_gives_the_detail_questions_as_attributes(client):
    body = client.get("/open311/v2/services/bulky_items.json").json()
    assert set(body) == DEFINITION and body["service_code"] == "bulky_items"
    for attribute in body["attributes"]:
        assert set(attribute) == ATTRIBUTE and attribute["datatype"] in DATATYPES
        assert all(set(v) == VALUE for v in attribute["values"])
    assert {a["code"] for a in body["attributes"]} == {"volume", "witnessed", "contents"}
    root = xml(client.get("/open311/v2/services/bulky_items.xml"))
    assert root.tag == "service_definition" and children(root) == DEFINITION
    for attribute in root.findall("attributes/attribute"):
        assert children(attribute) == ATTRIBUTE
        assert all(children(v) == VALUE for v in attribute.findall("values/value"))
    assert_json_error(client.get("/open311/v2/services/nuclear.json"), 404)
    assert_xml_error(client.get("/open311/v2/services/nuclear.xml"), 404)


def test_requests_have_the_spec_fields_rounded_positions_and_no_personal_data(
    engine, client, resident
):
    r = report(engine, reporter_id=resident.id)
    response = client.get("/open311/v2/requests.json")
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    row = body[0]
    assert set(row) == REQUEST
    assert row["service_request_id"] == catalogue.number(r) and row["status"] == "open"
    assert isinstance(row["lat"], float) and isinstance(row["long"], float)
    assert (row["lat"], row["long"]) == (round(LAT, 3), round(LON, 3))
    assert row["address"] == "Audun-le-Tiche" and row["zipcode"] == "57390"
    assert row["requested_datetime"].endswith("+00:00")
    for secret in ("secret@example.org", "Jeanne", "12 rue des Lilas", resident.email, str(LAT)):
        assert secret not in response.text
    xml_response = client.get("/open311/v2/requests.xml")
    root = xml(xml_response)
    assert root.tag == "service_requests" and [c.tag for c in root] == ["request"]
    assert children(root[0]) == REQUEST and root[0].findtext("long") == str(round(LON, 3))
    assert "secret@example.org" not in xml_response.text and "Lilas" not in xml_response.text


def test_a_single_request_and_its_not_found_error_in_both_formats(engine, client):
    r = report(engine, status="resolved")
    number = catalogue.number(r)
    body = client.get(f"/open311/v2/requests/{number}.json").json()
    assert len(body) == 1 and set(body[0]) == REQUEST and body[0]["status"] == "closed"
    root = xml(client.get(f"/open311/v2/requests/{number}.xml"))
    assert root.tag == "service_requests" and children(root[0]) == REQUEST
    assert_json_error(client.get("/open311/v2/requests/PHVA-2026-999999.json"), 404)
    assert_xml_error(client.get("/open311/v2/requests/PHVA-2026-999999.xml"), 404)
    hidden = report(engine, status="hidden")
    assert_json_error(client.get(f"/open311/v2/requests/{catalogue.number(hidden)}.json"), 404)


def test_requests_filter_by_id_service_status_and_dates(engine, client):
    open_tyres = report(engine)
    closed_rubble = report(engine, status="resolved", category="rubble", days_ago=10)
    old = report(engine, days_ago=120)
    hidden = report(engine, status="hidden")

    def ids(query: str) -> set[str]:
        return {
            row["service_request_id"]
            for row in client.get(f"/open311/v2/requests.json?{query}").json()
        }

    n = {x.id: catalogue.number(x) for x in (open_tyres, closed_rubble, old, hidden)}
    assert ids("") == {
        n[open_tyres.id],
        n[closed_rubble.id],
    }  # default: the last 90 days, hidden never
    assert ids("status=closed") == {n[closed_rubble.id]}
    assert ids("status=open,closed&service_code=tyres") == {n[open_tyres.id]}
    assert ids("status=&service_code=") == {n[open_tyres.id], n[closed_rubble.id]}  # empty = absent
    start = (utcnow() - timedelta(days=130)).isoformat()
    end = (utcnow() - timedelta(days=50)).isoformat()
    assert ids(f"start_date={start}&end_date={end}".replace("+", "%2B")) == {n[old.id]}
    # service_request_id overrides every other filter
    assert ids(f"service_request_id={n[old.id]},{n[open_tyres.id]}&status=closed") == {
        n[old.id],
        n[open_tyres.id],
    }
    assert ids(f"service_request_id={n[hidden.id]}") == set()


BAD_FILTERS = [
    "start_date=2026-01-01T00:00:00%2B00:00&end_date=2026-06-01T00:00:00%2B00:00",  # more than 90 days
    "start_date=2026-06-01T00:00:00%2B00:00&end_date=2026-05-01T00:00:00%2B00:00",  # start after end
    "start_date=yesterday",
    "start_date=2026-06-01T00:00:00",  # no zone
    "status=pending",
    "service_code=nuclear",
    "service_request_id=abc",
]


def test_bad_filters_answer_400_in_the_specs_error_format(client):
    for query in BAD_FILTERS:
        assert_json_error(client.get(f"/open311/v2/requests.json?{query}"), 400)
        assert_xml_error(client.get(f"/open311/v2/requests.xml?{query}"), 400)


def test_requests_stop_at_1000_results(engine, client):
    now = utcnow()
    rows = [
        {
            "category": "tyres",
            "status": "new",
            "description": "",
            "witnessed": False,
            "lat": LAT,
            "lon": LON,
            "approximate": False,
            "address": "",
            "commune_insee": "57038",
            "source": "web",
            "status_notes": "",
            "thanks_count": 0,
            "created_at": now - timedelta(minutes=i),
            "updated_at": now,
        }
        for i in range(1005)
    ]
    with write_session(engine) as s:
        s.execute(insert(Report), rows)
    assert len(client.get("/open311/v2/requests.json").json()) == 1000


def test_an_unknown_format_or_path_answers_the_specs_error(client):
    assert_json_error(client.get("/open311/v2/requests.csv"), 404)
    assert_json_error(client.get("/open311/v2/nothing.json"), 404)
    assert_xml_error(client.get("/open311/v2/nothing.xml"), 404)
    assert_json_error(client.get("/open311/v2/tokens/unknown.json"), 404)


def test_a_method_the_api_does_not_have_answers_in_the_specs_format(client):
    response = client.delete("/open311/v2/requests.json")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    body = response.json()
    assert isinstance(body, list) and set(body[0]) == ERROR and body[0]["code"] == 405


def test_posting_needs_a_valid_api_key(engine, client, api_key):
    data = {"service_code": "tyres", "lat": str(LAT), "long": str(LON)}
    assert_json_error(client.post("/open311/v2/requests.json", data=data), 403)
    assert_xml_error(
        client.post("/open311/v2/requests.xml", data={**data, "api_key": "e311_wrong"}), 403
    )
    with write_session(engine) as s:
        for row in s.scalars(select(rp.ReportApiKey)):
            row.revoked_at = utcnow()
    assert_json_error(
        client.post("/open311/v2/requests.json", data={**data, "api_key": api_key}), 403
    )
    with Session(engine) as s:
        assert s.scalars(select(Report)).all() == []


def test_posting_a_request_creates_a_report_and_answers_its_id_and_token(engine, client, api_key):
    response = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "bulky_items",
            "lat": str(LAT),
            "long": str(LON),
            "attribute[volume]": "van",
            "attribute[witnessed]": "yes",
            "email": "partenaire@example.org",
            "first_name": "Ana",
            "last_name": "Lopes",
            "description": "Armoire abandonnée",
            "media_url": "",
            "phone": "0600000000",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert isinstance(body, list) and set(body[0]) == POST_ANSWER
    with Session(engine) as s:
        r = s.scalars(select(Report)).one()
        note = s.scalars(select(ReportEvent).where(ReportEvent.kind == "note")).one()
    assert body[0]["service_request_id"] == catalogue.number(r) and r.source == "open311"
    assert r.volume == "van" and r.witnessed and r.contact_email == "partenaire@example.org"
    assert r.contact_name == "Ana Lopes" and not note.public and "0600000000" in note.text
    token = client.get(f"/open311/v2/tokens/{r.token}.json").json()
    assert token == [{"service_request_id": catalogue.number(r), "token": r.token}]
    root = xml(client.get(f"/open311/v2/tokens/{r.token}.xml"))
    assert children(root[0]) == {"service_request_id", "token"}
    assert "partenaire@example.org" not in client.get("/open311/v2/requests.json").text


def test_posting_in_xml_answers_in_xml(client, api_key):
    response = client.post(
        "/open311/v2/requests.xml",
        data={
            "api_key": api_key,
            "service_code": "tyres",
            "address_string": "Rue de la Gare, 54190 Villerupt",
        },
    )
    assert response.status_code == 201
    root = xml(response)
    assert root.tag == "service_requests" and children(root[0]) == POST_ANSWER


BAD_POSTS = [
    ({}, 400),  # no service_code
    ({"service_code": "nuclear", "lat": "49.47", "long": "5.95"}, 404),
    ({"service_code": "tyres"}, 400),  # no location
    ({"service_code": "tyres", "lat": "49.47"}, 400),  # half a location
    ({"service_code": "tyres", "lat": "48.8566", "long": "2.3522"}, 400),  # outside the territory
    ({"service_code": "tyres", "address_string": "Paris"}, 400),
    ({"service_code": "tyres", "address_id": "123"}, 400),
    ({"service_code": "tyres", "lat": "49.47", "long": "5.95", "description": "x" * 4001}, 400),
    ({"service_code": "tyres", "lat": "49.47", "long": "5.95", "attribute[volume]": "ocean"}, 400),
    ({"service_code": "tyres", "lat": "49.47", "long": "5.95", "email": "not-an-address"}, 400),
]


def test_bad_posts_answer_the_specs_errors_and_create_nothing(engine, client, api_key):
    for fields, code in BAD_POSTS:
        assert_json_error(
            client.post("/open311/v2/requests.json", data={"api_key": api_key, **fields}), code
        )
        assert_xml_error(
            client.post("/open311/v2/requests.xml", data={"api_key": api_key, **fields}), code
        )
    with Session(engine) as s:
        assert s.scalars(select(Report)).all() == []
