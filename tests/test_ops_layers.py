"""The operations centre's public faces: each layer as GeoJSON, KPIs per commune, side panels."""

from __future__ import annotations

import html
import json

from sqlalchemy import select

from app import domains_ops
from app.db import read_session
from app.models.territory import Commune
from tests.ops_seed import seed_territory

REQUIRED = (
    "reports",
    "lights",
    "cabinets",
    "sensors",
    "waste_centre",
    "crossings",
    "alerts",
    "alarms",
    "carpool",
)
MARGIN = 0.05  # degrees (~4-5 km) around the communes' centres


def _bbox(engine) -> tuple[float, float, float, float]:
    with read_session(engine) as session:
        rows = session.execute(select(Commune.lon, Commune.lat)).all()
    return (
        min(r.lon for r in rows) - MARGIN,
        min(r.lat for r in rows) - MARGIN,
        max(r.lon for r in rows) + MARGIN,
        max(r.lat for r in rows) + MARGIN,
    )


def _inside(position: list[float], box: tuple[float, float, float, float]) -> bool:
    lon, lat = position
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def _positions(geometry: dict) -> list[list[float]]:
    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        assert len(coords) == 2 and all(isinstance(c, int | float) for c in coords)
        return [coords]
    if kind == "LineString":
        assert len(coords) >= 2
        return coords
    assert kind == "MultiPolygon", kind
    out = []
    for polygon in coords:
        for ring in polygon:
            assert len(ring) >= 4 and ring[0] == ring[-1], "a ring is closed"
            out.extend(ring)
    return out


def test_each_layer_is_valid_geojson_inside_the_territory_with_the_four_properties(engine, staff):
    seed_territory(engine, staff.id)
    box = _bbox(engine)
    names = [layer.name for layer in domains_ops.layers()]
    assert set(REQUIRED) <= set(names)
    for name in names:
        response = staff.client.get(f"/staff/ops/layers/{name}.geojson")
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"].startswith("application/geo+json")
        body = json.loads(response.content)
        assert body["type"] == "FeatureCollection" and body["features"], name
        ids = set()
        for feature in body["features"]:
            assert feature["type"] == "Feature" and feature["id"] not in ids
            ids.add(feature["id"])
            props = feature["properties"]
            for key in ("kind", "state", "label", "url"):
                assert isinstance(props.get(key), str) and props[key], (name, key, props)
            assert props["url"].startswith("/")
            if name in ("lights", "sensors", "waste_centre", "crossings"):
                assert isinstance(props.get("device_id"), str) and props["device_id"]
            positions = _positions(feature["geometry"])
            if (
                name == "carpool"
            ):  # a flow leaves or reaches the territory (the other end may be abroad)
                assert _inside(positions[0], box) or _inside(positions[-1], box)
            else:
                assert all(_inside(p, box) for p in positions), (name, feature["id"])


def test_layers_show_live_state_and_the_status_in_words(engine, staff):
    seeded = seed_territory(engine, staff.id)
    lights = {
        f["id"]: f["properties"]
        for f in staff.client.get("/staff/ops/layers/lights.geojson").json()["features"]
    }
    assert lights[seeded["lights"][1]]["state"] == "unknown"  # no telemetry yet
    (alarm,) = staff.client.get("/staff/ops/layers/alarms.geojson").json()["features"]
    assert alarm["properties"]["label"].startswith("Lampe défectueuse")
    (alert,) = staff.client.get("/staff/ops/layers/alerts.geojson").json()["features"]
    assert (
        alert["properties"]["label"] == "Route barrée"
        and alert["geometry"]["type"] == "MultiPolygon"
    )
    reports = staff.client.get("/staff/ops/layers/reports.geojson").json()["features"]
    assert {f["properties"]["state"] for f in reports} == {"new", "resolved"}


def test_an_unknown_layer_is_a_clear_404(staff):
    assert staff.client.get("/staff/ops/layers/volcans.geojson").status_code == 404
    assert staff.client.get("/staff/ops/layers/lights.kml").status_code == 404


def test_kpis_are_given_per_commune_keyed_by_insee(engine, staff):
    seed_territory(engine, staff.id)
    body = staff.client.get("/staff/ops/kpis.json").json()
    assert set(body["communes"]) == {
        "57038",
        "57041",
        "57097",
        "57529",
        "57565",
        "57602",
        "54523",
        "54580",
    }
    names = {k["name"] for k in body["kpis"]}
    assert {
        "reports_open",
        "reports_resolve_days",
        "lights",
        "alerts_active",
        "air_quality",
    } <= names
    audun, villerupt, aumetz = (body["communes"][c]["kpis"] for c in ("57038", "54580", "57041"))
    assert audun["lights"] == {"on": 0, "off": 0, "faulty": 0} and audun["alerts_active"] == 1
    assert audun["air_quality"] == 2 and villerupt["reports_open"] == 1
    assert aumetz["reports_resolve_days"] == 4.0 and aumetz["alerts_active"] is None


def test_the_side_panel_shows_state_history_and_actions(engine, staff):
    seeded = seed_territory(engine, staff.id)
    light = staff.client.get(f"/staff/ops/panel/lights/{seeded['lights'][0]}")
    assert light.status_code == 200
    text = html.unescape(light.text)
    assert "Abaisser le groupe" in text and "/staff/lighting/groups/G1/override" in text
    assert "Audun-le-Tiche" in text  # the group's commune by name, not its INSEE code
    assert "/staff/ops/history.svg?id=urn%3Angsi-ld%3AStreetlight%3A" in text
    assert "Publier une alerte pour cette commune" in text
    report = html.unescape(staff.client.get(f"/staff/ops/panel/reports/{seeded['report_id']}").text)
    assert "Changer l'état" in report and f"/staff/reports/{seeded['report_id']}/status" in report
    commune = html.unescape(staff.client.get("/staff/ops/panel/communes/57038").text)
    assert "Audun-le-Tiche" in commune and "Signalements ouverts" in commune
    assert staff.client.get("/staff/ops/panel/lights/NOPE").status_code == 404
    assert staff.client.get("/staff/ops/panel/volcans/1").status_code == 404


def test_the_operations_centre_page_lists_every_layer(engine, staff):
    seed_territory(engine, staff.id)
    page = html.unescape(staff.client.get("/staff/ops").text)
    for name in REQUIRED:
        assert f'"name": "{name}"' in page or f'"name":"{name}"' in page
    assert 'class="staff-nav"' in page and 'class="tabbar"' not in page


def test_the_fast_writers_of_big_layers_give_the_same_features_as_the_plain_ones(engine, staff):
    seed_territory(engine, staff.id, lights=12)
    from app.db import utcnow

    with read_session(engine) as session:
        for layer in domains_ops.layers():
            if layer.dump is not None:
                fast = json.loads(layer.dump(session, utcnow()))["features"]
                plain = json.loads(json.dumps(layer.load(session, utcnow())))
                assert fast == plain and fast, layer.name


def test_the_waste_centre_and_the_border_crossings_have_layers_of_their_own(engine, staff):
    seed_territory(engine, staff.id)

    def layer(name: str) -> dict[str, dict]:
        body = json.loads(staff.client.get(f"/staff/ops/layers/{name}.geojson").content)
        return {f["id"]: f["properties"] for f in body["features"]}

    sensors, waste, crossings = layer("sensors"), layer("waste_centre"), layer("crossings")
    assert set(sensors) == {"AQ-AUD-01"}
    assert set(waste) == {"WC-AUD-01"} and set(crossings) == {"TR-RUS-01"}
    centre = waste["WC-AUD-01"]
    assert (centre["kind"], centre["state"], centre["value"], centre["unit"], centre["queue"]) == (
        "waste_centre",
        "long",
        12,
        "min",
        6,
    )
    assert centre["url"] == "/staff/ops?open=waste_centre/WC-AUD-01"
    crossing = crossings["TR-RUS-01"]
    assert (crossing["kind"], crossing["state"], crossing["value"], crossing["occupancy"]) == (
        "border_crossing",
        "dense",
        320,
        0.3,
    )
    panel = staff.client.get("/staff/ops/panel/waste_centre/WC-AUD-01")
    assert panel.status_code == 200 and "Déchèterie d&#39;Audun-le-Tiche" in panel.text
    meta = {m.name: m for m in domains_ops.layers()}
    assert set(meta["crossings"].states) == {"fluid", "dense", "congested", "offline"}
    assert set(meta["waste_centre"].states) == {"short", "long", "offline"}


def test_the_energy_saving_is_the_unprogrammed_baseline_minus_what_was_measured(engine, staff):
    """kWh saved this month per commune: its lamps all night at nominal power, minus the measure."""
    import datetime as dt

    from app.db import utcnow, write_session
    from app.lighting import consumption
    from app.lighting.control import territory_position
    from app.models.lighting import LightEnergyMonth

    seed_territory(engine, staff.id)  # five 70 W lamps in group G1, in Audun-le-Tiche (57038)
    now = utcnow()
    with write_session(engine) as session:
        position = territory_position(session)
        local = now.astimezone(position.tz)
        start = dt.datetime(local.year, local.month, 1, tzinfo=position.tz)
        session.add(LightEnergyMonth(month=f"{local:%Y-%m}", group_id="G1", energy_wh=1500.0))
    all_night = consumption.BASELINES["led_70_all_night"].program
    per_watt = consumption.energy_between_kwh(
        all_night, 1.0, position, start, local, driver_floor=0.0, standby_w=0.0
    )
    body = staff.client.get("/staff/ops/kpis.json").json()
    assert "energy_saving" in {k["name"] for k in body["kpis"]}
    audun = body["communes"]["57038"]["kpis"]
    assert per_watt > 0
    assert abs(audun["energy_saving"] - (5 * 70 * per_watt - 1.5)) <= 0.11
    assert body["communes"]["57041"]["kpis"]["energy_saving"] is None  # nothing measured there


def test_a_reading_is_published_on_the_layer_that_shows_its_sensor(engine, staff):
    from app.db import utcnow, write_session
    from app.lighting.relay import Inbound
    from app.models.events import Event
    from app.sensors.measures import ingest_sensor_telemetry

    seed_territory(engine, staff.id)
    now = utcnow()
    stamp = now.isoformat().replace("+00:00", "Z")
    with write_session(engine) as session:
        items = [
            Inbound("tele_sensor", "TR-RUS-01", {"ts": stamp, "intensity": 410}, now),
            Inbound("tele_sensor", "AQ-AUD-01", {"ts": stamp, "no2": 18}, now),
            Inbound("tele_sensor", "WC-AUD-01", {"ts": stamp, "arrivals": 40, "exits": 31}, now),
        ]
        assert ingest_sensor_telemetry(session, items, now) == 3
    with read_session(engine) as session:
        published = {
            (e.feature_id, e.layer)
            for e in session.scalars(select(Event).where(Event.kind == "reading"))
        }
    assert published == {
        ("TR-RUS-01", "crossings"),
        ("AQ-AUD-01", "sensors"),
        ("WC-AUD-01", "waste_centre"),
    }
