"""Decision support on an install of several territories: every figure, chart, baseline, origin–
destination matrix and export a host's staff and elected officials read is computed from their
territory's rows only; an energy baseline belongs to the territory it was imported on."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete
from sqlmodel import Session, col, select

from app import months
from app.db import read_session, utcnow, write_session
from app.insights.figures import THEMES
from app.models.carpool import CarpoolAd, CarpoolBooking
from app.models.insights import InsightsEnergyBaseline, InsightsMonthly, InsightsPopulation
from app.models.lighting import LightCabinet, LightEnergyMonth, LightGroup
from app.models.measures import MeasureDaily
from app.models.reports import Report
from app.models.sensors import Sensor, SensorHourly
from app.ngsi import urn
from app.sensors.ngsi_ld import SENSOR_TYPES
from tests.territory_sweep import domain_routes
from tests.test_insights import ad, booking, user
from tests.test_insights_baseline import fleet, upload
from tests.test_territories import ESCH
from tests.test_territory_reports import add_minett

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

ESCH_CENTRE = (49.4958, 5.9806)
KAYL = (49.4894, 6.0397)
B_CABINET, B_CABINET_NAME, B_GROUP_NAME = "ARM-MINETT", "Armoire de la Lallange", "Rue du Minett"
B_COMMUNES = ("Esch-sur-Alzette", "Rumelange", "L0204", "L0212")
B_CROSSING = "Passage de Lallange"
MARKERS = (B_CABINET, B_CABINET_NAME, B_GROUP_NAME, B_CROSSING, *B_COMMUNES)
DOMAIN = "/staff/insights"


def month_shown() -> str:
    return months.shift(months.of(utcnow(), PARIS), -2)


def seed_minett(engine, minett: int, month: str) -> None:
    """The Minett's own activity in ``month`` and the current month: 15 reports in Esch, a lighting
    cabinet with its energy and baseline, commuters driving from Esch to Kayl, populations."""
    start = months.start(month, PARIS)
    with write_session(engine) as s:
        for when in (start + timedelta(days=3), utcnow() - timedelta(minutes=5)):
            s.add_all(
                Report(
                    category="tyres",
                    lat=ESCH_CENTRE[0],
                    lon=ESCH_CENTRE[1],
                    commune_insee="L0204",
                    status="resolved",
                    created_at=when,
                    updated_at=when,
                    resolved_at=when + timedelta(hours=1),
                )
                for _ in range(15)
            )
        s.add(
            LightCabinet(
                id=B_CABINET, name=B_CABINET_NAME, commune_insee="L0204", territory_id=minett
            )
        )
        s.flush()
        s.add(
            LightGroup(
                id="G-MINETT",
                name=B_GROUP_NAME,
                commune_insee="L0204",
                cabinet_id=B_CABINET,
                territory_id=minett,
            )
        )
        s.flush()
        for m in (month, months.of(utcnow(), PARIS)):
            s.add(LightEnergyMonth(month=m, group_id="G-MINETT", energy_wh=9_000_000.0))
        s.add(
            InsightsEnergyBaseline(
                cabinet_id=B_CABINET,
                month=months.shift(month, -12),
                kwh=30_000.0,
                euros=6_000.0,
                territory_id=minett,
            )
        )
        s.add(InsightsPopulation(insee="L0204", population=36_000, year=2023, source="STATEC"))
        # a waste centre's admissions and a border crossing's vehicles, in Esch
        for sensor_id, kind, name in (
            ("WC-MINETT", "waste_centre", "Recyclingzenter Esch"),
            ("TR-MINETT", "traffic", B_CROSSING),
        ):
            s.add(
                Sensor(
                    id=sensor_id,
                    kind=kind,
                    name=name,
                    commune_insee="L0204",
                    lat=ESCH_CENTRE[0],
                    lon=ESCH_CENTRE[1],
                    territory_id=minett,
                )
            )
        s.flush()
        day = (start + timedelta(days=4)).date()
        s.add_all(
            [
                MeasureDaily(
                    entity=urn(SENSOR_TYPES.get("waste_centre", "Device"), "WC-MINETT"),
                    measure="admissions",
                    day=day,
                    count=600,
                    total=0.0,
                    low=0.0,
                    high=250.0,
                ),
                MeasureDaily(
                    entity=urn(SENSOR_TYPES["traffic"], "TR-MINETT"),
                    measure="intensity",
                    day=day,
                    count=1440,
                    total=1440 * 300.0,
                    low=0.0,
                    high=900.0,
                ),
                SensorHourly(
                    sensor_id="TR-MINETT",
                    hour=start + timedelta(days=4, hours=7),
                    samples=60,
                    sums_json='{"intensity": 18000}',
                ),
            ]
        )
    driver = user(engine, "navetteur@minett.test")
    regular = ad(engine, driver, ESCH_CENTRE, KAYL, territory_id=minett)
    for i in range(3):
        passenger = user(engine, f"passager{i}@minett.test")
        booking(engine, regular, passenger, driver, start - timedelta(days=20), seats=1)


@pytest.fixture
def two(app, engine) -> dict[str, Any]:
    """This territory's fleet and baseline (tests.test_insights_baseline.fleet), the Minett's rows."""
    month = month_shown()
    fleet(engine, month)
    minett = add_minett(engine)
    seed_minett(engine, minett, month)
    return {"minett": minett, "month": month}


def _leaks(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


def _urls(path: str, month: str) -> list[str]:
    params = re.findall(r"\{(\w+):\w+\}", path)
    if not params:
        return [f"{path}?month={month}", path]
    assert params == ["theme"], f"{path}: an insights route whose {params} has no sample"
    return [f"{path.replace('{theme:str}', slug)}?month={month}" for slug, _t, _i in THEMES]


def _baselines(engine) -> list[tuple[Any, ...]]:
    with Session(engine) as s:
        return [
            (b.cabinet_id, b.month, b.kwh, b.euros, b.territory_id)
            for b in s.scalars(
                select(InsightsEnergyBaseline).order_by(
                    col(InsightsEnergyBaseline.cabinet_id), col(InsightsEnergyBaseline.month)
                )
            )
        ]


@pytest.mark.parametrize("who", ["staff", "elected"])
def test_sweeping_every_insights_route_on_one_territorys_host_finds_nothing_of_the_other(
    app, engine, two, personas, who
):
    """As the first territory's staff and its elected official: every page, chart and export."""
    c = personas[who].client
    routes = domain_routes(app, DOMAIN)
    assert ("GET", "/staff/insights/od.json") in routes and len(routes) >= 13
    before = _baselines(engine)
    read = 0
    for method, path in routes:
        if method == "POST":
            assert path == "/staff/insights/energy/baseline", f"{path}: a write with no sample"
            answer = upload(personas[who], f"{B_CABINET};{months.shift(two['month'], -12)};1;1")
            assert answer.status_code == (400 if who == "staff" else 403), answer.status_code
            if who == "staff":
                assert "armoire inconnue" in answer.text
            continue
        for url in _urls(path, two["month"]):
            answer = c.get(url, follow_redirects=False)
            assert answer.status_code == 200, (url, answer.status_code)
            assert not _leaks(answer.text), (url, _leaks(answer.text))
            read += 1
    assert read >= 30
    assert _baselines(engine) == before


def _figures(client, month: str) -> dict[str, Any]:
    """Every figure and export the first territory's staff download, as data."""
    out: dict[str, Any] = {}
    for slug, _t, _i in THEMES:
        for when in (month, months.of(utcnow(), PARIS)):
            out[f"{slug}/{when}"] = client.get(f"{DOMAIN}/{slug}/figures.json?month={when}").json()
            out[f"{slug}/{when}.csv"] = client.get(f"{DOMAIN}/{slug}/figures.csv?month={when}").text
    od = client.get(f"{DOMAIN}/od.json?month={month}").json()
    od.pop("generated_at")
    out["od"] = od
    out["od.csv"] = client.get(f"{DOMAIN}/od.csv?month={month}").text
    out["baseline.csv"] = client.get(f"{DOMAIN}/energy/baseline.csv?month={month}").text
    out["foresight.csv"] = client.get(f"{DOMAIN}/foresight.csv").text
    return out


def test_the_first_territorys_figures_are_the_same_with_or_without_the_other_territorys_rows(
    app, engine, two, staff
):
    with_minett = _figures(staff.client, two["month"])
    with write_session(engine) as s:
        s.execute(delete(CarpoolBooking))
        s.execute(delete(CarpoolAd))
        s.execute(delete(Report).where(col(Report.commune_insee) == "L0204"))
        s.execute(
            delete(InsightsEnergyBaseline).where(
                col(InsightsEnergyBaseline.cabinet_id) == B_CABINET
            )
        )
        s.execute(delete(LightEnergyMonth).where(col(LightEnergyMonth.group_id) == "G-MINETT"))
        s.execute(delete(LightGroup).where(col(LightGroup.id) == "G-MINETT"))
        s.execute(delete(LightCabinet).where(col(LightCabinet.id) == B_CABINET))
        s.execute(delete(InsightsPopulation).where(col(InsightsPopulation.insee) == "L0204"))
        s.execute(delete(SensorHourly).where(col(SensorHourly.sensor_id) == "TR-MINETT"))
        s.execute(delete(MeasureDaily).where(col(MeasureDaily.entity).like("%-MINETT")))
        s.execute(delete(Sensor).where(col(Sensor.id).in_(("WC-MINETT", "TR-MINETT"))))
        s.execute(delete(InsightsMonthly))  # the months kept: computed again
    app.state.insights_od = None  # the matrices kept: built again
    assert _figures(staff.client, two["month"]) == with_minett
    reports = with_minett[f"reports/{two['month']}"]["rows"]
    received = next(r for r in reports if r["figure"] == "reports_received" and not r["commune"])
    assert received["value"] == 0  # the Minett's 15 are not the first territory's


def test_the_minett_host_shows_the_minetts_figures_matrix_and_baseline(engine, two, personas):
    """The same pages on the Minett's host, by a staff member of the Minett."""
    staff_b = personas["staff"]
    with write_session(engine) as s:
        from app.models.accounts import User

        row = s.get(User, staff_b.id)
        assert row is not None
        row.territory_id = two["minett"]
    month = two["month"]
    c = staff_b.client
    reports = c.get(f"{DOMAIN}/reports/figures.json?month={month}", headers=ESCH).json()["rows"]
    received = next(r for r in reports if r["figure"] == "reports_received" and not r["commune"])
    assert received["value"] == 15
    assert {r["commune_insee"] for r in reports if r["commune_insee"]} == {
        "L0204",
        "L0206",
        "L0212",
    }
    energy = c.get(f"{DOMAIN}/energy/baseline.csv?month={month}", headers=ESCH).text
    assert B_CABINET in energy and "ARM-A" not in energy
    page = c.get(f"{DOMAIN}/energy/baseline?month={month}", headers=ESCH)
    assert page.status_code == 200 and B_CABINET_NAME in page.text and "Armoire A" not in page.text
    od = c.get(f"{DOMAIN}/od.json?month={month}", headers=ESCH).json()
    codes = {(r["from_code"], r["to_code"]) for r in od["rows"]}
    assert codes == {("L0204", "L0206")}


def test_a_baseline_imported_on_a_host_belongs_to_its_territory_and_names_its_cabinets_only(
    engine, two, staff
):
    earlier = months.shift(two["month"], -12)
    answer = upload(staff, f"ARM-A;{earlier};1000;200")
    assert answer.status_code == 200 and "armoire inconnue" not in answer.text
    with read_session(engine) as s:
        row = s.get(InsightsEnergyBaseline, ("ARM-A", earlier))
        assert row is not None and row.territory_id == 1
        b_row = s.get(InsightsEnergyBaseline, (B_CABINET, earlier))
        assert b_row is not None and (b_row.kwh, b_row.territory_id) == (30_000.0, two["minett"])
    refused = upload(staff, f"ARM-A;{earlier};1000;200\n{B_CABINET};{earlier};5;1")
    assert refused.status_code == 400 and "armoire inconnue" in refused.text
