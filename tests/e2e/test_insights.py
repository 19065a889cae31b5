"""Browser checks of decision support at desk size (1440×900) and the monthly summary's print preview;
screenshots in /tmp/shots/insights-*.png."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app import months
from app.db import utcnow
from tests.e2e.conftest import sign_in
from tests.insights_seed import seed

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

SHOTS = Path("/tmp/shots")
DESK = {"width": 1440, "height": 900}

pytestmark = pytest.mark.e2e


def test_staff_read_the_themes_the_flow_map_and_print_the_monthly_summary(
    live_server, browser, engine, staff
):
    seed(engine, years=2)
    month = months.shift(months.of(utcnow(), PARIS), -1)
    context = browser.new_context(viewport=DESK, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    # JavaScript errors of the page (map tiles cannot load offline: the console says so, not an error here)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(context, live_server, staff)
    SHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(live_server.url + "/staff/insights")
    assert page.get_by_role("heading", name=f"Aide à la décision : {month}").is_visible()
    assert page.locator("article.insight").count() >= 7
    page.screenshot(path=str(SHOTS / "insights-index.png"), full_page=True)

    page.get_by_role("link", name="Mobilité").first.click()
    page.wait_for_selector("#od-map .leaflet-interactive")
    assert page.locator("#od-map path.od-line").count() >= 1  # flows of 11 trips or more, drawn
    assert page.get_by_text("Luxembourg").first.is_visible()
    page.screenshot(path=str(SHOTS / "insights-mobility.png"), full_page=True)

    page.goto(live_server.url + f"/staff/insights/energy?month={month}")
    assert page.get_by_text("0,052 kg CO₂e par kWh").is_visible()
    page.screenshot(path=str(SHOTS / "insights-energy.png"), full_page=True)

    page.goto(live_server.url + f"/staff/insights/summary?month={month}")
    assert page.locator(".staff-nav").is_visible()
    page.emulate_media(media="print")
    assert not page.locator(
        ".staff-nav"
    ).is_visible()  # the print stylesheet keeps the figures only
    assert not page.locator(".month-nav").is_visible()
    assert page.locator(".summary-theme").count() >= 7
    page.screenshot(path=str(SHOTS / "insights-summary-print.png"), full_page=True)
    page.pdf(path=str(SHOTS / "insights-summary-print.pdf"), format="A4")
    assert not errors, errors
    context.close()


def test_staff_import_a_measured_baseline_and_an_elected_official_reads_the_saving(
    live_server, browser, engine, staff, personas, tmp_path
):
    """Staff upload the readings of the years before the renovation (CSV, through the page's form);
    an elected official reads the saving against them at desk and phone size and cannot import."""
    from sqlalchemy import update

    from app.db import write_session
    from app.models.lighting import LightCabinet, LightGroup

    seed(engine, years=2)
    month = months.shift(months.of(utcnow(), PARIS), -1)
    baselines = {"ARM-1": 40_000, "ARM-2": 30_000, "ARM-3": 70_000, "ARM-4": 25_000}
    with write_session(engine) as s:
        for n, code in enumerate(baselines):
            s.add(LightCabinet(id=code, name=f"Armoire {n + 1}", commune_insee="54580"))
        s.flush()
        for n, code in enumerate(baselines):
            ids = [f"G-{i}" for i in range(n * 20, n * 20 + 20)]
            s.execute(update(LightGroup).where(LightGroup.id.in_(ids)).values(cabinet_id=code))
    readings = tmp_path / "releves.csv"
    readings.write_text(
        "armoire;mois;kwh;euros\n"
        + "".join(
            f"{code};{months.shift(month, -back)};{kwh};{kwh * 0.16:.2f}\n"
            for code, kwh in baselines.items()
            for back in (12, 24)
        ),
        encoding="utf-8",
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    desk = browser.new_context(viewport=DESK, locale="fr-FR")
    page = desk.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(desk, live_server, staff)
    page.goto(live_server.url + f"/staff/insights/energy/baseline?month={month}")
    page.set_input_files("#file", str(readings))
    page.get_by_role("button", name="Importer").click()
    page.wait_for_selector("text=8 relevés importés.")
    desk.close()

    elected = personas["elected"]
    for name, viewport, extra in (
        ("desk", DESK, {}),
        ("phone", {"width": 390, "height": 844}, {"is_mobile": True, "has_touch": True}),
    ):
        context = browser.new_context(viewport=viewport, locale="fr-FR", **extra)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(context, live_server, elected)
        page.goto(live_server.url + "/")
        page.get_by_role("link", name="Aide à la décision").first.click()
        page.wait_for_url("**/staff/insights")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name}: the index is {width}px wide"
        page.screenshot(path=str(SHOTS / f"insights-index-elected-{name}.png"), full_page=True)
        page.get_by_role("link", name="Éclairage et énergie").first.click()
        page.wait_for_url("**/staff/insights/energy?month=*")
        page.get_by_role("link", name="Économies mesurées par armoire et commune").click()
        page.wait_for_url("**/staff/insights/energy/baseline?month=*")
        assert page.get_by_role(
            "heading", name=f"Économies d'énergie mesurées : {month}"
        ).is_visible()
        assert page.locator(".saving-target").count() >= 2  # the 70 % line on every bar
        assert page.get_by_text("Les armoires qui retiennent l'objectif").is_visible()
        assert page.get_by_text("Importer des relevés de référence").count() == 0
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name}: the page is {width}px wide"
        page.screenshot(path=str(SHOTS / f"insights-baseline-{name}.png"), full_page=True)
        context.close()
    assert not errors, errors
