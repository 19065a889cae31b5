"""Reporting a dump site on a phone, online and with the network cut, in Chromium."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlmodel import Session

from app.models.reports import Report
from app.reports import catalogue, demo
from tests.e2e.conftest import PHONE, sign_in

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")
LAT, LON = 49.4721, 5.9552


def photo_bytes() -> bytes:
    image = Image.new("RGB", (800, 600), (96, 128, 70))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 800, 200), fill=(150, 190, 230))
    for x in range(100, 700, 120):
        draw.ellipse((x, 350, x + 100, 470), fill=(20, 20, 24))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


class Console:
    """Console errors of a page, except failed map tile loads (no network to the tile server in tests)."""

    def __init__(self, page: Any, tile_url: str) -> None:
        self.errors: list[str] = []
        self.tile_host = tile_url.split("/")[2].replace("{s}.", "")
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if self.tile_host in url and message.text.startswith("Failed to load resource"):
            return
        self.errors.append(f"{message.text} ({url})")


def count_reports(engine: Any) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(Report)) or 0


def fill_form(page: Any) -> None:
    page.set_input_files(
        "#photos",
        files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes()}],
    )
    page.wait_for_selector("#photo-previews img")
    page.click("label.category-option:has(input[value=bulky_items])")
    page.fill("#description", "Un canapé et deux matelas au bout du chemin.")


def test_a_resident_reports_a_dump_with_a_photo_and_a_place_and_sees_it_in_my_reports(
    live_server: Any, phone: Any, resident: Any, engine: Any, settings: Any
) -> None:
    context, page, _log = phone
    console = Console(page, settings.tile_url)
    sign_in(context, live_server, resident)
    context.grant_permissions(["geolocation"], origin=live_server.url)
    context.set_geolocation({"latitude": LAT, "longitude": LON})
    page.goto(live_server.url + "/reports/new")
    fill_form(page)
    page.click("#use-position")
    expect(page.locator("#lat")).not_to_have_value("")
    assert abs(float(page.input_value("#lat")) - LAT) < 1e-5
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "reports-form.png"), full_page=True)
    page.click("#report-submit")
    page.wait_for_url("**/reports/*?sent=1")
    assert "est bien reçu" in page.content()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "reports-detail.png"), full_page=True)
    page.goto(live_server.url + "/reports/mine")
    with Session(engine) as s:
        report = s.scalars(select(Report)).one()
    assert page.locator("#my-reports li").count() == 1
    assert catalogue.number(report) in page.inner_text("#my-reports")
    assert report.reporter_id == resident.id and abs(report.lat - LAT) < 1e-5
    page.screenshot(path=str(SHOTS / "reports-mine.png"), full_page=True)
    assert console.errors == []


def test_a_report_made_without_network_is_sent_exactly_once_when_the_network_is_back(
    live_server: Any, phone: Any, resident: Any, engine: Any, settings: Any
) -> None:
    context, page, _log = phone
    console = Console(page, settings.tile_url)
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/reports/new")
    page.wait_for_load_state("networkidle")
    context.set_offline(True)
    fill_form(page)
    page.fill("#lat", str(LAT))
    page.fill("#lon", str(LON))
    page.click("#report-submit")
    expect(page.locator("#queue-status")).to_contain_text("Pas de réseau")
    page.screenshot(path=str(SHOTS / "reports-offline.png"), full_page=True)
    assert count_reports(engine) == 0
    context.set_offline(False)
    expect(page.locator("#queue-status")).to_contain_text("est envoyé", timeout=15000)
    # Back online twice more (a flaky network) and a reload: the outbox is empty, nothing is sent again.
    page.evaluate(
        "() => { window.dispatchEvent(new Event('online')); window.dispatchEvent(new Event('online')); }"
    )
    page.reload()
    page.wait_for_load_state("networkidle")
    assert count_reports(engine) == 1
    assert (
        page.evaluate("""() => new Promise((resolve) => {
        const req = indexedDB.open('eclor-reports');
        req.onsuccess = () => { const all = req.result.transaction('outbox').objectStore('outbox').getAll();
                                all.onsuccess = () => resolve(all.result.length); };
    })""")
        == 0
    )
    page.goto(live_server.url + "/reports/mine")
    assert page.locator("#my-reports li").count() == 1
    assert console.errors == []


def test_staff_see_the_board_at_phone_size(
    live_server: Any, phone: Any, staff: Any, engine: Any, settings: Any
) -> None:
    from app.db import write_session
    from app.demo import load_users

    with write_session(engine) as s:
        load_users(s, random.Random(1))
    with write_session(engine) as s:
        demo.load_demo(s, random.Random(2), settings.resolved_media_dir)
    context, page, _log = phone
    console = Console(page, settings.tile_url)
    sign_in(context, live_server, staff)
    page.goto(live_server.url + "/staff/reports")
    page.wait_for_load_state("networkidle")
    assert page.locator(".staff-table tbody tr").count() == len(demo.DEMO_REPORTS)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / "reports-staff-board.png"))
    page.locator(".staff-table").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "reports-staff-board-list.png"))
    page.locator(".staff-row-link").first.click()
    page.wait_for_url("**/staff/reports/*")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "reports-staff-detail.png"))
    page.goto(live_server.url + "/reports")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "reports-list.png"))
    # Filtering swaps the results in place (htmx) and draws their map again.
    page.select_option("select[name=category]", "tyres")
    page.wait_for_url("**/reports?*category=tyres*")
    expect(page.locator("#results .report-item")).to_have_count(
        sum(1 for r in demo.DEMO_REPORTS if r[0] == "tyres" and r[4] != "hidden")
    )
    expect(page.locator("#results .leaflet-container")).to_have_count(1)
    assert console.errors == []


def test_the_plain_form_works_without_javascript(
    live_server: Any, browser: Any, resident: Any, engine: Any
) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="fr-FR")
    try:
        page = context.new_page()
        sign_in(context, live_server, resident)
        page.goto(live_server.url + "/reports/new")
        assert page.locator("#report-map").is_hidden()  # no script, no map: the fields do the job
        page.set_input_files(
            "#photos",
            files=[{"name": "IMG_2042.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes()}],
        )
        page.select_option("#commune", "57529")
        page.check("input[name=category][value=tyres]")
        page.click("#report-submit")
        page.wait_for_url("**/reports/*?sent=1")
        assert "Ottange" in page.content()
        assert count_reports(engine) == 1
    finally:
        context.close()
