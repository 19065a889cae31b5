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

PUBLIC_PREFIXES = ("/open311/", "/alerts/", "/ngsi-ld/", "/data/catalog", "/schema/openapi")
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


def test_schemathesis_finds_no_server_error_in_the_public_apis(app, document) -> None:
    document = {
        **document,
        "paths": {p: v for p, v in document["paths"].items() if p.startswith(PUBLIC_PREFIXES)},
    }
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    started = time.monotonic()
    failures: list[str] = []
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
                case.validate_response(response, checks=(not_a_server_error,))
            except Exception as exc:  # noqa: BLE001 — every failing case is listed below
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query or ''}: {exc!s:.300}"
                )

        run()
    assert failures == []
    print(f"{len(operations)} operations, {time.monotonic() - started:.1f} s")
