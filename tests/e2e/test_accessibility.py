"""axe-core on the main pages, signed out and signed in, at phone size: no serious or critical violation.

axe (vendored under tests/e2e/vendor) is injected with the page's CSP bypassed, in tests only.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from app.db import write_session
from app.reports import demo as reports_demo
from tests.e2e.conftest import PHONE, sign_in

pytestmark = pytest.mark.e2e
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
SIGNED_OUT = [
    "/",
    "/reports",
    "/carpool",
    "/sharing",
    "/shops",
    "/alerts",
    "/waste-centre",
    "/traffic",
    "/login",
    "/signup",
    "/about",
]
SIGNED_IN = [
    "/",
    "/me",
    "/me/push",
    "/reports/new",
    "/reports/mine",
    "/reports",
    "/carpool",
    "/carpool/new",
    "/carpool/mine",
    "/sharing",
    "/sharing/mine",
    "/shops",
    "/alerts",
]


@pytest.fixture
def demo(engine: Any, settings: Any) -> None:
    from app.demo import load_users

    with write_session(engine) as s:
        load_users(s, random.Random(1))
    with write_session(engine) as s:
        reports_demo.load_demo(s, random.Random(2), settings.resolved_media_dir)


def serious_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""() => axe.run(document, {resultTypes: ['violations']})""")
    return [
        f"{v['impact']} {v['id']}: {v['help']} — "
        + "; ".join(
            n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
            for n in v["nodes"][:4]
        )
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check(browser: Any, server: Any, paths: list[str], persona: Any | None) -> dict[str, list[str]]:
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        locale="fr-FR",
        bypass_csp=True,
    )
    if persona is not None:
        sign_in(context, server, persona)
    page = context.new_page()
    found = {}
    for path in paths:
        page.goto(server.url + path)
        page.wait_for_load_state("networkidle")
        problems = serious_violations(page)
        if problems:
            found[path] = problems
    context.close()
    return found


def test_the_main_pages_signed_out_have_no_serious_or_critical_accessibility_violation(
    live_server: Any, browser: Any, demo: None
) -> None:
    assert check(browser, live_server, SIGNED_OUT, None) == {}


def test_the_main_pages_signed_in_have_no_serious_or_critical_accessibility_violation(
    live_server: Any, browser: Any, resident: Any, demo: None
) -> None:
    assert check(browser, live_server, SIGNED_IN, resident) == {}


def test_the_axe_check_does_catch_a_violation(browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    page.set_content(
        "<!doctype html><html lang='fr'><title>t</title><main><img src='data:,'>"
        "<a href='/me' aria-label='Mon compte'>Julie</a></main></html>"
    )
    found = serious_violations(page)
    context.close()
    assert any("image-alt" in v for v in found), found


def test_the_territories_pages_of_the_super_administrator_have_no_serious_violation(
    live_server: Any, browser: Any, engine: Any, settings: Any
) -> None:
    from types import SimpleNamespace

    from app import auth

    with write_session(engine) as s:
        user = auth.create_user(s, "territoires@eclor.test", role="superadmin")
        token = auth.start_session(
            s,
            user,
            idle_minutes=settings.session_idle_minutes,
            absolute_days=settings.session_absolute_days,
        )
    persona = SimpleNamespace(client=SimpleNamespace(cookies={auth.SESSION_COOKIE: token}))
    assert (
        check(browser, live_server, ["/admin/territories", "/admin/territories/1"], persona) == {}
    )
