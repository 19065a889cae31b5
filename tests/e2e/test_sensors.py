"""The sensors' staff pages in a real browser, at a desk (1440×900) and on a phone (390×844): the
solar production page with its euros, CO₂ and the year's target (a wrong target refused in French,
then a right one drawn as a bar), and the upload of meter readings on the buildings page (a file
with bad lines refused line by line, nothing kept; the corrected file imported and its consumption
shown). Screenshots go to /tmp/shots/sensors-*.png."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import read_session, write_session
from app.lighting.relay import Inbound, ingest
from app.models.sensors import Sensor, SensorMeasure
from tests.e2e.conftest import PHONE, sign_in

SHOTS = Path("/tmp/shots")
DESK = {"width": 1440, "height": 900}
pytestmark = pytest.mark.e2e


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"sensors-{name}.png"), full_page=True)


def _context(browser, size: dict):
    if size == PHONE:
        return browser.new_context(
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="fr-FR"
        )
    return browser.new_context(viewport=size, locale="fr-FR")


def _sites(engine) -> None:
    with write_session(engine) as session:
        for sensor_id, name, peak, mode in (
            ("PV-AUD-MAIRIE", "Toiture de la mairie d'Audun-le-Tiche", 9, "none"),
            ("PV-VIL-GYMNASE", "Gymnase de Villerupt", 36, "surplus"),
        ):
            session.add(
                Sensor(
                    id=sensor_id,
                    kind="solar",
                    name=name,
                    commune_insee="57038",
                    lat=49.472,
                    lon=5.955,
                    meta=json.dumps({"peak_kw": peak, "injection": mode}),
                )
            )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    today = now.replace(hour=0, minute=0, second=1)
    readings = []
    for days_back in range(100, 0, -5):  # a reading every five days: the months' bars
        at = today - dt.timedelta(days=days_back)
        readings.append(("PV-AUD-MAIRIE", at, {"energy_wh": 2_000_000 - days_back * 20_000}))
        readings.append(
            (
                "PV-VIL-GYMNASE",
                at,
                {
                    "energy_wh": 9_000_000 - days_back * 90_000,
                    "injected_wh": 1_000_000 - days_back * 3_000,
                },
            )
        )
    readings.append(("PV-AUD-MAIRIE", today, {"energy_wh": 2_000_000}))
    readings.append(("PV-AUD-MAIRIE", today + dt.timedelta(seconds=1), {"energy_wh": 2_012_000}))
    readings.append(("PV-VIL-GYMNASE", today, {"energy_wh": 9_000_000, "injected_wh": 1_000_000}))
    for sensor_id, at, values in readings:
        ingest(
            engine,
            [Inbound("tele_sensor", sensor_id, {"ts": at.isoformat(), **values}, at)],
            now=at,
        )


@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
def test_staff_read_the_solar_production_and_set_the_years_target(
    live_server, browser, staff, engine, size
):
    _sites(engine)
    context = _context(browser, size)
    try:
        sign_in(context, live_server, staff)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{live_server.url}/staff")
        page.click("a[href='/staff/solar']")
        page.wait_for_url("**/staff/solar")
        assert page.inner_text("h1") == "Production solaire des bâtiments publics"
        assert "Aucun objectif n’est fixé" in page.inner_text("#solar-target")
        assert page.inner_text("#solar-year") != "—"
        assert "Toiture de la mairie" in page.inner_text("#solar-sites")
        assert (
            page.eval_on_selector_all(
                ".month-bars rect",
                "rs => rs.filter(r => r.getBoundingClientRect().height > 5).length",
            )
            >= 3
        )

        page.fill("#production_mwh", "-5")
        page.fill("#purchase_eur_kwh", "0,19")
        with page.expect_navigation():
            page.click("#target button[type=submit]")
        assert "La production visée est un nombre de MWh positif." in page.inner_text(
            "#error-summary"
        )
        assert page.get_attribute("#production_mwh", "aria-invalid") == "true"
        shot(page, f"solar-refused-{size['width']}")

        page.fill("#production_mwh", "12")
        page.fill("#capacity_kw", "120")
        with page.expect_navigation():
            page.click("#target button[type=submit]")
        assert "Objectif et prix de l’année enregistrés." in page.inner_text("main")
        assert "visés en" in page.inner_text("#solar-target")
        bar, whole = page.eval_on_selector(
            ".target-bar",
            "s => [s.querySelector('rect').getBoundingClientRect().width, s.getBoundingClientRect().width]",
        )
        assert 0.88 < bar / whole < 0.95  # 11.0 MWh of 12
        assert "kWc visés" in page.inner_text("#solar-capacity")
        shot(page, f"solar-{size['width']}")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        for table in ("#solar-sites", "#solar-months"):  # nothing hidden in a sideways scroll
            widths = page.eval_on_selector(
                table, "t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], (table, widths)
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("size", [DESK, PHONE], ids=["desk", "phone"])
def test_staff_upload_meter_readings_a_bad_file_is_refused_line_by_line(
    live_server, browser, staff, engine, size, tmp_path
):
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="EAU-AUD-GYMNASE",
                kind="water_meter",
                name="Gymnase d'Audun-le-Tiche - eau",
                commune_insee="57038",
                meta=json.dumps({"building": "Gymnase d'Audun-le-Tiche", "area_m2": 1400}),
            )
        )
    first = (dt.datetime.now(dt.UTC) - dt.timedelta(days=4)).strftime("%d/%m/%Y")
    second = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).strftime("%d/%m/%Y")
    bad = tmp_path / "releves-faux.csv"
    bad.write_text(
        "compteur;date;index\n"
        f"EAU-AUD-GYMNASE;{first} 08:00;125430\n"
        f"EAU-PISCINE;{first} 08:00;5\n"
        f"EAU-AUD-GYMNASE;{second} 08:00;120000\n",
        encoding="utf-8",
    )
    good = tmp_path / "releves.csv"
    good.write_text(
        "compteur;date;index\n"
        f"EAU-AUD-GYMNASE;{first} 08:00;125430\n"
        f"EAU-AUD-GYMNASE;{second} 08:00;139430\n",
        encoding="utf-8",
    )
    context = _context(browser, size)
    try:
        sign_in(context, live_server, staff)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{live_server.url}/staff/buildings")
        page.set_input_files("#file", str(bad))
        with page.expect_navigation():
            page.click("#import button[type=submit]")
        listed = page.inner_text("#import-errors")
        assert "Ligne 3 : compteur inconnu « EAU-PISCINE »." in listed
        assert (  # the time as it was typed, Paris time
            f"Ligne 4 : l'index de EAU-AUD-GYMNASE baisse (120000 après 125430 le {first} 08:00)."
            in listed
        )
        shot(page, f"buildings-refused-{size['width']}")
        with read_session(engine) as session:
            assert session.scalar(select(func.count()).select_from(SensorMeasure)) == 0

        page.set_input_files("#file", str(good))
        with page.expect_navigation():
            page.click("#import button[type=submit]")
        assert "2 relevés importés." in page.inner_text("#import")
        row = page.inner_text("#buildings tbody tr")
        assert "Gymnase d'Audun-le-Tiche" in row and "14" in row and "000 L" in row
        assert "10,00 L/m²" in row
        shot(page, f"buildings-{size['width']}")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        assert errors == []
    finally:
        context.close()
