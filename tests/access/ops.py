"""Access rules of the operations centre: staff only; residents and anonymous visitors get nothing."""

from __future__ import annotations

from typing import Any

from app import timeseries
from app.db import utcnow, write_session
from tests.access import AccessContext, Row, roles_only, same_for_all
from tests.lighting_helpers import seed_lights

LIGHT = "urn:ngsi-ld:Streetlight:SL-T-0001"

STAFF = ("staff", "admin")


def staff_only(status: int | tuple[int, ...] = 200) -> dict[str, int | tuple[int, ...]]:
    return roles_only(STAFF, status)


def history(ctx: AccessContext) -> dict[str, Any]:
    """A light of the first territory (an entity's history is its territory's) and a sample of it."""
    from app.models.lighting import Streetlight

    with write_session(ctx.engine) as session:
        seeded = session.get(Streetlight, LIGHT.rsplit(":", 1)[1]) is not None
    if not seeded:
        seed_lights(ctx.engine, 2)
    with write_session(ctx.engine) as session:
        timeseries.record(session, [timeseries.Sample(LIGHT, "illuminanceLevel", utcnow(), 0.5)])
    return {}


def fleet(ctx: AccessContext) -> dict[str, Any]:
    return {"light_id": seed_lights(ctx.engine, 2)[0]}


H = "?id=" + LIGHT + "&range=day"
API = (303, 401)

ROWS = [
    Row("GET", "/staff/ops", staff_only(), setup=fleet),
    Row(
        "GET",
        "/staff/ops/layers/lights.geojson",
        roles_only(STAFF, 200, anonymous=API),
        setup=fleet,
        route="/staff/ops/layers/{file:str}",
    ),
    Row(
        "GET",
        "/staff/ops/layers/lights/12/2115/1398.geojson",
        roles_only(STAFF, 200, anonymous=API),
        setup=fleet,
        route="/staff/ops/layers/{name:str}/{z:int}/{x:int}/{file:str}",
    ),
    Row("GET", "/staff/ops/layers.json", roles_only(STAFF, 200, anonymous=API)),
    Row("GET", "/staff/ops/kpis.json", roles_only(STAFF, 200, anonymous=API), setup=fleet),
    Row(
        "GET",
        "/staff/ops/panel/lights/{light_id}",
        staff_only(),
        setup=fleet,
        route="/staff/ops/panel/{layer:str}/{feature_id:str}",
    ),
    Row(
        "GET",
        "/staff/ops/history.json" + H,
        roles_only(STAFF, 200, anonymous=401),
        setup=history,
        route="/staff/ops/history.json",
    ),
    Row(
        "GET",
        "/staff/ops/history.csv" + H,
        staff_only(),
        setup=history,
        route="/staff/ops/history.csv",
    ),
    Row(
        "GET",
        "/staff/ops/history.svg" + H,
        staff_only(),
        setup=history,
        route="/staff/ops/history.svg",
    ),
    Row(
        "GET",
        "/ngsi-ld/v1/temporal/entities/" + LIGHT,
        same_for_all(200),
        setup=history,
        route="/ngsi-ld/v1/temporal/entities/{entity_id:str}",
        notes="open data, like the NGSI-LD entities it is the history of",
    ),
    # A staff stream never ends: the row asks with a malformed resume id, which staff get a 400 for.
    Row("GET", "/staff/ops/stream?since=hier", staff_only(400), route="/staff/ops/stream"),
]
