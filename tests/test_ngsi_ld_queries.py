"""NGSI-LD queries as brokers answer them (ETSI GS CIM 009 request shapes): q, geo-queries, idPattern,
pick/omit, simplified and GeoJSON representations, paging links, 406, and ProblemDetails for the rest."""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit

import pytest

from app.db import write_session
from app.geo import distance_m
from app.models.lighting import LightCabinet, LightGroup, Streetlight

CENTRE = (49.472, 5.955)  # lat, lon
STEP = 0.0018  # ≈ 200 m of latitude
BROKEN = {"SL-Q-03", "SL-Q-07"}


@pytest.fixture
def lights(engine):
    """Ten lights northwards from the centre, 200 m apart; two broken; levels 0, 10, ... 90."""
    with write_session(engine) as session:
        session.add(LightCabinet(id="CAB-Q", name="Armoire", lat=CENTRE[0], lon=CENTRE[1]))
        session.flush()
        for group in ("GQ-A", "GQ-B"):
            session.add(LightGroup(id=group, name=group, cabinet_id="CAB-Q"))
        session.flush()
        for k in range(10):
            light_id = f"SL-Q-{k:02d}"
            session.add(
                Streetlight(
                    id=light_id,
                    device_id=light_id,
                    group_id="GQ-A" if k < 5 else "GQ-B",
                    cabinet_id="CAB-Q",
                    street="Rue",
                    lat=CENTRE[0] + k * STEP,
                    lon=CENTRE[1],
                    status="brokenLantern" if light_id in BROKEN else "ok",
                    actual_level=k * 10,
                )
            )
    return [f"SL-Q-{k:02d}" for k in range(10)]


def _ids(client, query: str) -> list[str]:
    answer = client.get(f"/ngsi-ld/v1/entities?{query}")
    assert answer.status_code == 200, answer.text
    return [e["id"].rsplit(":", 1)[1] for e in answer.json()]


def _problem(client, query: str, status: int = 400) -> dict:
    answer = client.get(f"/ngsi-ld/v1/entities?{query}")
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert isinstance(body, dict) and body["type"].startswith(
        "https://uri.etsi.org/ngsi-ld/errors/"
    )
    assert body["title"]
    return body


def test_q_on_a_property_returns_only_the_lights_that_match(client, lights) -> None:
    assert set(_ids(client, 'type=Streetlight&q=status=="brokenLantern"')) == BROKEN
    assert set(_ids(client, "type=Streetlight&q=" + quote('status!="ok"'))) == BROKEN
    assert _ids(client, 'type=Streetlight&q=status=="columnIssue"') == []


def test_q_compares_numbers_ranges_lists_and_joins_terms_with_and_or(client, lights) -> None:
    assert _ids(client, "type=Streetlight&q=" + quote("illuminanceLevel>=0.8")) == [
        "SL-Q-08",
        "SL-Q-09",
    ]
    assert _ids(client, "type=Streetlight&q=illuminanceLevel==0.2..0.4") == [
        "SL-Q-02",
        "SL-Q-03",
        "SL-Q-04",
    ]
    assert _ids(client, 'type=Streetlight&q=powerState=="off","on"') == ["SL-Q-00"]
    both = 'status=="brokenLantern";illuminanceLevel<0.5'
    assert _ids(client, "type=Streetlight&q=" + quote(both)) == ["SL-Q-03"]
    either = '(status=="brokenLantern"|illuminanceLevel==0.9);powerState=="low"'
    assert _ids(client, "type=Streetlight&q=" + quote(either)) == ["SL-Q-03", "SL-Q-07", "SL-Q-09"]


def test_q_follows_relationships_sub_attributes_and_existence(client, lights) -> None:
    group_b = "refStreetlightGroup==urn:ngsi-ld:StreetlightGroup:GQ-B"
    assert _ids(client, "type=Streetlight&q=" + quote(group_b)) == lights[5:]
    assert _ids(client, "type=Streetlight&q=" + quote('status~="^broken"')) == sorted(BROKEN)
    assert len(_ids(client, "type=Streetlight&limit=100&q=illuminanceLevel")) == 10
    assert _ids(client, "type=Streetlight&q=dateLastSwitchingOn") == []  # never switched here
    assert _ids(client, "type=StreetlightGroup&q=" + quote('switchingMode=="night-LOW"')) == [
        "GQ-A",
        "GQ-B",
    ]


def test_a_malformed_q_is_refused_with_problem_details_never_answered_with_every_light(
    client, lights
) -> None:
    for bad in ('status=="brokenLantern', "(status==1", "status==", "status=>1", 'a=="x"..1'):
        body = _problem(client, "type=Streetlight&q=" + quote(bad))
        assert body["type"].endswith("/BadRequestData") or body["type"].endswith("/InvalidRequest")


def test_near_with_max_or_min_distance_keeps_the_lights_at_that_distance(client, lights) -> None:
    point = quote(json.dumps([CENTRE[1], CENTRE[0]]))
    near = f"type=Streetlight&georel=near;maxDistance==500&geometry=Point&coordinates={point}"
    expected = [
        light
        for k, light in enumerate(lights)
        if distance_m(CENTRE[0] + k * STEP, CENTRE[1], *CENTRE) <= 500
    ]
    assert _ids(client, near) == expected == ["SL-Q-00", "SL-Q-01", "SL-Q-02"]
    far = f"type=Streetlight&georel=near;minDistance==900&geometry=Point&coordinates={point}"
    assert _ids(client, far) == ["SL-Q-05", "SL-Q-06", "SL-Q-07", "SL-Q-08", "SL-Q-09"]
    broken_near = near + "&q=" + quote('status=="brokenLantern"')
    assert _ids(client, broken_near) == []


def test_within_and_intersects_a_polygon_and_disjoint_from_it(client, lights) -> None:
    south, north = CENTRE[0] + 1.5 * STEP, CENTRE[0] + 4.5 * STEP
    ring = [
        [5.95, south],
        [5.96, south],
        [5.96, north],
        [5.95, north],
        [5.95, south],
    ]
    polygon = quote(json.dumps([ring]))
    for georel in ("within", "intersects"):
        query = f"type=Streetlight&georel={georel}&geometry=Polygon&coordinates={polygon}"
        assert _ids(client, query) == ["SL-Q-02", "SL-Q-03", "SL-Q-04"]
    outside = f"type=Streetlight&georel=disjoint&geometry=Polygon&coordinates={polygon}&limit=100"
    assert len(_ids(client, outside)) == 7


def test_geo_queries_eclor_does_not_implement_are_refused_not_ignored(client, lights) -> None:
    line = quote(json.dumps([[5.95, 49.47], [5.96, 49.48]]))
    point = quote(json.dumps([5.955, 49.472]))
    for query in (
        f"type=Streetlight&georel=intersects&geometry=LineString&coordinates={line}",
        f"type=Streetlight&georel=overlaps&geometry=Point&coordinates={point}",
        f"type=Streetlight&georel=near&geometry=Point&coordinates={point}",  # no distance
        "type=Streetlight&georel=near;maxDistance==500&geometry=Point",  # no coordinates
        "type=Streetlight&georel=near;maxDistance==500&geometry=Point&coordinates=[200,95]",
        f"type=Streetlight&georel=near;maxDistance==-3&geometry=Point&coordinates={point}",
    ):
        _problem(client, query)


def test_id_pattern_selects_entities_by_a_regular_expression_on_their_id(client, lights) -> None:
    assert _ids(client, "type=Streetlight&idPattern=" + quote("SL-Q-0[13]$")) == [
        "SL-Q-01",
        "SL-Q-03",
    ]
    assert _ids(client, "idPattern=" + quote("^urn:ngsi-ld:StreetlightGroup:")) == [
        "GQ-A",
        "GQ-B",
    ]
    _problem(client, "type=Streetlight&idPattern=" + quote("SL-("))


def test_pick_and_omit_choose_the_members_returned(client, lights) -> None:
    picked = client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=1&pick=id,status").json()
    assert picked == [{"id": "urn:ngsi-ld:Streetlight:SL-Q-00", "status": picked[0]["status"]}]
    omitted = client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=1&omit=location,type").json()
    assert "location" not in omitted[0] and "type" not in omitted[0] and "status" in omitted[0]
    one = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:SL-Q-03?pick=status").json()
    assert one == {"status": one["status"]} and one["status"]["value"] == "brokenLantern"
    _problem(client, "type=Streetlight&pick=id&omit=status")


def test_the_simplified_representation_by_format_or_options(client, lights) -> None:
    for query in ("format=simplified", "options=simplified", "options=keyValues"):
        (entity,) = client.get(
            f"/ngsi-ld/v1/entities?type=Streetlight&idPattern=Q-03&{query}"
        ).json()
        assert entity["status"] == "brokenLantern" and entity["illuminanceLevel"] == 0.3
        assert entity["refStreetlightGroup"] == "urn:ngsi-ld:StreetlightGroup:GQ-A"
        assert entity["location"] == {"type": "Point", "coordinates": [5.955, 49.4774]}
    _problem(client, "type=Streetlight&format=concise")
    _problem(client, "type=Streetlight&options=sysAttrs")


def test_geojson_is_served_when_asked_for_by_accept(client, lights) -> None:
    answer = client.get(
        "/ngsi-ld/v1/entities?type=Streetlight&limit=2", headers={"accept": "application/geo+json"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/geo+json")
    body = answer.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 2
    feature = body["features"][0]
    assert feature["id"] == "urn:ngsi-ld:Streetlight:SL-Q-00" and feature["type"] == "Feature"
    assert feature["geometry"] == {"type": "Point", "coordinates": [5.955, 49.472]}
    assert feature["properties"]["type"] == "Streetlight"
    assert feature["properties"]["status"]["value"] == "ok"
    assert "ngsi-ld/v1/context.jsonld" in answer.headers["link"]


def test_an_unsupported_accept_is_406_with_problem_details(client, lights) -> None:
    for accept in ("text/html", "application/xml", "application/json;q=0, text/plain"):
        answer = client.get("/ngsi-ld/v1/entities?type=Streetlight", headers={"accept": accept})
        assert answer.status_code == 406, accept
        assert answer.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/NotAcceptable"
    one = client.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:SL-Q-01", headers={"accept": "text/csv"}
    )
    assert one.status_code == 406


def test_pages_link_to_the_next_and_previous_ones(client, lights) -> None:
    first = client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=4&count=true")
    assert first.headers["ngsild-results-count"] == "10"
    links = first.headers["link"]
    assert 'rel="next"' in links and 'rel="prev"' not in links
    following = links.split('rel="next"')[0].rsplit("<", 1)[1].split(">")[0]
    assert "offset=4" in following and "limit=4" in following
    parts = urlsplit(following)
    second = client.get(f"{parts.path}?{parts.query}")
    assert [e["id"][-7:] for e in second.json()] == ["SL-Q-04", "SL-Q-05", "SL-Q-06", "SL-Q-07"]
    assert 'rel="prev"' in second.headers["link"] and 'rel="next"' in second.headers["link"]
    last = client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=4&offset=8")
    assert 'rel="next"' not in last.headers["link"] and 'rel="prev"' in last.headers["link"]
    filtered = client.get(
        "/ngsi-ld/v1/entities?type=Streetlight&limit=1&count=true&q="
        + quote('status=="brokenLantern"')
    )
    assert (
        filtered.headers["ngsild-results-count"] == "2" and 'rel="next"' in filtered.headers["link"]
    )


def test_parameters_eclor_does_not_implement_are_refused_never_ignored(client, lights) -> None:
    for query in (
        "type=Streetlight&csf=" + quote('endpoint=="x"'),
        "type=Streetlight&scopeQ=/Moselle",
        "type=Streetlight&lang=fr",
        "type=Streetlight&local=false",
        "type=Streetlight&limit=5000",
        "type=" + quote("Streetlight;StreetlightGroup"),
    ):
        _problem(client, query)


def test_a_full_type_iri_matches_as_its_short_name_does(client, lights) -> None:
    iri = quote("https://smartdatamodels.org/dataModel.Streetlighting/Streetlight", safe="")
    assert len(_ids(client, f"type={iri}&limit=100")) == 10
    status = quote("https://uri.etsi.org/ngsi-ld/status", safe="")
    (entity,) = client.get(
        f"/ngsi-ld/v1/entities?type={iri}&idPattern=Q-07&pick=id,{status}"
    ).json()
    assert set(entity) == {"id", "status"}
    assert _ids(client, "type=" + quote("https://example.org/Streetlight", safe="")) == []


def test_types_and_attributes_list_what_the_twin_holds(client, lights) -> None:
    listing = client.get("/ngsi-ld/v1/types").json()
    assert listing["type"] == "EntityTypeList"
    assert {"Streetlight", "StreetlightGroup", "StreetlightControlCabinet"} <= set(
        listing["typeList"]
    )
    assert "AirQualityObserved" not in listing["typeList"]  # no such entity here
    detailed = {t["typeName"]: t for t in client.get("/ngsi-ld/v1/types?details=true").json()}
    light = detailed["Streetlight"]
    assert light["id"] == "https://smartdatamodels.org/dataModel.Streetlighting/Streetlight"
    assert {"status", "location", "refStreetlightGroup"} <= set(light["attributeNames"])
    info = client.get("/ngsi-ld/v1/types/Streetlight").json()
    assert info["type"] == "EntityTypeInfo" and info["entityCount"] == 10
    assert client.get("/ngsi-ld/v1/types/AirQualityObserved").status_code == 404
    attributes = client.get("/ngsi-ld/v1/attributes").json()
    assert (
        attributes["type"] == "AttributeList" and "illuminanceLevel" in attributes["attributeList"]
    )
    status = client.get("/ngsi-ld/v1/attributes/status").json()
    assert status["id"] == "https://uri.etsi.org/ngsi-ld/status"
    assert status["typeNames"] == ["Streetlight"]
    assert client.get("/ngsi-ld/v1/types?details=maybe&x=1").status_code == 400
