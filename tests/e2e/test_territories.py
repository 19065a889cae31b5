"""Two territories on one install, side by side on a phone: each host its own name, colours and
manifest (the demo's Pays-Haut on 127.0.0.1, Minett on esch.localhost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import PHONE
from tests.test_territories import add_minett

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")


def _topbar_colour(page) -> str:
    return page.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor")


def test_each_demo_territory_shows_its_own_name_colours_and_manifest_on_a_phone(
    live_server, phone, engine
):
    add_minett(engine)
    context, page, log = phone
    SHOTS.mkdir(exist_ok=True)
    seen = {}
    hosts = (
        ("pays-haut", live_server.url),
        ("minett", f"http://esch.localhost:{live_server.port}"),
    )
    for name, base in hosts:
        page.goto(base + "/")
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name}: the page scrolls sideways on a phone"
        page.screenshot(path=str(SHOTS / f"territory-{name}.png"))
        seen[name] = (
            page.title(),
            page.locator(".brand-territory").inner_text(),
            page.locator(".hero p").first.inner_text(),
            _topbar_colour(page),
        )
    assert log.errors == []
    # The manifest the browser reads from each host (Chromium resolves *.localhost itself; a JSON
    # document makes it ask for /favicon.ico, which Eclor does not have: not checked after this).
    for name, base in hosts:
        manifest = page.goto(base + "/manifest.webmanifest").json()
        seen[name] = (*seen[name], manifest["name"], manifest["theme_color"])
    assert seen["pays-haut"] == (
        "Accueil · Eclor Pays-Haut",
        "Pays-Haut",
        "Pays-Haut au quotidien : ce qui compte maintenant, près de chez vous.",
        "rgb(11, 93, 59)",
        "Eclor — Communauté de communes du Pays-Haut Val d'Alzette",
        "#0b5d3b",
    )
    assert seen["minett"] == (
        "Accueil · Eclor Minett",
        "Minett",
        "Minett au quotidien : ce qui compte maintenant, près de chez vous.",
        "rgb(29, 79, 145)",
        "Eclor — Minett : Esch-sur-Alzette, Kayl et Rumelange",
        "#1d4f91",
    )
