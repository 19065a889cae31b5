"""Browser checks of the operations centre at 1440×900 and 390×844: every layer on the map, a click
opens the side panel, a group dimmed from the panel shows its new level once the fleet acknowledges it.
Screenshots in /tmp/shots/ops-*.png."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PHONE, sign_in
from tests.lighting_helpers import running_fleet, running_relay
from tests.ops_seed import seed_fleet, seed_territory

SHOTS = Path("/tmp/shots")
DESK = {"width": 1440, "height": 900}
LAYERS = ("reports", "lights", "cabinets", "sensors", "alerts", "alarms", "carpool")

pytestmark = pytest.mark.e2e


@pytest.fixture
def devices(engine: Any, mqtt_url: str, topic_prefix: str, settings: Any) -> Iterator[list[str]]:
    """The relay and a fleet that answers for the seeded lights, on their own event loop."""
    settings.mqtt_prefix = topic_prefix
    lights = [f"SL-T-{i:04d}" for i in range(1, 31)]
    ready, stop = threading.Event(), threading.Event()

    async def run() -> None:
        async with (
            running_relay(engine, mqtt_url, topic_prefix),
            running_fleet(mqtt_url, topic_prefix, lights),
        ):
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.1)

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    assert ready.wait(20), "relay and fleet did not start"
    yield lights
    stop.set()
    thread.join(20)


def _open_map(page: Any, url: str) -> None:
    page.goto(url + "/staff/ops")
    page.wait_for_selector("#ops[data-ready=true]", timeout=20_000)
    counts = page.evaluate("window.eclorOps.counts")
    assert all(counts.get(name, 0) > 0 for name in LAYERS), counts


def _click_feature(page: Any, layer: str, feature_id: str, zoom: int = 18) -> None:
    point = page.evaluate(
        """([layer, id, zoom]) => {
        const ops = window.eclorOps, marker = ops.layers[layer][id];
        const at = marker.getLatLng ? marker.getLatLng() : marker.getBounds().getCenter();
        ops.map.setView(at, zoom, {animate: false});
        const p = ops.map.latLngToContainerPoint(at);
        const box = document.getElementById('ops-map').getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""",
        [layer, feature_id, zoom],
    )
    page.wait_for_timeout(300)
    page.mouse.click(point[0], point[1])


def test_staff_see_every_layer_open_a_light_and_dim_its_group_at_a_desk(
    live_server, browser, engine, staff, devices
):
    seed_territory(engine, staff.id, lights=30)
    context = browser.new_context(viewport=DESK, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(context, live_server, staff)
    _open_map(page, live_server.url)
    assert page.locator(".staff-nav a").count() >= 2 and page.locator(".tabbar").count() == 0
    assert page.locator(".ops-kpi").count() == 8
    page.wait_for_selector("text=● En direct")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "ops-desk.png"))
    _click_feature(page, "lights", "SL-T-0015")
    page.wait_for_selector(".ops-card h2:has-text('SL-T-0015')")
    assert page.locator(".ops-chart").count() == 1
    form = page.locator("form.ops-action", has_text="Abaisser le groupe")
    form.locator("input[name=level]").fill("30")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("text=Commande envoyée aux points lumineux du groupe.")
    page.wait_for_function(
        "() => window.eclorOps.features.lights['SL-T-0015'].properties.level === 30", timeout=15_000
    )
    page.wait_for_function(
        """() => Object.values(window.eclorOps.features.lights)
        .filter(f => f.properties.group === 'G1').every(f => f.properties.level === 30)""",
        timeout=15_000,
    )
    assert (
        page.evaluate("window.eclorOps.features.lights['SL-T-0015'].properties.state") == "dimmed"
    )
    page.screenshot(path=str(SHOTS / "ops-desk-panel.png"))
    assert not errors, errors
    context.close()


def test_the_operations_centre_is_usable_on_a_phone(live_server, phone, engine, staff):
    seeded = seed_territory(engine, staff.id, lights=30)
    context, page, log = phone
    sign_in(context, live_server, staff)
    _open_map(page, live_server.url)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / "ops-phone.png"))
    _click_feature(page, "reports", str(seeded["report_id"]), zoom=16)
    page.wait_for_selector(".ops-card h2:has-text('PHVA')")
    assert page.locator("form.ops-action", has_text="Changer l'état").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / "ops-phone-panel.png"))
    assert not [e for e in log.errors if "Failed to load resource" not in e], log.errors


def _cluster_point(page: Any) -> list[float] | None:
    """The screen position of the biggest cluster drawn, or None."""
    return page.evaluate(
        """() => {
        const ops = window.eclorOps, box = document.getElementById('ops-map').getBoundingClientRect();
        let best = null;
        ops.groups.lights.eachLayer(tile => tile.eachLayer && tile.eachLayer(m => {
            const p = m.feature && m.feature.properties;
            if (p && p.kind === 'cluster' && (!best || p.count > best[0])) {
                best = [p.count, ops.map.latLngToContainerPoint(m.getLatLng())];
            }
        }));
        return best && [box.left + best[1].x, box.top + best[1].y];
    }"""
    )


def test_a_big_fleet_is_drawn_from_tiles_with_clusters_that_open_down_to_each_light(
    live_server, browser, engine, staff, settings
):
    settings.ops_tiles_above = 100  # a fleet of 2,030 lights is drawn from its tiles
    settings.ops_tile_features = 40
    seed_territory(engine, staff.id, lights=30)
    seed_fleet(engine, 2000)
    for viewport, name in ((DESK, "desk"), (PHONE, "phone")):
        context = browser.new_context(viewport=viewport, locale="fr-FR")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(context, live_server, staff)
        _open_map(page, live_server.url)
        assert page.evaluate("window.eclorOps.counts.lights") == 2030
        clusters = page.evaluate(
            "Object.values(window.eclorOps.tiled.lights.clusters).reduce((a, b) => a + b, 0)"
        )
        assert clusters > 0
        assert page.evaluate("Object.keys(window.eclorOps.layers.lights).length") < 2030
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"ops-tiles-{name}.png"))
        zoom = page.evaluate("window.eclorOps.map.getZoom()")
        point = _cluster_point(page)
        assert point is not None
        page.mouse.click(point[0], point[1])
        page.wait_for_function(
            "(zoom) => window.eclorOps.map.getZoom() > zoom", arg=zoom, timeout=10_000
        )
        page.wait_for_timeout(1000)  # the zoom's animation ends
        page.screenshot(path=str(SHOTS / f"ops-tiles-{name}-zoomed.png"))
        # down to a light: its tile gives it, a click opens its panel
        page.evaluate(
            """() => window.eclorOps.map.setView([49.4739, 5.955], 18, {animate: false})"""
        )
        page.wait_for_function(
            """() => { const m = window.eclorOps.layers.lights['SL-T-0020'];
                       return m && window.eclorOps.map.hasLayer(m); }""",
            timeout=15_000,
        )
        page.wait_for_timeout(300)
        _click_feature(page, "lights", "SL-T-0020")
        page.wait_for_selector(".ops-card h2:has-text('SL-T-0020')")
        page.screenshot(path=str(SHOTS / f"ops-tiles-{name}-panel.png"))
        assert not errors, errors
        context.close()
