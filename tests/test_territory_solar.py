"""The solar production target per territory: each territory's staff set their own year's target
and prices on ``/staff/solar`` (a bad number is refused in French and nothing changes), each
territory's total is measured against its own target, the default territory keeps the target it
had before targets were per territory, and a territory's bundle carries its targets."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.db import make_engine, read_session, write_session
from app.lighting.relay import Inbound, ingest
from app.migrate import downgrade, upgrade
from app.models.accounts import User
from app.models.sensors import Sensor, SolarTarget
from app.models.territory import Territory
from app.territory_setup import SetupError, export_bundle, import_bundle
from tests.conftest import fresh_database_url
from tests.test_territories import ESCH, add_minett

YEAR = dt.datetime.now(dt.UTC).year


def _site(engine: Any, sensor_id: str, commune: str, territory_id: int, kwh: float) -> None:
    """A solar site that produced ``kwh`` today."""
    with write_session(engine) as session:
        session.add(
            Sensor(
                id=sensor_id,
                kind="solar",
                name=f"Site {sensor_id}",
                commune_insee=commune,
                territory_id=territory_id,
                lat=49.49,
                lon=5.97,
                reporting_period_s=900,
                meta=json.dumps({"peak_kw": 9, "injection": "none"}),
            )
        )
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=1, microsecond=0)
    for at, wh in ((today, 1_000_000), (today + dt.timedelta(seconds=1), 1_000_000 + kwh * 1000)):
        ingest(
            engine,
            [Inbound("tele_sensor", sensor_id, {"ts": at.isoformat(), "energy_wh": wh}, at)],
            now=at,
        )


def _targets(engine: Any) -> list[tuple[Any, ...]]:
    with read_session(engine) as session:
        return [
            (
                t.territory_id,
                t.year,
                t.production_mwh,
                t.capacity_kw,
                t.purchase_eur_kwh,
                t.sale_eur_kwh,
            )
            for t in session.scalars(
                select(SolarTarget).order_by(col(SolarTarget.territory_id), col(SolarTarget.year))
            )
        ]


def _form(production: str, purchase: str = "0,18", sale: str = "0,1") -> dict[str, str]:
    return {
        "year": str(YEAR),
        "production_mwh": production,
        "capacity_kw": "",
        "purchase_eur_kwh": purchase,
        "sale_eur_kwh": sale,
    }


@pytest.fixture
def minett_staff(engine, personas) -> tuple[int, Any]:
    minett = int(add_minett(engine).id or 0)
    b_staff = personas["elected"]
    with write_session(engine) as session:
        user = session.get(User, b_staff.id)
        assert user is not None
        user.role, user.territory_id = "staff", minett
    return minett, b_staff


def test_each_territorys_staff_set_their_own_target_and_each_total_is_measured_against_its_own(
    engine, staff, minett_staff
):
    minett, b_staff = minett_staff
    _site(engine, "PV-AUDUN", "57038", 1, 40)
    _site(engine, "PV-ESCH", "L0204", minett, 100)
    assert staff.client.post_form("/staff/solar/target", _form("0,08")).status_code == 303
    saved = b_staff.client.post_form(
        "/staff/solar/target", _form("0,5", "0,30", "0,05"), headers=ESCH
    )
    assert saved.status_code == 303
    assert _targets(engine) == [
        (1, YEAR, 0.08, None, 0.18, 0.1),
        (minett, YEAR, 0.5, None, 0.30, 0.05),
    ]

    mine = staff.client.get("/staff/solar").text
    assert f"40 kWh produits sur 80 kWh visés en {YEAR}" in mine and "50 %</strong>" in mine
    assert "Objectif du territoire : Pays-Haut" in mine
    theirs = b_staff.client.get("/staff/solar", headers=ESCH).text
    assert f"100 kWh produits sur 500 kWh visés en {YEAR}" in theirs
    assert re.search(r"20 %</strong>", theirs) and "Objectif du territoire : Minett" in theirs
    assert re.search(r'id="solar-saved">30 €<', theirs)  # 100 kWh × its own 0.30 €
    assert "PV-AUDUN" not in theirs and "Prix supposés" not in theirs

    # A bad number on the Minett's host: the form again in French, no target changed.
    before = _targets(engine)
    for bad, message in (
        ("-2", "La production visée est un nombre de MWh positif."),
        ("deux", "Un nombre est attendu."),
        ("1e308", "La production visée est un nombre de MWh positif."),
    ):
        answer = b_staff.client.post_form("/staff/solar/target", _form(bad), headers=ESCH)
        assert answer.status_code == 400 and message in answer.text
        assert f'value="{bad}"' in answer.text
    price = b_staff.client.post_form("/staff/solar/target", _form("1", "12"), headers=ESCH)
    assert price.status_code == 400 and "Un prix par kWh est compris entre 0 et 10 €." in price.text
    assert _targets(engine) == before


def test_a_territorys_solar_targets_travel_in_its_bundle_and_a_bad_one_is_refused(
    engine, tmp_path, minett_staff
):
    minett, _b_staff = minett_staff
    with write_session(engine) as session:
        session.add(
            SolarTarget(
                territory_id=1, year=YEAR, production_mwh=9, purchase_eur_kwh=0.2, sale_eur_kwh=0.04
            )
        )
        for year, mwh, capacity in ((YEAR - 1, 1.5, None), (YEAR, 2.25, 1800.0)):
            session.add(
                SolarTarget(
                    territory_id=minett,
                    year=year,
                    production_mwh=mwh,
                    capacity_kw=capacity,
                    purchase_eur_kwh=0.31,
                    sale_eur_kwh=0.06,
                )
            )
    with read_session(engine) as session:
        bundle = export_bundle(session, "minett")
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        carried = json.loads(z.read("solar_targets.json"))
    assert [(t["year"], t["production_mwh"]) for t in carried] == [(YEAR - 1, 1.5), (YEAR, 2.25)]
    assert "updated_by" not in carried[0] and "territory_id" not in carried[0]

    other = fresh_database_url(tmp_path / "other")
    (tmp_path / "other").mkdir(exist_ok=True)
    upgrade(other)
    fresh = make_engine(other)
    try:
        for bad, message in (
            ({**carried[0], "production_mwh": -1}, "nombre de MWh positif"),
            ({**carried[0], "year": "2026"}, "année"),
            ({**carried[0], "sale_eur_kwh": 40}, "entre 0 et 10 €"),
            ({**carried[0], "capacity_kw": "beaucoup"}, "kWc positif"),
        ):
            out = io.BytesIO()
            with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
                for name in src.namelist():
                    data = src.read(name)
                    if name == "solar_targets.json":
                        data = json.dumps([bad, carried[1]]).encode()
                    dst.writestr(name, data)
            with pytest.raises(SetupError, match=message), write_session(fresh) as session:
                import_bundle(session, out.getvalue())
            with read_session(fresh) as session:
                assert (
                    session.scalars(
                        select(Territory).where(col(Territory.slug) == "minett")
                    ).first()
                    is None
                )
        with write_session(fresh) as session:
            imported = import_bundle(session, bundle).id
        assert [t[1:] for t in _targets(fresh) if t[0] == imported] == [
            t[1:] for t in _targets(engine) if t[0] == minett
        ]
        with read_session(fresh) as session:
            again = export_bundle(session, "minett")
        with zipfile.ZipFile(io.BytesIO(again)) as z:
            assert json.loads(z.read("solar_targets.json")) == carried
    finally:
        fresh.dispose()


def test_the_default_territory_keeps_the_target_it_had_when_targets_became_per_territory(tmp_path):
    url = fresh_database_url(tmp_path)
    upgrade(url, "0040_sensors_territory")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO solar_targets (year, production_mwh, capacity_kw, purchase_eur_kwh, "
                "sale_eur_kwh, updated_at) VALUES (2026, 480.5, 900, 0.21, 0.05, '2026-03-01 10:00:00')"
            )
        )
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            first = session.scalars(select(Territory).order_by(col(Territory.id))).first()
            assert first is not None
            target = session.get(SolarTarget, (first.id, 2026))
            assert target is not None
            assert (target.production_mwh, target.capacity_kw, target.purchase_eur_kwh) == (
                480.5,
                900,
                0.21,
            )
    finally:
        engine.dispose()
    downgrade(url, "0040_sensors_territory")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text("SELECT year, production_mwh FROM solar_targets")).all() == [
                (2026, 480.5)
            ]
    finally:
        engine.dispose()
