"""NGSI-LD on an install of several territories: each host's API answers with its own territory's
entities only (lights, groups, cabinets, lamp models, sensors, waste centres, reports, alerts),
their types, attributes and histories, and another's entity is not found there."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.db import utcnow, write_session
from app.models.reports import Report
from app.models.sensors import Sensor
from tests.lighting_helpers import seed_lights
from tests.territory_sweep import get_paths
from tests.test_territories import ESCH, add_minett
from tests.test_territory_lighting import B_LIGHTS, seed_minett

NGSI_DOMAIN = ("/ngsi-ld/",)
B_SENSOR = "SENS-ESCH-SECRET"
LD = {"accept": "application/ld+json"}


@pytest.fixture
def twin(engine) -> dict[str, Any]:
    """Both territories' lights, groups and cabinets, a sensor and a waste centre each, and a
    public report each."""
    minett = int(add_minett(engine).id or 0)
    seed_lights(engine, 3)
    seed_minett(engine, minett)
    with write_session(engine) as session:
        for sensor_id, kind, commune, territory, lat, lon in (
            ("SENS-AUD-1", "air_quality", "57038", 1, 49.472, 5.955),
            (B_SENSOR, "air_quality", "L0204", minett, 49.495, 5.98),
            ("WC-AUD", "waste_centre", "57038", 1, 49.473, 5.956),
            ("WC-ESCH-SECRET", "waste_centre", "L0204", minett, 49.496, 5.981),
        ):
            session.add(
                Sensor(
                    id=sensor_id,
                    kind=kind,
                    name=f"Capteur {sensor_id}",
                    commune_insee=commune,
                    territory_id=territory,
                    lat=lat,
                    lon=lon,
                    last_seen_at=utcnow(),
                )
            )
        reports = []
        for commune, territory, lat, lon in (
            ("57038", 1, 49.472, 5.955),
            ("L0204", minett, 49.495, 5.98),
        ):
            report = Report(
                category="bulky_items",
                status="confirmed",
                description="Un canapé.",
                lat=lat,
                lon=lon,
                commune_insee=commune,
                territory_id=territory,
            )
            session.add(report)
            session.flush()
            reports.append(report.id)
    return {"minett": minett, "a_report": reports[0], "b_report": reports[1]}


def _b_marks(twin: dict[str, Any]) -> tuple[str, ...]:
    return (
        "ESCH-G",
        "CAB-ESCH",
        "SL-ESCH-",
        B_SENSOR,
        "WC-ESCH-SECRET",
        f"Open311ServiceRequest:{twin['b_report']}",
    )


def _leaks(text: str, twin: dict[str, Any], url: str = "") -> list[str]:
    return [m for m in _b_marks(twin) if m in text and m not in url]


def _domain_routes(app: Any) -> list[str]:
    """The GET paths of the NGSI-LD API in the app's route table."""
    return get_paths(app, NGSI_DOMAIN)


TYPES = (
    "Streetlight",
    "StreetlightGroup",
    "StreetlightControlCabinet",
    "StreetlightModel",
    "AirQualityObserved",
    "WasteCentreObserved",
    "Open311ServiceRequest",
)


def _samples(path: str, twin: dict[str, Any]) -> tuple[list[str], list[str]]:
    """For a GET path: (URLs that answer with A's entities, URLs naming B's that must not)."""
    a_ids = [
        "urn:ngsi-ld:Streetlight:SL-T-0001",
        "urn:ngsi-ld:StreetlightGroup:G1",
        "urn:ngsi-ld:StreetlightControlCabinet:CAB-T",
        "urn:ngsi-ld:AirQualityObserved:SENS-AUD-1",
        f"urn:ngsi-ld:Open311ServiceRequest:{twin['a_report']}",
    ]
    b_ids = [
        f"urn:ngsi-ld:Streetlight:{B_LIGHTS[0]}",
        "urn:ngsi-ld:StreetlightGroup:ESCH-G",
        "urn:ngsi-ld:StreetlightControlCabinet:CAB-ESCH",
        f"urn:ngsi-ld:AirQualityObserved:{B_SENSOR}",
        "urn:ngsi-ld:WasteCentreObserved:WC-ESCH-SECRET",
        f"urn:ngsi-ld:Open311ServiceRequest:{twin['b_report']}",
    ]
    params = re.findall(r"\{(\w+):(\w+)\}", path)
    prefix = path[: path.index("{")] if params else path
    if not params:
        if path == "/ngsi-ld/v1/entities":
            return [
                path,
                *(f"{path}?type={t}&limit=1000" for t in TYPES),
                f"{path}?type=Streetlight&count=true",
                f"{path}?id={','.join(b_ids)}",
                f"{path}?type=Streetlight&georel=near;maxDistance==3000"
                "&geometry=Point&coordinates=[5.98,49.495]",
            ], []
        return [path, f"{path}?details=true"] if "context" not in path else [path], []
    names = [name for name, _kind in params]
    if names == ["entity_id"]:
        return [prefix + i for i in a_ids], [prefix + i for i in b_ids]
    if names == ["name"]:
        return [prefix + t for t in TYPES[:4]] + [prefix + "status"], []
    if names == ["sub_id"]:
        return [], []  # subscriptions are the API client's own, not a territory's entities
    raise AssertionError(f"{path}: an NGSI-LD route with parameters this sweep has no sample for")


def test_the_ngsi_ld_api_on_one_host_answers_with_nothing_of_the_other_territory(app, client, twin):
    paths = _domain_routes(app)
    assert "/ngsi-ld/v1/entities" in paths and len(paths) >= 8
    read = refused = 0
    for path in paths:
        ok, gone = _samples(path, twin)
        for url in ok:
            answer = client.get(url, headers=LD)
            assert answer.status_code < 500, (url, answer.status_code)
            assert not _leaks(answer.text, twin), (url, _leaks(answer.text, twin))
            read += 1
        for url in gone:
            answer = client.get(url, headers=LD)
            assert answer.status_code == 404, (url, answer.status_code)
            refused += 1
    assert read >= 20 and refused >= 6
    # The counts are the host's territory's.
    counted = client.get("/ngsi-ld/v1/entities?type=Streetlight&count=true&limit=1")
    assert counted.headers["ngsild-results-count"] == "3"
    assert client.get("/ngsi-ld/v1/types/Streetlight").json()["entityCount"] == 3


def test_each_host_serves_its_own_territorys_entities(client, twin):
    theirs = client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=1000", headers=ESCH).json()
    assert sorted(e["id"].rsplit(":", 1)[1] for e in theirs) == B_LIGHTS
    ours = client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=1000").json()
    assert {e["id"].rsplit(":", 1)[1] for e in ours} == {"SL-T-0001", "SL-T-0002", "SL-T-0003"}
    group = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:StreetlightGroup:ESCH-G", headers=ESCH)
    assert group.status_code == 200
    assert (
        client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:StreetlightGroup:G1", headers=ESCH).status_code
        == 404
    )
    sensors = client.get("/ngsi-ld/v1/entities?type=AirQualityObserved", headers=ESCH).json()
    assert [e["id"] for e in sensors] == [f"urn:ngsi-ld:AirQualityObserved:{B_SENSOR}"]
    requests = client.get("/ngsi-ld/v1/entities?type=Open311ServiceRequest", headers=ESCH).json()
    assert [e["id"] for e in requests] == [f"urn:ngsi-ld:Open311ServiceRequest:{twin['b_report']}"]
    # The history of another territory's light is not on this host.
    temporal = f"/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Streetlight:{B_LIGHTS[0]}"
    assert client.get(temporal).status_code == 404


def test_a_subscription_is_its_territorys_and_notifies_of_its_entities_only(
    client, engine, settings, twin
):
    """A subscription made on a territory's host is listed, read and deleted there only, and is
    told of that territory's lights only, whatever changes in the other."""
    from app.sensors import ngsi_notifier
    from app.sensors import ngsi_subscriptions as subs
    from tests.ngsi_receiver import Receiver
    from tests.test_ngsi_ld_subscriptions import PATH, _reading, _send

    with write_session(engine) as session:
        key = subs.issue_key(session, "Partenaire transfrontalier")[1]
    a_lights = [f"SL-T-{n:04d}" for n in range(1, 4)]
    for light in (*a_lights, *B_LIGHTS):
        _reading(engine, light, 0)
    with Receiver() as receiver:
        body = {
            "type": "Subscription",
            "entities": [{"type": "Streetlight"}],
            "watchedAttributes": ["status"],
            "notification": {"format": "keyValues", "endpoint": {"uri": f"{receiver.base}/n"}},
        }
        made = client.post(PATH, json=body, headers={"x-api-key": key, **ESCH})
        assert made.status_code == 201, made.text
        sub_id = made.headers["location"].rsplit("/", 1)[1]
        # The first territory's host does not know it.
        assert client.get(PATH, headers={"x-api-key": key}).json() == []
        assert client.get(f"{PATH}/{sub_id}", headers={"x-api-key": key}).status_code == 404
        assert client.delete(f"{PATH}/{sub_id}", headers={"x-api-key": key}).status_code == 404
        listed = client.get(PATH, headers={"x-api-key": key, **ESCH}).json()
        assert [s["id"] for s in listed] == [sub_id]

        assert ngsi_notifier.detect(engine, "w") == 0  # the baseline
        _reading(engine, a_lights[0], 1, status="defectiveLamp")  # the first territory's
        assert ngsi_notifier.detect(engine, "w") == 0
        _reading(engine, B_LIGHTS[0], 1, status="defectiveLamp")  # the Minett's
        assert ngsi_notifier.detect(engine, "w") == 1
        assert _send(engine, settings) == 1
        [got] = receiver.received("/n")
        assert [e["id"] for e in got.body["data"]] == [f"urn:ngsi-ld:Streetlight:{B_LIGHTS[0]}"]
