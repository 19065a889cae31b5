"""The installable shell in a real browser: phone layout, installability, offline fallback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")


def test_the_home_page_renders_at_phone_size_without_console_errors(live_server, phone):
    context, page, log = phone
    page.goto(live_server.url + "/")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text() == "Bienvenue sur Eclor"
    nav = page.locator("nav.tabbar")
    box = nav.bounding_box()
    assert (
        box and box["y"] + box["height"] <= PHONE["height"] + 1 and box["y"] > PHONE["height"] - 100
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the page scrolls sideways on a phone"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "home.png"))
    assert log.errors == []


def test_chromium_finds_no_installability_errors_and_the_offline_page_answers_without_network(
    live_server, playwright_instance
):
    with tempfile.TemporaryDirectory() as profile:
        context = playwright_instance.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=PHONE,
            locale="fr-FR",
        )
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(live_server.url + "/")
            page.wait_for_function(
                "navigator.serviceWorker.controller !== null || "
                "navigator.serviceWorker.ready.then(() => true)"
            )
            page.evaluate("navigator.serviceWorker.ready")
            # The worker controls the page after a reload once it is active.
            page.reload()
            page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)
            cdp = context.new_cdp_session(page)
            result = cdp.send("Page.getInstallabilityErrors")
            assert result["installabilityErrors"] == []

            context.set_offline(True)
            page.goto(live_server.url + "/carpool?offline-check=1")
            assert "Pas de réseau pour le moment" in page.content()
            page.screenshot(path=str(SHOTS / "offline.png"))
            context.set_offline(False)
            assert errors == [] or all("net::ERR_INTERNET_DISCONNECTED" in e for e in errors)
        finally:
            context.close()
