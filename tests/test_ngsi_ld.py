"""NGSI-LD read API: Smart Data Models types, URNs, attribute names, normalised form, filters, errors."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from app.db import write_session
from app.lighting.relay import Inbound, ingest
from app.models.sensors import Sensor
from tests.lighting_helpers import seed_lights

LD = {"accept": "application/ld+json"}


@pytest.fixture
def inventory(engine):
    lights = seed_lights(engine, 3)
    now = dt.datetime.now(dt.UTC)
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="TR-RUS-01",
                kind="traffic",
                name="Russange ↔ Belval",
                lat=49.489,
                lon=5.954,
                meta=json.dumps({"laneDirection": "forward"}),
            )
        )
        session.add(
            Sensor(id="AQ-VIL-01", kind="air_quality", name="Villerupt", lat=49.467, lon=5.929)
        )
        session.add(
            Sensor(
                id="FL-AUD-0001",
                kind="fill_level",
                name="Verre",
                lat=49.47,
                lon=5.95,
                meta=json.dumps({"storedWasteKind": "glass"}),
            )
        )
        session.add(
            Sensor(id="WC-AUD-01", kind="waste_centre", name="Déchèterie", lat=49.46, lon=5.96)
        )
    ingest(
        engine,
        [
            Inbound(
                "tele_light",
                lights[0],
                {
                    "ts": now.isoformat(),
                    "level": 50,
                    "power_w": 35.7,
                    "energy_wh": 9.0,
                    "status": "ok",
                },
                now,
            ),
            Inbound(
                "tele_sensor",
                "TR-RUS-01",
                {
                    "kind": "traffic",
                    "intensity": 120,
                    "occupancy": 0.31,
                    "averageVehicleSpeed": 42.5,
                    "congested": False,
                },
                now,
            ),
            Inbound(
                "tele_sensor",
                "AQ-VIL-01",
                {"kind": "air_quality", "no2": 95.0, "pm10": 20, "pm25": 9, "o3": 40},
                now,
            ),
            Inbound(
                "tele_sensor", "FL-AUD-0001", {"kind": "fill_level", "fillingLevel": 0.72}, now
            ),
        ],
        now=now,
    )
    return lights


def test_streetlights_carry_their_type_urn_and_attribute_names(client, inventory):
    answer = client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=10", headers=LD)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/ld+json"
    )
    entities = answer.json()
    assert [e["id"] for e in entities] == [
        f"urn:ngsi-ld:Streetlight:{light}" for light in inventory
    ]
    lit = entities[0]
    assert lit["type"] == "Streetlight"
    assert lit["@context"].endswith("/ngsi-ld/v1/context.jsonld")
    assert lit["location"]["type"] == "GeoProperty" and lit["location"]["value"]["type"] == "Point"
    assert lit["location"]["value"]["coordinates"] == [5.955, 49.472]  # GeoJSON order: lon, lat
    assert lit["illuminanceLevel"]["type"] == "Property" and lit["illuminanceLevel"]["value"] == 0.5
    assert lit["illuminanceLevel"]["observedAt"].endswith("Z")
    assert lit["powerState"]["value"] == "low" and lit["status"]["value"] == "ok"
    assert lit["controllingMethod"]["value"] == "group"
    assert lit["refStreetlightGroup"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:StreetlightGroup:G1",
    }
    assert (
        lit["refStreetlightControlCabinet"]["object"]
        == "urn:ngsi-ld:StreetlightControlCabinet:CAB-T"
    )
    assert "powerState" not in entities[1]  # never reported: no made-up state


def test_groups_and_cabinets_point_to_each_other(client, inventory):
    group = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:StreetlightGroup:G1").json()
    assert group["type"] == "StreetlightGroup"
    assert group["refStreetlight"]["object"] == [
        f"urn:ngsi-ld:Streetlight:{light}" for light in inventory
    ]
    assert {"powerState", "illuminanceLevel", "switchingMode"} <= set(group)
    cabinet = client.get("/ngsi-ld/v1/entities?type=StreetlightControlCabinet").json()[0]
    assert cabinet["id"] == "urn:ngsi-ld:StreetlightControlCabinet:CAB-T"
    assert cabinet["refStreetlightGroup"]["object"] == ["urn:ngsi-ld:StreetlightGroup:G1"]
    assert (
        cabinet["energyConsumed"]["value"] == 0.009
        and cabinet["energyConsumed"]["unitCode"] == "KWH"
    )
    assert cabinet["totalActivePower"]["type"] == "Property"


def test_sensors_use_the_smart_data_models_types(client, inventory):
    answer = client.get(
        "/ngsi-ld/v1/entities?type=TrafficFlowObserved,AirQualityObserved,WasteContainer"
    )
    by_type = {e["type"]: e for e in answer.json()}
    assert set(by_type) == {"TrafficFlowObserved", "AirQualityObserved", "WasteContainer"}
    traffic = by_type["TrafficFlowObserved"]
    assert traffic["id"] == "urn:ngsi-ld:TrafficFlowObserved:TR-RUS-01"
    assert {
        "dateObserved",
        "intensity",
        "occupancy",
        "averageVehicleSpeed",
        "congested",
        "laneDirection",
    } <= set(traffic)
    assert traffic["dateObserved"]["value"]["@type"] == "DateTime"
    air = by_type["AirQualityObserved"]
    assert air["no2"]["value"] == 95.0 and air["airQualityIndex"]["value"] == 3
    assert air["airQualityLevel"]["value"] == "moderate"
    assert by_type["WasteContainer"]["fillingLevel"]["value"] == 0.72
    assert by_type["WasteContainer"]["storedWasteKind"]["value"] == "glass"
    assert (
        'rel="http://www.w3.org/ns/json-ld#context"' in answer.headers["link"]
    )  # plain JSON: context by Link


def test_id_attrs_and_key_values_filters(client, inventory):
    urns = f"urn:ngsi-ld:Streetlight:{inventory[2]},urn:ngsi-ld:StreetlightGroup:G1"
    answer = client.get(f"/ngsi-ld/v1/entities?id={urns}&attrs=illuminanceLevel,refStreetlight")
    entities = answer.json()
    assert [e["id"] for e in entities] == [
        "urn:ngsi-ld:StreetlightGroup:G1"
    ]  # the light has none of the attrs
    assert set(entities[0]) == {"id", "type", "illuminanceLevel", "refStreetlight"}
    answer = client.get(
        "/ngsi-ld/v1/entities?type=Streetlight&attrs=status&options=keyValues&limit=1&offset=1"
        "&count=true"
    )
    assert answer.json() == [
        {"id": f"urn:ngsi-ld:Streetlight:{inventory[1]}", "type": "Streetlight", "status": "ok"}
    ]
    assert answer.headers["ngsild-results-count"] == "3"


def test_errors_use_the_ngsi_ld_problem_format(client, inventory):
    too_broad = client.get("/ngsi-ld/v1/entities")
    assert too_broad.status_code == 400
    assert too_broad.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert client.get("/ngsi-ld/v1/entities?id=not-a-urn").status_code == 400
    assert client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=5000").status_code == 400
    assert client.get("/ngsi-ld/v1/entities?type=Streetlight&limit=abc").status_code == 400
    missing = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:NOPE")
    assert missing.status_code == 404
    assert missing.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    assert client.get("/ngsi-ld/v1/entities?type=Unknown").json() == []


def test_the_context_is_served_locally(client):
    answer = client.get("/ngsi-ld/v1/context.jsonld")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "application/ld+json"
    )
    terms = answer.json()["@context"][0]
    assert terms["Streetlight"].startswith("https://smartdatamodels.org/dataModel.Streetlighting/")
    assert "refStreetlightGroup" in terms and "airQualityIndex" in terms
