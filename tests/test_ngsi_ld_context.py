"""The request's JSON-LD ``@context`` (the ``Link`` header), as NGSI-LD brokers honour it.

The terms of a query are expanded with the context the request links to (a
real document served by a local HTTP server, fetched through the outbound
guard), then the core context; the answer is compacted with it and names it.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app import ngsi_context
from app.db import write_session
from app.models.lighting import LightCabinet, LightGroup, Streetlight
from tests.ngsi_receiver import Receiver

SDM_LIGHT = "https://smartdatamodels.org/dataModel.Streetlighting/"
FRENCH = {
    "@context": {
        "sl": SDM_LIGHT,
        "Lampadaire": "sl:Streetlight",
        "niveau": {"@id": f"{SDM_LIGHT}illuminanceLevel"},
        "etat": "https://uri.etsi.org/ngsi-ld/status",
        "groupe": {"@id": "sl:refStreetlightGroup", "@type": "@id"},
    }
}
OTHER = {"@context": {"powerState": "https://example.org/vocab#powerState"}}


def _link(url: str) -> dict[str, str]:
    return {
        "link": f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    }


@pytest.fixture
def lights(engine):
    ngsi_context.forget()
    with write_session(engine) as session:
        session.add(LightCabinet(id="CAB-C", name="Armoire", lat=49.47, lon=5.95))
        session.flush()
        session.add(LightGroup(id="GC", name="GC", cabinet_id="CAB-C"))
        session.flush()
        for k in range(4):
            session.add(
                Streetlight(
                    id=f"SL-C-{k}",
                    device_id=f"SL-C-{k}",
                    group_id="GC",
                    cabinet_id="CAB-C",
                    street="Rue",
                    lat=49.47 + k * 0.001,
                    lon=5.95,
                    status="brokenLantern" if k == 2 else "ok",
                    actual_level=k * 30,
                )
            )
    yield
    ngsi_context.forget()


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def test_the_terms_of_a_query_are_expanded_with_the_linked_context(
    client, lights, receiver
) -> None:
    url = receiver.serve("/ctx/fr.jsonld", FRENCH)
    query = "type=Lampadaire&q=" + quote('etat=="brokenLantern"')
    answer = client.get(f"/ngsi-ld/v1/entities?{query}", headers=_link(url))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [e["id"] for e in body] == ["urn:ngsi-ld:Streetlight:SL-C-2"]
    # The answer is compacted with the request's context and names it.
    assert body[0]["type"] == "Lampadaire"
    assert body[0]["etat"]["value"] == "brokenLantern"
    assert body[0]["groupe"]["object"] == "urn:ngsi-ld:StreetlightGroup:GC"
    assert "status" not in body[0] and "refStreetlightGroup" not in body[0]
    # An attribute the linked context has no term for is answered under its full IRI.
    assert body[0][f"{SDM_LIGHT}powerState"]["value"] == "low"
    assert answer.headers["link"].startswith(f"<{url}>")
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in answer.headers["link"]
    # q on a term of the linked context; attrs and pick with its names too.
    numbers = client.get(
        "/ngsi-ld/v1/entities?type=Lampadaire&q=niveau>=0.5&pick=id,niveau", headers=_link(url)
    ).json()
    assert numbers == [
        {"id": "urn:ngsi-ld:Streetlight:SL-C-2", "niveau": {"type": "Property", "value": 0.6}},
        {"id": "urn:ngsi-ld:Streetlight:SL-C-3", "niveau": {"type": "Property", "value": 0.9}},
    ]
    # Without the Link, "Lampadaire" is no type Eclor serves: nothing matches.
    assert client.get("/ngsi-ld/v1/entities?type=Lampadaire").json() == []
    # Fetched once, then kept.
    assert receiver.gets["/ctx/fr.jsonld"] == 1


def test_application_ld_json_carries_the_request_context_in_the_body(
    client, lights, receiver
) -> None:
    url = receiver.serve("/ctx/fr.jsonld", FRENCH)
    answer = client.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:SL-C-1",
        headers={**_link(url), "accept": "application/ld+json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["@context"] == url
    assert answer.json()["type"] == "Lampadaire"
    assert "link" not in answer.headers


def test_a_term_the_linked_context_maps_elsewhere_matches_nothing_of_eclor(
    client, lights, receiver
) -> None:
    url = receiver.serve("/ctx/other.jsonld", OTHER)
    plain = client.get("/ngsi-ld/v1/entities?type=Streetlight&attrs=powerState").json()
    assert len(plain) == 4
    linked = client.get(
        "/ngsi-ld/v1/entities?type=Streetlight&attrs=powerState", headers=_link(url)
    )
    assert linked.status_code == 200, linked.text
    assert linked.json() == []
    # Served under its IRI in that context, since the context gives it no other name.
    light = client.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:SL-C-1", headers=_link(url)
    ).json()
    assert light["type"] == f"{SDM_LIGHT}Streetlight"
    assert f"{SDM_LIGHT}powerState" in light and "powerState" not in light


def test_without_link_the_served_terms_and_eclor_context_are_answered(client, lights) -> None:
    answer = client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=1")
    assert answer.json()[0]["type"] == "Streetlight"
    assert answer.headers["link"].startswith("<http://127.0.0.1:8000/ngsi-ld/v1/context.jsonld>")
    # Linking to Eclor's own context needs no fetch and changes nothing.
    own = client.get(
        "/ngsi-ld/v1/entities?type=Streetlight&limit=1",
        headers=_link("http://127.0.0.1:8000/ngsi-ld/v1/context.jsonld"),
    )
    assert own.status_code == 200, own.text
    assert own.json() == answer.json()


def test_types_and_attributes_are_named_in_the_request_context(client, lights, receiver) -> None:
    url = receiver.serve("/ctx/fr.jsonld", FRENCH)
    types = client.get("/ngsi-ld/v1/types", headers=_link(url)).json()
    assert "Lampadaire" in types["typeList"] and "Streetlight" not in types["typeList"]
    info = client.get("/ngsi-ld/v1/types/Lampadaire", headers=_link(url))
    assert info.status_code == 200, info.text
    assert info.json()["typeName"] == "Lampadaire"
    assert info.json()["entityCount"] == 4
    names = {a["attributeName"] for a in info.json()["attributeDetails"]}
    assert {"etat", "niveau", "groupe"} <= names
    attrs = client.get("/ngsi-ld/v1/attributes", headers=_link(url)).json()
    assert "niveau" in attrs["attributeList"] and "illuminanceLevel" not in attrs["attributeList"]


def test_a_context_that_cannot_be_had_is_refused_with_problem_details(
    client, lights, receiver
) -> None:
    cases = [
        (receiver.base + "/ctx/missing.jsonld", 503, "LdContextNotAvailable"),
        (receiver.serve("/ctx/text", b"not json", media="text/plain"), 400, "BadRequestData"),
        (receiver.serve("/ctx/nocontext", {"terms": {}}), 400, "BadRequestData"),
        ("http://169.254.169.254/latest/meta-data", 503, "LdContextNotAvailable"),
    ]
    for url, status, kind in cases:
        answer = client.get("/ngsi-ld/v1/entities?type=Streetlight", headers=_link(url))
        assert answer.status_code == status, (url, answer.text)
        assert answer.json()["type"].endswith(kind), answer.text
    for header in ("garbage", '<ftp://x/c>; rel="http://www.w3.org/ns/json-ld#context"'):
        answer = client.get("/ngsi-ld/v1/entities?type=Streetlight", headers={"link": header})
        assert answer.status_code == 400, answer.text


def test_expansion_and_compaction_follow_json_ld() -> None:
    ctx = ngsi_context.build(
        "http://x/c", FRENCH["@context"], lambda url: pytest.fail(f"fetched {url}")
    )
    assert ctx.expand("Lampadaire") == f"{SDM_LIGHT}Streetlight"
    assert ctx.expand("sl:powerState") == f"{SDM_LIGHT}powerState"
    assert ctx.expand("unknown") == "https://uri.etsi.org/ngsi-ld/default-context/unknown"
    assert ctx.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert ctx.compact(f"{SDM_LIGHT}illuminanceLevel") == "niveau"
    assert ctx.compact("https://uri.etsi.org/ngsi-ld/default-context/foo") == "foo"
    # The core context is protected: a linked context cannot redefine its terms.
    clash = ngsi_context.build("http://x/c", {"location": "https://example.org/place"}, dict)
    assert clash.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
