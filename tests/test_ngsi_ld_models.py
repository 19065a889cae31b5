"""NGSI-LD entities checked against the official Smart Data Models files (shared/standards/smart-data-models):
each entity in its simplified form validates against its model's schema.json and carries only the model's
attributes, and every served term expands to the IRI the model's own context.jsonld gives it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from app.db import write_session
from app.lighting.relay import Inbound, ingest
from app.models.sensors import Sensor
from tests.lighting_helpers import seed_lights

SDM = Path(__file__).resolve().parents[1].parent / "shared" / "standards" / "smart-data-models"
MODELS = {
    "Streetlight": "Streetlighting",
    "StreetlightGroup": "Streetlighting",
    "StreetlightControlCabinet": "Streetlighting",
    "StreetlightModel": "Streetlighting",
    "TrafficFlowObserved": "Transportation",
    "AirQualityObserved": "Environment",
    "WasteContainer": "WasteManagement",
    "PhotovoltaicMeasurement": "GreenEnergy",
    "WaterConsumptionObserved": "WaterConsumption",
    "ItemFlowObserved": "Transportation",
}
REMOTE = {  # where the schemas' $ref point, and the copies in shared/standards
    "https://smart-data-models.github.io/data-models/common-schema.json": SDM
    / "common-schema.json",
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/Environment-schema.json": SDM
    / "Environment-schema.json",
}


def _registry() -> Registry:
    return Registry().with_resources(
        (url, Resource.from_contents(json.loads(path.read_text()))) for url, path in REMOTE.items()
    )


def _schema(entity_type: str) -> dict[str, Any]:
    return json.loads((SDM / MODELS[entity_type] / entity_type / "schema.json").read_text())


def _attributes(node: Any, registry: Registry) -> set[str]:
    """Every property name a schema allows, through allOf and $ref (GSMA-Commons, Location-Commons...)."""
    names: set[str] = set()
    if isinstance(node, dict):
        if "$ref" in node and not node["$ref"].startswith("#"):
            url, _, pointer = node["$ref"].partition("#")
            target: Any = registry.get_or_retrieve(url).value.contents
            for part in pointer.strip("/").split("/"):
                if part:
                    target = target[part]
            names |= _attributes(target, registry)
        names |= set(node.get("properties", {}))
        for part in node.get("allOf", []):
            names |= _attributes(part, registry)
    return names


def _plain(entity: dict[str, Any]) -> dict[str, Any]:
    """A simplified entity with its JSON-LD typed values (DateTime) as the plain strings the schemas describe."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict) and "@value" in value:
            return value["@value"]
        return value

    return {k: plain(v) for k, v in entity.items() if k != "@context"}


@pytest.fixture
def inventory(engine):
    lights = seed_lights(engine, 3)
    now = dt.datetime.now(dt.UTC)
    with write_session(engine) as session:
        session.add(
            Sensor(id="TR-M-01", kind="traffic", name="Passage", lat=49.489, lon=5.954, meta="{}")
        )
        session.add(Sensor(id="AQ-M-01", kind="air_quality", name="Air", lat=49.467, lon=5.929))
        session.add(
            Sensor(
                id="FL-M-01",
                kind="fill_level",
                name="Verre",
                lat=49.47,
                lon=5.95,
                meta=json.dumps({"storedWasteKind": "glass"}),
            )
        )
        session.add(Sensor(id="FL-M-02", kind="fill_level", name="Papier", lat=49.471, lon=5.951))
        session.add(
            Sensor(
                id="PV-M-01",
                kind="solar",
                name="Toiture de la mairie",
                lat=49.472,
                lon=5.955,
                meta=json.dumps(
                    {
                        "peak_kw": 9,
                        "azimuth": 180,
                        "tilt": 30,
                        "metering_started": "2024-04-01T00:00:00Z",
                    }
                ),
            )
        )
        session.add(Sensor(id="EAU-M-01", kind="water_meter", name="Gymnase", lat=49.47, lon=5.95))
        session.add(
            Sensor(
                id="CPT-M-01",
                kind="counter",
                name="Rue du Centre",
                lat=49.473,
                lon=5.956,
                reporting_period_s=900,
                meta=json.dumps({"classes": ["pedestrian", "bike", "car", "truck"]}),
            )
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
                    "power_w": 35.0,
                    "energy_wh": 9.0,
                    "status": "ok",
                },
                now,
            ),
            Inbound(
                "tele_sensor",
                "TR-M-01",
                {
                    "kind": "traffic",
                    "intensity": 120,
                    "occupancy": 0.31,
                    "averageVehicleSpeed": 42.5,
                },
                now,
            ),
            Inbound(
                "tele_sensor",
                "AQ-M-01",
                {"kind": "air_quality", "no2": 95.0, "pm10": 20, "pm25": 9, "o3": 40},
                now,
            ),
            Inbound("tele_sensor", "FL-M-01", {"kind": "fill_level", "fillingLevel": 0.72}, now),
            Inbound(
                "tele_sensor",
                "PV-M-01",
                {"kind": "solar", "power_w": 5230.0, "energy_wh": 1.2e7, "temperature": 38.5},
                now,
            ),
            Inbound(
                "tele_sensor",
                "EAU-M-01",
                {"kind": "water_meter", "volume_l": 125420, "flow": 18},
                now,
            ),
            Inbound(
                "tele_sensor",
                "CPT-M-01",
                {
                    "kind": "counter",
                    "counts": {"pedestrian": {"in": 12, "out": 9}, "car": {"in": 40, "out": 35}},
                    "image": "data:image/jpeg;base64,/9j/4AAQ",
                },
                now,
            ),
        ],
        now=now,
    )
    return lights


@pytest.mark.parametrize("entity_type", sorted(MODELS))
def test_each_entity_validates_against_its_smart_data_models_schema(
    client, inventory, entity_type
) -> None:
    registry = _registry()
    schema = _schema(entity_type)
    validator = Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())
    allowed = _attributes(schema, registry) | {"id", "type"}
    answer = client.get(f"/ngsi-ld/v1/entities?type={entity_type}&options=keyValues&limit=100")
    entities = answer.json()
    assert entities, entity_type
    for entity in entities:
        plain = _plain(entity)
        errors = [
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(plain)
        ]
        assert errors == [], (entity["id"], errors)
        assert set(plain) <= allowed, (entity["id"], set(plain) - allowed)


def test_lights_point_to_their_model_and_a_silent_container_is_unknown(client, inventory) -> None:
    light = client.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:{inventory[0]}").json()
    model = light["refStreetlightModel"]["object"]
    assert client.get(f"/ngsi-ld/v1/entities/{model}").json()["type"] == "StreetlightModel"
    containers = {e["id"]: e for e in client.get("/ngsi-ld/v1/entities?type=WasteContainer").json()}
    assert containers["urn:ngsi-ld:WasteContainer:FL-M-01"]["status"]["value"] == "ok"
    assert containers["urn:ngsi-ld:WasteContainer:FL-M-02"]["status"]["value"] == "unknown"
    assert containers["urn:ngsi-ld:WasteContainer:FL-M-02"]["storedWasteKind"]["value"] == "other"


def test_every_served_term_expands_as_the_smart_data_models_context_expands_it(
    client, inventory
) -> None:
    served = client.get("/ngsi-ld/v1/context.jsonld").json()["@context"][0]
    checked = 0
    for domain in sorted(set(MODELS.values())):
        theirs = json.loads((SDM / domain / "context.jsonld").read_text())["@context"]
        for entity_type, model in MODELS.items():
            if model != domain:
                continue
            entities = client.get(f"/ngsi-ld/v1/entities?type={entity_type}&limit=100").json()
            names = {entity_type} | {name for e in entities for name in e} - {"id", "type"}
            for name in names:
                if name in theirs:
                    assert served[name] == theirs[name], (entity_type, name)
                    checked += 1
    assert checked > 30
