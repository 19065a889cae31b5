"""The operations centre's layers, tiles, histories and live stream on an install of several
territories: staff of one territory get only their territory's features, tiles, histories and
events, whatever another territory has on the same install.

The sweep reads every operations-centre route (``/staff/ops...`` and the NGSI-LD temporal API it
serves) from the app's route table, so a route added later is swept too, or fails the sweep for
want of a sample."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import httpx
import pytest

from app import auth, domains_ops, timeseries
from app.alerts import publish as alerts
from app.db import read_session, utcnow, write_session
from app.device_alarms import raise_alarm
from app.models.accounts import User
from app.models.carpool import CarpoolAd
from app.models.lighting import LightAlarm
from app.models.maintenance import MaintenanceAlarm
from app.models.participation import Proposal
from app.models.reports import Report
from app.models.sensors import Sensor
from app.ops import tiles
from app.sensors.ngsi_ld import SENSOR_TYPES, urn
from tests.e2e.conftest import LiveServer
from tests.mqtt_fixtures import run_async
from tests.territory_sweep import get_paths
from tests.test_territories import ESCH
from tests.test_territory_lighting import B_LIGHTS, lit  # noqa: F401 (fixture)

OPS_ROUTES = ("/staff/ops", "/ngsi-ld/v1/temporal")
# The Minett's marks: its ids, names and communes, and the coordinates of its rows.
B_MARKS = (
    "SL-ESCH-",
    "CAB-ESCH",
    "ESCH-G",
    "AQ-ESCH-01",
    "TR-ESCH-01",
    "WC-ESCH-01",
    "Esch-sur-Alzette",
    "L0204",
    "Minett",
    "49.4951",
    "49.50311",
    "5.97733",
)


def _seed(
    engine: Any, user_id: int, territory_id: int, commune: str, tag: str, lat: float, lon: float
) -> dict[str, Any]:
    """One row of every other layer in ``commune`` (sensors, a report, an alert, a maintenance
    alarm, a proposal, a carpool ad), named with ``tag``."""
    now = utcnow()
    with write_session(engine) as session:
        for kind, prefix in (("air_quality", "AQ"), ("traffic", "TR"), ("waste_centre", "WC")):
            session.add(
                Sensor(
                    id=f"{prefix}-{tag.upper()}-01",
                    kind=kind,
                    name=f"Capteur {tag}",
                    commune_insee=commune,
                    territory_id=territory_id,
                    lat=lat,
                    lon=lon,
                    last_values='{"no2": 30, "intensity": 120}',
                    last_seen_at=now,
                )
            )
        report = Report(
            category="bulky_items",
            lat=lat,
            lon=lon,
            commune_insee=commune,
            territory_id=territory_id,
            address=f"Rue {tag}",
            status="new",
            created_at=now - dt.timedelta(days=1),
        )
        session.add(report)
        maintenance = MaintenanceAlarm(
            subject=f"AQ-{tag.upper()}-01",
            source="sensors",
            feature_id=f"AQ-{tag.upper()}-01",
            title=f"Alarme {tag}",
            severity="warning",
            commune_insee=commune,
            territory_id=territory_id,
            lat=lat,
            lon=lon,
            first_seen=now,
            last_seen=now,
        )
        session.add(maintenance)
        proposal = Proposal(
            author_id=user_id,
            title=f"Idée {tag}",
            body="Pour le quartier.",
            commune_insee=commune,
            lat=lat,
            lon=lon,
        )
        session.add(proposal)
        ad = CarpoolAd(
            user_id=user_id,
            role="driver",
            frequency="regular",
            from_label=f"Départ {tag}",
            from_lat=lat,
            from_lon=lon,
            to_label=f"Arrivée {tag}",
            to_lat=lat + 0.05,
            to_lon=lon + 0.05,
            distance_m=6000,
            cross_border=False,
            territory_id=territory_id,
        )
        session.add(ad)
        session.flush()
        alert = alerts.publish(
            session,
            alerts.clean_input(
                session,
                title=f"Alerte {tag}",
                body="Travaux",
                topic="traffic",
                communes=[commune],
                territory_id=territory_id,
            ),
            source="staff",
            sender="test@eclor",
            territory_id=territory_id,
        )
        flow = "_".join(
            f"{v:.2f}"
            for v in (round(lon, 2), round(lat, 2), round(lon + 0.05, 2), round(lat + 0.05, 2))
        )
        return {
            "sensors": f"AQ-{tag.upper()}-01",
            "waste_centre": f"WC-{tag.upper()}-01",
            "crossings": f"TR-{tag.upper()}-01",
            "reports": str(report.id),
            "maintenance": str(maintenance.id),
            "participation": f"proposal-{proposal.id}",
            "carpool": flow,
            "alerts": str(alert.id),
        }


@pytest.fixture
def both(engine, lit, personas) -> dict[str, Any]:  # noqa: F811
    """Two territories with a row on every layer each; ``personas["elected"]`` made staff of the
    Minett (``b_staff``)."""
    a_user, b_user = personas["staff"], personas["elected"]
    minett = lit["minett"]
    with write_session(engine) as session:
        user = session.get(User, b_user.id)
        assert user is not None
        user.role, user.territory_id = "staff", minett
    with read_session(engine) as session:
        alarm = session.get(LightAlarm, lit["alarm_id"])
        assert alarm is not None and alarm.territory_id == minett
    a = _seed(engine, a_user.id, 1, "57038", "pays-haut", 49.47133, 5.95122)
    b = _seed(engine, b_user.id, minett, "L0204", "Minett", 49.50311, 5.97733)
    a.update(lights=lit["a_lights"][0], cabinets="CAB-T", alarms=str(lit["a_alarm"]))
    b.update(lights=B_LIGHTS[0], cabinets="CAB-ESCH", alarms=str(lit["alarm_id"]))
    now = utcnow() - dt.timedelta(hours=1)
    with write_session(engine) as session:  # a history for each side's light and sensor
        timeseries.record(
            session,
            [
                timeseries.Sample(entity, "illuminanceLevel", now, 0.8)
                for side in (a, b)
                for entity in (
                    f"urn:ngsi-ld:Streetlight:{side['lights']}",
                    urn(SENSOR_TYPES["air_quality"], side["sensors"]),
                )
            ],
        )
    return {"a": a, "b": b, "minett": minett, "a_staff": a_user, "b_staff": b_user}


def _leaks(text: str, url: str = "") -> list[str]:
    """The Minett's marks in an answer (but what the URL itself asked for, which an error repeats)."""
    return [mark for mark in B_MARKS if mark in text and mark not in url]


def _ids(answer: httpx.Response) -> set[str]:
    return {str(f.get("id")) for f in answer.json()["features"]}


def _tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    x, y = tiles.tile_xy(lon, lat, zoom)
    return int(x), int(y)


def _samples(path: str, both: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(URLs that answer with A's own, URLs naming the Minett's that must be refused)."""
    a, b = both["a"], both["b"]
    layers = [layer.name for layer in domains_ops.layers()]
    big = [layer.name for layer in domains_ops.layers() if layer.fresh and layer.fresh.features]
    light_urn, b_light_urn = (f"urn:ngsi-ld:Streetlight:{x}" for x in (a["lights"], b["lights"]))
    b_sensor_urn = urn(SENSOR_TYPES["air_quality"], b["sensors"])
    if path == "/staff/ops/stream":
        return [], []  # a stream that never ends: test_an_event_raised_in_one_territory_... below
    if "{" not in path:
        if path.startswith("/staff/ops/history"):
            return [f"{path}?id={light_urn}"], [
                f"{path}?id={b_light_urn}",
                f"{path}?id={b_sensor_urn}",
                f"{path}?id=urn:ngsi-ld:StreetlightGroup:ESCH-G",
            ]
        return [path], []
    if path == "/staff/ops/layers/{file:str}":
        return [f"/staff/ops/layers/{name}.geojson" for name in layers], []
    if path == "/staff/ops/layers/{name:str}/{z:int}/{x:int}/{file:str}":
        out = []
        for zoom in (8, 12, 14, 17):
            x, y = _tile_of(5.97733, 49.50311, zoom)  # over the Minett
            out += [f"/staff/ops/layers/{name}/{zoom}/{x}/{y}.geojson" for name in big]
        return out, []
    if path == "/staff/ops/panel/{layer:str}/{feature_id:str}":
        prefix = "/staff/ops/panel/"
        return (
            [f"{prefix}{name}/{a[name]}" for name in layers if name in a]
            + [f"{prefix}communes/57038"],
            [f"{prefix}{name}/{b[name]}" for name in layers if name in b]
            + [f"{prefix}communes/L0204"],
        )
    if path == "/ngsi-ld/v1/temporal/entities/{entity_id:str}":
        prefix = "/ngsi-ld/v1/temporal/entities/"
        return [prefix + light_urn], [prefix + b_light_urn, prefix + b_sensor_urn]
    raise AssertionError(f"{path}: an operations-centre route this sweep has no sample for")


def test_staff_of_one_territory_sweeping_every_ops_route_find_no_marker_id_or_coordinate_of_the_other(
    app, both
):
    staff = both["a_staff"]
    paths = get_paths(app, OPS_ROUTES)
    assert {"/staff/ops/layers/{file:str}", "/staff/ops/stream"} <= set(paths)
    layers = [layer.name for layer in domains_ops.layers()]
    assert set(layers) - {"lights", "cabinets", "alarms"} <= set(both["b"]), "a layer unseeded"
    b_ids = set(both["b"].values()) | set(B_LIGHTS)
    read = refused = 0
    for path in paths:
        ok, gone = _samples(path, both)
        for url in ok:
            answer = staff.client.get(url)
            assert answer.status_code == 200, (url, answer.status_code)
            assert not _leaks(answer.text), (url, _leaks(answer.text))
            if url.endswith(".geojson"):
                assert not _ids(answer) & b_ids, (url, _ids(answer) & b_ids)
            read += 1
        for url in gone:
            answer = staff.client.get(url)
            assert answer.status_code in (400, 404), (url, answer.status_code)
            assert not _leaks(answer.text, url), (url, _leaks(answer.text, url))
            refused += 1
    assert read >= 30 and refused >= 15
    # Each layer still shows A's own rows.
    for name in layers:
        ids = _ids(staff.client.get(f"/staff/ops/layers/{name}.geojson"))
        assert both["a"][name] in ids, (name, ids)


def test_the_minetts_staff_get_the_minetts_layers_and_panels_and_none_of_the_first_territorys(
    both,
):
    client, a, b = both["b_staff"].client, both["a"], both["b"]
    for layer in domains_ops.layers():
        answer = client.get(f"/staff/ops/layers/{layer.name}.geojson", headers=ESCH)
        assert answer.status_code == 200
        ids = _ids(answer)
        assert b[layer.name] in ids and a[layer.name] not in ids, (layer.name, ids)
        assert (
            client.get(f"/staff/ops/panel/{layer.name}/{b[layer.name]}", headers=ESCH).status_code
            == 200
        )
        assert (
            client.get(f"/staff/ops/panel/{layer.name}/{a[layer.name]}", headers=ESCH).status_code
            == 404
        )


def test_a_tile_over_the_other_territorys_area_holds_none_of_its_features(both, settings):
    """The tiles of one territory's host are cut from that territory's layer only: over the
    Minett, the first territory's staff get none of its lights or reports (not even in a cluster's
    count), while the Minett's staff get them there."""
    settings.ops_tile_features = 1  # clusters as soon as a tile holds two features
    a_client, b_client = both["a_staff"].client, both["b_staff"].client
    for name, expected in (("lights", set(B_LIGHTS)), ("reports", {both["b"]["reports"]})):
        for zoom in (10, 13, 16, 18):
            x, y = (
                _tile_of(5.98, 49.4952, zoom)
                if name == "lights"
                else _tile_of(5.97733, 49.50311, zoom)
            )
            url = f"/staff/ops/layers/{name}/{zoom}/{x}/{y}.geojson"
            mine = a_client.get(url)
            assert mine.status_code == 200
            features = mine.json()["features"]
            assert not _ids(mine) & expected and not _leaks(mine.text), (url, mine.text)
            counted = sum(
                f["properties"].get("count", 1)
                for f in features
                if tiles.tile_bounds(zoom, x, y)[0] <= f["geometry"]["coordinates"][0]
            )
            assert counted <= (5 if name == "lights" else 1), (url, features)
            theirs = b_client.get(url, headers=ESCH)
            held = _ids(theirs) | {
                i
                for f in theirs.json()["features"]
                if f["properties"].get("kind") == "cluster"
                for i in expected
            }
            assert expected <= held, (url, theirs.text)
    # The layers' sizes offered to each territory's map are their own.
    lights_a = a_client.get("/staff/ops/layers/lights.geojson").json()["features"]
    lights_b = b_client.get("/staff/ops/layers/lights.geojson", headers=ESCH).json()["features"]
    assert {f["id"] for f in lights_b} == set(B_LIGHTS)
    assert not {f["id"] for f in lights_a} & set(B_LIGHTS)


def _token(persona: Any) -> str:
    return persona.client.cookies.get(auth.SESSION_COOKIE)


def test_an_event_raised_in_one_territory_reaches_its_subscribers_and_not_the_others(
    app, engine, both
):
    """A light alarm raised in the Minett goes to the Minett's live map, not to the first
    territory's; the first territory's own alarm, raised after it, reaches the first territory's."""
    a_light, b_light = both["a"]["lights"], both["b"]["lights"]

    def raise_both() -> None:
        now = utcnow()
        with write_session(engine) as session:
            raise_alarm(session, b_light, "supplyLoss", now)
        with write_session(engine) as session:
            raise_alarm(session, a_light, "supplyLoss", now)

    async def subscriber(
        base: str,
        token: str,
        headers: dict[str, str],
        got: list[dict[str, Any]],
        ready: asyncio.Event,
        wanted: str,
    ) -> None:
        async with (
            httpx.AsyncClient(
                base_url=base, cookies={auth.SESSION_COOKIE: token}, timeout=httpx.Timeout(30.0)
            ) as http,
            http.stream(
                "GET", "/staff/ops/stream", headers={"accept": "text/event-stream", **headers}
            ) as response,
        ):
            assert response.status_code == 200, response.status_code
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    ready.set()
                    continue
                if line == "":
                    if "data" in fields:
                        event = json.loads(fields["data"])
                        got.append(event)
                        if event["payload"].get("device_id") == wanted:
                            return
                    fields.clear()
                    continue
                name, _, value = line.partition(":")
                fields[name] = fields.get(name, "") + value.removeprefix(" ")

    async def scenario(base: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        got_a: list[dict[str, Any]] = []
        got_b: list[dict[str, Any]] = []
        ready_a, ready_b = asyncio.Event(), asyncio.Event()
        tasks = [
            asyncio.create_task(
                subscriber(base, _token(both["a_staff"]), {}, got_a, ready_a, a_light)
            ),
            asyncio.create_task(
                subscriber(
                    base, _token(both["b_staff"]), {"host": ESCH["host"]}, got_b, ready_b, b_light
                )
            ),
        ]
        await asyncio.wait_for(asyncio.gather(ready_a.wait(), ready_b.wait()), 10)
        await asyncio.to_thread(raise_both)
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        return got_a, got_b

    with LiveServer(app) as server:
        got_a, got_b = run_async(scenario(server.url), timeout=30)
    assert [e["payload"]["device_id"] for e in got_a] == [a_light], got_a
    assert got_a[0]["territory_id"] == 1 and got_a[0]["layer"] == "alarms"
    assert [e["payload"]["device_id"] for e in got_b] == [b_light], got_b
    assert got_b[0]["territory_id"] == both["minett"]
    assert not _leaks(json.dumps(got_a))
