"""Staff tables become lists on a phone (390×844): each row a card, each value named by its column,
nothing wider than the screen; at a desk (1440×900) they stay tables. Screenshots in
/tmp/shots/staff-lists-*.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.db import write_session
from app.models.lighting import LightAlarm
from tests.e2e.conftest import sign_in
from tests.lighting_helpers import seed_lights

SHOTS = Path("/tmp/shots")
SIZES = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1440, "height": 900}}
PAGES = ("/staff/lighting", "/staff/lighting/groups/G1", "/staff/lighting/alarms", "/staff/data")

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("size", sorted(SIZES))
def test_staff_tables_are_lists_on_a_phone_and_tables_at_a_desk(
    live_server, browser, engine, staff, size
):
    lights = seed_lights(engine, 6)
    with write_session(engine) as session:
        session.add(LightAlarm(device_id=lights[0], kind="defectiveLamp"))
    context = browser.new_context(viewport=SIZES[size], locale="fr-FR", is_mobile=size == "phone")
    sign_in(context, live_server, staff)
    page = context.new_page()
    SHOTS.mkdir(exist_ok=True)
    for path in PAGES:
        page.goto(live_server.url + path)
        table = page.locator("table.as-list").first
        assert table.count() == 1, path
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= SIZES[size]["width"], (path, width)
        shape = page.evaluate(
            """() => {
              const t = document.querySelector("table.as-list");
              const cell = t.querySelector("td[data-label]");
              return {
                display: getComputedStyle(t).display,
                head: t.querySelector("thead").getBoundingClientRect().height,
                label: cell ? getComputedStyle(cell, "::before").content : null,
                right: Math.max(...[...t.querySelectorAll("td, th")].map(c => c.getBoundingClientRect().right)),
              };
            }"""
        )
        if size == "phone":
            assert shape["display"] == "block" and shape["head"] <= 1, (path, shape)
            assert shape["label"] and shape["label"] not in ("none", "normal"), (path, shape)
            assert shape["right"] <= SIZES[size]["width"], (path, shape)
        else:
            assert shape["display"] == "table" and shape["head"] > 10, (path, shape)
            assert shape["label"] in ("none", "normal"), (path, shape)
        name = path.strip("/").replace("/", "-")
        page.screenshot(path=str(SHOTS / f"staff-lists-{name}-{size}.png"))
    context.close()
