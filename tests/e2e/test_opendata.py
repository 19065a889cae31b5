"""The open data catalogue in a browser, at phone and desk size: preview, map and download."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from app.opendata import snapshots
from tests.e2e.conftest import PHONE
from tests.opendata_helpers import seed

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")
DESK = {"width": 1440, "height": 900}


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["phone", "desk"])
def test_a_reader_browses_the_catalogue_previews_a_dataset_and_downloads_its_csv(
    browser, live_server, engine, settings, viewport
) -> None:
    seed(engine)
    snapshots.generate(engine, settings.var_dir, settings.base_url)
    context = browser.new_context(viewport=viewport, locale="fr-FR", accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/data")
    assert page.get_by_role("heading", name="Données ouvertes", exact=True).is_visible()
    assert page.get_by_role("link", name="Licence Ouverte 2.0 (Etalab)").first.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"opendata-{viewport['width']}.png"), full_page=False)

    page.get_by_role("link", name="Signalements de dépôts sauvages").click()
    page.wait_for_url("**/data/signalements")
    table = page.locator("table.od-table")
    assert table.is_visible() and table.locator("tbody tr").count() == 4
    assert "bulky_items" in table.inner_text()
    assert page.locator("svg.od-map circle.od-map-point").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    page.screenshot(path=str(SHOTS / f"opendata-dataset-{viewport['width']}.png"), full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name="CSV (UTF-8)").click()
    download = info.value
    assert download.suggested_filename == "signalements.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert len(rows) == 4 and {r["categorie"] for r in rows} == {"bulky_items"}
    assert errors == []
    context.close()


def test_the_staff_list_of_datasets_read_in_german_keeps_its_publish_buttons_in_view(
    browser, live_server, engine, settings, staff
) -> None:
    """German titles and freshness notes are longer than French: they wrap, and the column that
    publishes or withdraws a dataset stays inside its table at desk size, not scrolled out of it."""
    from sqlmodel import select

    from app import territories
    from app.db import write_session
    from app.models.territory import Territory
    from tests.e2e.conftest import sign_in

    seed(engine)
    snapshots.generate(engine, settings.var_dir, settings.base_url)
    with write_session(engine) as session:
        first = session.scalars(select(Territory).order_by(Territory.id)).first()
        first.languages = ["fr", "de"]
    territories.changed()
    context = browser.new_context(viewport=DESK, locale="de-DE")
    sign_in(context, live_server, staff)
    page = context.new_page()
    page.goto(f"{live_server.url}/staff/data")
    assert page.get_by_role("heading", name="Offene Daten: Steuerung").is_visible()
    wrap = page.locator(".od-table-wrap").first
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), wrap.evaluate(
        "w => [w.scrollWidth, w.clientWidth]"
    )
    button = page.locator("table.od-table tbody tr").first.locator("button")
    box, frame = button.bounding_box(), wrap.bounding_box()
    assert box["x"] + box["width"] <= frame["x"] + frame["width"]
    context.close()
