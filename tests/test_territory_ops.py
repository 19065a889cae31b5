"""The operations centre on an install of several territories: the map opens on the host's
territory, its KPIs list the territory's communes only, and the side panels and histories of
another territory's communes, lights, cabinets, alarms and sensors are not found on this host.

The layers themselves (``/staff/ops/layers/...``, their tiles) and the event stream are swept in
tests/test_territory_ops_layers.py (``SWEPT_THERE``); this sweep fails for any other route it has
no sample for."""

from __future__ import annotations

from typing import Any

import pytest

from app.db import read_session
from app.models.lighting import LightAlarm
from tests.territory_sweep import get_paths
from tests.test_territories import ESCH
from tests.test_territory_lighting import B_LIGHTS, lit  # noqa: F401 (fixture)

SWEPT_THERE = {
    "/staff/ops/layers/{file:str}",
    "/staff/ops/layers/{name:str}/{z:int}/{x:int}/{file:str}",
    "/staff/ops/stream",
}


def _domain_routes(app: Any) -> list[str]:
    return get_paths(app, "/staff/ops")


@pytest.fixture
def b_alarm(engine, lit) -> int:  # noqa: F811
    with read_session(engine) as session:
        alarm = session.get(LightAlarm, lit["alarm_id"])
        assert alarm is not None and alarm.territory_id == lit["minett"]
        return int(alarm.id or 0)


def _samples(path: str, lit: dict[str, Any], b_alarm: int) -> tuple[list[str], list[str]]:  # noqa: F811
    """(URLs that answer with A's objects, URLs naming B's that must not be found)."""
    a_light, b_light = lit["a_lights"][0], B_LIGHTS[0]
    if path in SWEPT_THERE:
        return [], []
    if "{" not in path:
        if path.startswith("/staff/ops/history"):
            return [f"{path}?id=urn:ngsi-ld:Streetlight:{a_light}"], [
                f"{path}?id=urn:ngsi-ld:Streetlight:{b_light}",
                f"{path}?id=urn:ngsi-ld:StreetlightGroup:ESCH-G",
            ]
        return [path], []
    if path == "/staff/ops/panel/{layer:str}/{feature_id:str}":
        prefix = "/staff/ops/panel/"
        return [
            f"{prefix}lights/{a_light}",
            f"{prefix}cabinets/CAB-T",
            f"{prefix}alarms/{lit['a_alarm']}",
            f"{prefix}communes/57038",
        ], [
            f"{prefix}lights/{b_light}",
            f"{prefix}cabinets/CAB-ESCH",
            f"{prefix}alarms/{b_alarm}",
            f"{prefix}communes/L0204",
        ]
    raise AssertionError(f"{path}: an operations-centre route this sweep has no sample for")


def _leaks(text: str) -> list[str]:
    marks = ("ESCH-G", "CAB-ESCH", "SL-ESCH-", "Esch-sur-Alzette", "L0204", "Groupe-secret")
    return [m for m in marks if m in text]


def test_staff_of_one_territory_find_nothing_of_the_other_in_the_centres_kpis_panels_and_histories(
    app,
    lit,  # noqa: F811
    b_alarm,
    personas,
):
    staff = personas["staff"]
    paths = _domain_routes(app)
    assert "/staff/ops/kpis.json" in paths and len(paths) >= 8
    read = refused = 0
    for path in paths:
        ok, gone = _samples(path, lit, b_alarm)
        for url in ok:
            answer = staff.client.get(url)
            assert answer.status_code == 200, (url, answer.status_code)
            assert not _leaks(answer.text), (url, _leaks(answer.text))
            read += 1
        for url in gone:
            answer = staff.client.get(url)
            assert answer.status_code in (400, 404), (url, answer.status_code)
            assert not _leaks(answer.text.replace(url, "")), url
            refused += 1
    assert read >= 8 and refused >= 7
    kpis = staff.client.get("/staff/ops/kpis.json").json()
    assert "57038" in kpis["communes"] and "L0204" not in kpis["communes"]


def test_the_minetts_centre_opens_on_the_minett_with_its_own_communes_and_objects(
    lit,  # noqa: F811
    personas,
):
    from app.db import write_session
    from app.models.accounts import User

    persona = personas["elected"]
    engine = persona.client.app.state.engine
    with write_session(engine) as session:
        user = session.get(User, persona.id)
        assert user is not None
        user.role, user.territory_id = "staff", lit["minett"]
    client = persona.client
    kpis = client.get("/staff/ops/kpis.json", headers=ESCH).json()
    assert set(kpis["communes"]) == {"L0204", "L0206", "L0212"}
    with read_session(engine) as session:
        from app.models.territory import Territory

        minett = session.get(Territory, lit["minett"])
        assert minett is not None
        centre = f"[{minett.lat}, {minett.lon}]"
    assert centre in client.get("/staff/ops", headers=ESCH).text  # the map opens on the Minett
    assert centre not in personas["staff"].client.get("/staff/ops").text
    assert client.get(f"/staff/ops/panel/lights/{B_LIGHTS[0]}", headers=ESCH).status_code == 200
    assert (
        client.get(f"/staff/ops/panel/lights/{lit['a_lights'][0]}", headers=ESCH).status_code == 404
    )
    assert client.get("/staff/ops/panel/communes/57038", headers=ESCH).status_code == 404
