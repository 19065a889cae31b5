"""A big layer drawn from its tiles: features where a tile holds few, server-side clusters where many.

``app.ops.tiles`` keeps, for a layer kept by ids (lights, reports), the count of features of every
cell of the Web Mercator grid; ``GET /staff/ops/layers/{name}/{z}/{x}/{y}.geojson`` answers with
the features themselves or with one cluster per cell of level z + 2.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from app.db import utcnow
from app.lighting.relay import Inbound, ingest
from app.ops import layercache
from app.ops.tiles import DETAIL, tile_bounds, tile_xy
from tests.ops_seed import seed_fleet, seed_territory


def _lights(staff) -> dict[str, tuple[float, float, str]]:
    """Every light's position and state, as the whole layer gives them."""
    body = staff.client.get("/staff/ops/layers/lights.geojson").json()
    return {
        f["id"]: (*f["geometry"]["coordinates"], f["properties"]["state"]) for f in body["features"]
    }


def _in_tile(lon: float, lat: float, z: int, x: int, y: int) -> bool:
    tx, ty = tile_xy(lon, lat, z)
    return int(tx) == x and int(ty) == y


def _tile(staff, z: int, x: int, y: int) -> dict:
    response = staff.client.get(f"/staff/ops/layers/lights/{z}/{x}/{y}.geojson")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


def test_a_tile_gives_clusters_where_many_and_every_light_once(engine, staff, settings):
    seed_territory(engine, staff.id)
    seed_fleet(engine, 600)
    settings.ops_tile_features = 40
    lights = _lights(staff)
    z = 12
    tiles = {tuple(int(v) for v in tile_xy(lon, lat, z)) for lon, lat, _s in lights.values()}
    seen: Counter[str] = Counter()
    clusters = 0
    for x, y in sorted(tiles):
        body = _tile(staff, z, x, y)
        assert body["type"] == "FeatureCollection"
        inside = {i for i, (lon, lat, _s) in lights.items() if _in_tile(lon, lat, z, x, y)}
        counted = 0
        for feature in body["features"]:
            props = feature["properties"]
            for key in ("kind", "state", "label", "url"):
                assert isinstance(props[key], str) and props[key], (key, props)
            lon, lat = feature["geometry"]["coordinates"]
            if props["kind"] != "cluster":
                assert feature["id"] in inside and props["device_id"] == feature["id"]
                seen[feature["id"]] += 1
                counted += 1
                continue
            clusters += 1
            west, south, east, north = props["bbox"]
            assert west <= lon <= east and south <= lat <= north, "the mean lies in its cell"
            members = {
                i for i in inside if west <= lights[i][0] < east and south < lights[i][1] <= north
            }
            assert props["count"] == len(members) > 1
            assert props["states"] == dict(Counter(lights[i][2] for i in members))
            assert props["state"] == max(props["states"], key=props["states"].get)
            assert props["url"].startswith("/staff/ops/layers/lights/14/")
            counted += props["count"]
        assert counted == len(inside), (x, y)
    assert clusters > 0, "600 lights with 40 features a tile at most: clustered"
    assert all(n == 1 for n in seen.values())


def test_a_tile_with_few_lights_or_from_the_detail_zoom_gives_the_lights_themselves(
    engine, staff, settings
):
    seed_territory(engine, staff.id)
    seed_fleet(engine, 600)
    settings.ops_tile_features = 40
    lights = _lights(staff)
    lon, lat, _s = lights["SL-F-00000"]
    for z in (DETAIL, 19):
        x, y = (int(v) for v in tile_xy(lon, lat, z))
        body = _tile(staff, z, x, y)
        ids = {f["id"] for f in body["features"]}
        assert all(f["properties"]["kind"] == "light" for f in body["features"])
        expected = {i for i, (o, a, _s) in lights.items() if _in_tile(o, a, z, x, y)}
        assert ids == expected and "SL-F-00000" in ids
        west, south, east, north = tile_bounds(z, x, y)
        assert west <= lon < east and south < lat <= north
    # the same lights as the whole layer: the same text
    whole = {
        f["id"]: f for f in staff.client.get("/staff/ops/layers/lights.geojson").json()["features"]
    }
    assert all(whole[f["id"]] == f for f in body["features"])
    # a tile where no light is
    assert _tile(staff, 12, 0, 0)["features"] == []


def test_a_light_that_changes_moves_the_counts_of_its_cluster_without_rebuilding_the_layer(
    engine, staff, settings, monkeypatch
):
    monkeypatch.setattr(layercache, "TILE_RECHECK", 0.0)  # every tile reads the version
    seed_territory(engine, staff.id)
    ids = seed_fleet(engine, 600)
    settings.ops_tile_features = 40
    lights = _lights(staff)
    light = next(i for i in ids if lights[i][2] == "on")
    lon, lat, _s = lights[light]
    x, y = (int(v) for v in tile_xy(lon, lat, 12))

    def cluster_of_light() -> dict:
        for feature in _tile(staff, 12, x, y)["features"]:
            p = feature["properties"]
            if p["kind"] == "cluster":
                west, south, east, north = p["bbox"]
                if west <= lon < east and south < lat <= north:
                    return p
        raise AssertionError("the light is in a cluster")

    before = cluster_of_light()
    cache = layercache.for_app(staff.client.app.state)
    whole = cache.whole
    at = utcnow() + dt.timedelta(seconds=1)
    ingest(
        engine,
        [Inbound("tele_light", light, {"ts": at.isoformat(), "level": 0, "status": "ok"}, at)],
    )
    after = cluster_of_light()
    assert after["count"] == before["count"]
    assert after["states"].get("on", 0) == before["states"]["on"] - 1
    assert after["states"].get("off", 0) == before["states"].get("off", 0) + 1
    assert cache.whole == whole, "the change was applied by id"


def test_big_layers_offer_their_tiles_above_the_setting_and_a_bad_tile_is_refused(
    engine, staff, settings
):
    seed_territory(engine, staff.id)
    seed_fleet(engine, 60)

    def tiled() -> dict:
        layers = staff.client.get("/staff/ops/layers.json").json()["layers"]
        return {m["name"]: m for m in layers if "tiles" in m}

    assert tiled() == {}, "65 lights: sent whole"
    settings.ops_tiles_above = 50
    meta = tiled()
    assert set(meta) == {"lights"}
    assert meta["lights"]["count"] == 65
    assert meta["lights"]["tiles"] == "/staff/ops/layers/lights/{z}/{x}/{y}.geojson"
    assert "/staff/ops/layers/lights/{z}/{x}/{y}.geojson" in staff.client.get("/staff/ops").text
    for url, message in (
        ("/staff/ops/layers/lights/12/4096/1398.geojson", "Tuile hors de la carte."),
        ("/staff/ops/layers/lights/23/0/0.geojson", "Tuile hors de la carte."),
        ("/staff/ops/layers/lights/12/2115/abc.geojson", "Tuile inconnue."),
        ("/staff/ops/layers/lights/12/2115/1398.png", "Tuile inconnue."),
        ("/staff/ops/layers/cabinets/12/2115/1398.geojson", "Tuile inconnue."),
        ("/staff/ops/layers/nope/12/2115/1398.geojson", "Couche inconnue."),
    ):
        response = staff.client.get(url)
        assert response.status_code == 404, url
        assert message in response.text, (url, response.text)


def test_the_tiles_of_one_view_read_the_layer_version_once(engine, staff, settings):
    """A view's tiles come as a burst: within ``TILE_RECHECK`` of the first, the others read no
    version again (no statement on the events or the lights, only the request's own session)."""
    from sqlalchemy import event

    seed_territory(engine, staff.id)
    seed_fleet(engine, 200)
    settings.ops_tile_features = 40
    _tile(staff, 12, 2115, 1398)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        _tile(staff, 12, 2116, 1398)
        _tile(staff, 12, 2115, 1399)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert not [s for s in statements if "events" in s or "streetlights" in s], statements
