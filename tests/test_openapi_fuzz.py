"""Eclor's own OpenAPI document, fuzzed with schemathesis: no public API answers a server error.

The document is the one partners download (``/schema/openapi.json``); schemathesis generates
requests from it (valid and invalid parameters, bodies, path values) and calls the running app.
Every answer must be below 500 and, where the document declares the status code, conform to it.
The public APIs are run (Open311, CAP alerts, NGSI-LD, the open-data catalogue); each operation
gets a bounded number of examples so that the run stays within about a minute.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

PUBLIC_PREFIXES = (
    "/open311/",
    "/alerts/",
    "/ngsi-ld/",
    "/data",
    "/api/participation/",
    "/api/rdex/",
    "/api/carpool/",
    "/schema/openapi",
)
# A live stream answers for as long as the client stays: not fuzzed (its 404 is tested in test_opendata).
NOT_FUZZED = ("/data/{slug}/live",)
# Described fully here: every JSON answer must also match its declared schema and status code.
CONFORMING = ("/ngsi-ld/", "/api/participation/", "/api/rdex/", "/api/carpool/", "/data/catalog")
EXAMPLES = 12


@pytest.fixture
def document(client, engine) -> dict:
    answer = client.get("/schema/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def test_the_public_apis_are_described_with_every_document_code_and_media_type(document) -> None:
    paths = document["paths"]
    post = paths["/open311/v2/requests.{format}"]["post"]
    assert set(post["responses"]) == {"201", "400", "403", "404", "429"}
    assert set(post["requestBody"]["content"]) == {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    for path in ("/open311/v2/requests.{format}", "/open311/v2/services.{format}"):
        for answer in paths[path]["get"]["responses"].values():
            assert set(answer["content"]) == {"application/json", "text/xml"}
    assert "405" in paths["/open311/v2/requests.{format}"]["delete"]["responses"]
    assert "application/cap+xml" in str(paths["/alerts/{alert_id}.cap"]["get"]["responses"])
    ngsi = paths["/ngsi-ld/v1/entities"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "application/ld+json", "application/geo+json"} <= set(ngsi)
    assert "/open311/v2/{name}" not in paths  # the generic entry is replaced by its documents


def test_ngsi_ld_open_data_participation_and_rdex_are_described_with_their_errors(document) -> None:
    paths = document["paths"]
    problem = paths["/ngsi-ld/v1/entities/{entity_id}"]["get"]["responses"]["404"]
    assert problem["content"]["application/json"]["schema"]["required"] == ["type", "title"]
    temporal = paths["/ngsi-ld/v1/temporal/entities/{entity_id}"]["get"]
    assert {p["name"] for p in temporal["parameters"]} >= {
        "entity_id",
        "timerel",
        "timeAt",
        "aggrMethods",
        "aggrPeriodDuration",
        "lastN",
    }
    subscriptions = paths["/ngsi-ld/v1/subscriptions"]
    assert {"201", "400", "401", "409", "415"} <= set(subscriptions["post"]["responses"])
    assert "requestBody" in subscriptions["post"]
    for path in (
        "/ngsi-ld/v1/types",
        "/ngsi-ld/v1/types/{name}",
        "/ngsi-ld/v1/attributes/{name}",
        "/ngsi-ld/v1/context.jsonld",
        "/ngsi-ld/v1/subscriptions/{sub_id}",
    ):
        assert paths[path]["get"]["operationId"].startswith("ngsi"), path
    files = paths["/data/{name}"]["get"]["responses"]["200"]["content"]
    assert {"text/csv", "application/geo+json", "application/json", "text/html"} <= set(files)
    for fmt, media in (
        ("jsonld", "application/ld+json"),
        ("ttl", "text/turtle"),
        ("rdf", "application/rdf+xml"),
    ):
        assert media in paths[f"/data/catalog.{fmt}"]["get"]["responses"]["200"]["content"]
    live = paths["/data/{slug}/live"]["get"]["responses"]["200"]["content"]
    assert set(live) == {"text/event-stream"}
    results = paths["/api/participation/budgets/{budget_id}/results"]["get"]["responses"]
    assert set(results) == {"200", "404"} and "projects" in str(results["200"])
    rdex = paths["/api/rdex/journeys"]["get"]
    assert {p["name"] for p in rdex["parameters"] if p["required"]} == {
        "departureLat",
        "departureLng",
        "arrivalLat",
        "arrivalLng",
    }
    booking = paths["/api/carpool/bookings/{booking_id}"]
    assert booking["patch"]["operationId"] == "patchBookings"
    assert {"400", "401", "404", "409"} <= set(booking["patch"]["responses"])
    assert "requestBody" in paths["/api/carpool/bookings"]["post"]
    assert rdex["responses"]["400"]["content"]["application/json"]["schema"]["required"] == [
        "errorCode",
        "errorMessage",
    ]


def test_schemathesis_finds_no_server_error_in_the_public_apis(app, document) -> None:
    document = {
        **document,
        "paths": {
            p: v
            for p, v in document["paths"].items()
            if p.startswith(PUBLIC_PREFIXES) and p not in NOT_FUZZED
        },
    }
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 38
    started = time.monotonic()
    failures: list[str] = []
    conforming = (not_a_server_error, response_schema_conformance, status_code_conformance)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:
            try:
                response = case.call(app=app, headers={"host": "testserver.local"})
                strict = case.operation.path.startswith(CONFORMING)
                case.validate_response(
                    response, checks=conforming if strict else (not_a_server_error,)
                )
            except Exception as exc:  # noqa: BLE001 — every failing case is listed below
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query or ''}: {exc!s:.300}"
                )

        run()
    assert failures == []
    print(f"{len(operations)} operations, {time.monotonic() - started:.1f} s")
