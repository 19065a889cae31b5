"""Sensors on an install of several territories: a sensor belongs to its commune's territory, and
every sensors page (waste centre, traffic and air, counting register, buildings' meters, solar
sites, their forms) on one territory's host shows that territory's sensors only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app.db import read_session, utcnow, write_session
from app.models.measures import MeasureDaily
from app.models.sensors import Sensor
from tests.test_territories import ESCH, add_minett

SECRET = "Capteur-secret-du-Minett"
KINDS = ("waste_centre", "traffic", "air_quality", "counter", "solar", "energy_meter")


@pytest.fixture
def sensed(engine) -> dict[str, Any]:
    """A sensor of each kind in each territory (the Minett's named with its secret mark)."""
    minett = int(add_minett(engine).id or 0)
    with write_session(engine) as session:
        for kind in KINDS:
            for prefix, name, commune, territory, lat, lon in (
                ("AUD", f"Audun {kind}", "57038", 1, 49.472, 5.955),
                ("ESCH", f"{SECRET} {kind}", "L0204", minett, 49.495, 5.98),
            ):
                meta: dict[str, Any] = {}
                if kind == "solar":
                    meta = {"peak_kw": 9.0}
                if kind == "energy_meter":
                    meta = {"medium": "electricity", "area_m2": 500}
                session.add(
                    Sensor(
                        id=f"{prefix}-{kind}",
                        kind=kind,
                        name=name,
                        commune_insee=commune,
                        territory_id=territory,
                        lat=lat,
                        lon=lon,
                        meta=json.dumps(meta),
                        last_values=json.dumps({"occupancy": 0.1}),
                        last_seen_at=utcnow(),
                    )
                )
    return {"minett": minett}


def _domain_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route in the app's route table whose handler is one of the sensors
    domain's (app.routes.sensors)."""
    from app.routes import sensors

    names = {handler.name for handler in sensors.ROUTES}
    out = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.name not in names:
                continue
            for method in handler.http_methods or ():
                if method in ("GET", "POST"):
                    out.append((method, route.path))
    return sorted(set(out))


FORMS = {
    "/waste-centre/watch": {"threshold": "5"},
    "/staff/solar/target": {
        "year": "2026",
        "production_mwh": "10",
        "purchase_eur_kwh": "0,2",
        "sale_eur_kwh": "0,1",
    },
}


def test_staff_of_one_territory_sweeping_every_sensors_route_find_nothing_of_the_other(
    app, engine, sensed, personas
):
    staff = personas["staff"]
    routes = _domain_routes(app)
    gets = [p for m, p in routes if m == "GET"]
    posts = [p for m, p in routes if m == "POST"]
    assert "/staff/solar" in gets and "/counting" in gets and len(gets) >= 5
    for path in gets:
        if re.search(r"\{\w+:\w+\}", path):
            raise AssertionError(
                f"{path}: a sensors route with parameters this sweep has no sample for"
            )
        answer = staff.client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        assert SECRET not in answer.text, path
        assert f"Audun {'counter'}" in staff.client.get("/counting").text
    # The meter import cannot record readings of the Minett's meter.
    answer = staff.client.post(
        "/staff/buildings/import",
        data={"_csrf_token": staff.client.csrf_token()},
        files=[("file", ("r.csv", b"ESCH-energy_meter;2026-11-01;100\n", "text/csv"))],
    )
    assert answer.status_code == 400
    with read_session(engine) as session:
        kept = session.scalar(
            select(func.count())
            .select_from(MeasureDaily)
            .where(col(MeasureDaily.entity).like("%ESCH%"))
        )
        assert not kept
    for path in posts:
        if path == "/staff/buildings/import":
            continue
        if path not in FORMS:
            raise AssertionError(f"{path}: a sensors form this sweep has no sample for")
        answer = staff.client.post_form(path, FORMS[path])
        assert answer.status_code < 500, path
        assert SECRET not in answer.text, path


def test_each_host_shows_its_own_territorys_sensors(client, sensed, personas):
    for path in ("/waste-centre", "/traffic", "/counting"):
        theirs = client.get(path, headers=ESCH).text
        ours = client.get(path).text
        assert SECRET in theirs and "Audun" not in theirs, path
        assert SECRET not in ours and "Audun" in ours, path
