"""NGSI-LD listings cost what they return: an SQL count, one page read in id order, one query per kind of link."""

from __future__ import annotations

import re

from sqlalchemy import event

from app.db import write_session
from app.models.lighting import LightCabinet, LightGroup
from tests.lighting_helpers import seed_lights


def _queries(engine, client, url: str) -> tuple[list[str], object]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if re.match(r"\s*SELECT", statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert answer.status_code == 200
    return seen, answer


def _groups(engine, count: int, start: int) -> None:
    for index in range(start, start + count):
        seed_lights(engine, 3, group=f"G{index:03d}", prefix=f"SL-{index:03d}-")
    with write_session(engine) as session:
        for index in range(start, start + count, 5):
            session.add(LightCabinet(id=f"CAB-{index:03d}", name=f"Armoire {index}"))
            session.flush()
            session.get(LightGroup, f"G{index:03d}").cabinet_id = f"CAB-{index:03d}"


def test_the_results_count_and_the_pages_of_lights_come_from_sql_in_id_order(engine, client):
    lights = seed_lights(engine, 25)
    seen, answer = _queries(
        engine, client, "/ngsi-ld/v1/entities?type=Streetlight&limit=10&offset=10&count=true"
    )
    assert answer.headers["ngsild-results-count"] == "25"
    assert [e["id"] for e in answer.json()] == [
        f"urn:ngsi-ld:Streetlight:{i}" for i in lights[10:20]
    ]
    assert any(re.search(r"count\(\*\)", q) for q in seen)
    assert not any(
        re.search(r"LIMIT", q) and "1000" in q for q in seen
    )  # no walk through the fleet
    last = client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=10&offset=20").json()
    assert [e["id"] for e in last] == [f"urn:ngsi-ld:Streetlight:{i}" for i in lights[20:]]


def test_groups_and_cabinets_are_listed_with_the_same_queries_for_4_or_40_of_them(engine, client):
    _groups(engine, 4, 0)
    few_groups, answer = _queries(
        engine, client, "/ngsi-ld/v1/entities?type=StreetlightGroup&count=true&limit=100"
    )
    assert len(answer.json()) == 4
    few_cabinets, _answer = _queries(
        engine, client, "/ngsi-ld/v1/entities?type=StreetlightControlCabinet&limit=100"
    )
    _groups(engine, 36, 4)
    many_groups, answer = _queries(
        engine, client, "/ngsi-ld/v1/entities?type=StreetlightGroup&count=true&limit=100"
    )
    groups = answer.json()
    assert len(groups) == 40 and answer.headers["ngsild-results-count"] == "40"
    assert groups[7]["refStreetlight"]["object"] == [
        f"urn:ngsi-ld:Streetlight:SL-007-000{i}" for i in (1, 2, 3)
    ]
    many_cabinets, answer = _queries(
        engine, client, "/ngsi-ld/v1/entities?type=StreetlightControlCabinet&limit=100"
    )
    cabinets = {c["id"]: c for c in answer.json()}
    assert cabinets["urn:ngsi-ld:StreetlightControlCabinet:CAB-009"]["refStreetlightGroup"][
        "object"
    ] == ["urn:ngsi-ld:StreetlightGroup:G009"]
    assert len(many_groups) == len(few_groups) and len(many_cabinets) == len(few_cabinets)
