"""What a phone shows stays in its place: maps under the bars, readable list rows, no layout shift,
no CSP violation from htmx. Measured in Chromium at 390×844."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from app.db import write_session
from app.reports import catalogue
from app.reports import demo as reports_demo
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")

# Lighthouse's cumulative layout shift: the largest session window of shifts without recent input.
CLS_OBSERVER = """
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) { if (!e.hadRecentInput) window.__shifts.push([e.startTime, e.value]); }
}).observe({ type: 'layout-shift', buffered: true });
"""
CLS_OF_PAGE = """() => {
  let best = 0, current = 0, start = -1, last = -1;
  for (const [t, v] of window.__shifts) {
    if (start < 0 || t - last > 1000 || t - start > 5000) { start = t; current = 0; }
    current += v; last = t; best = Math.max(best, current);
  }
  return best;
}"""


@pytest.fixture
def demo(engine: Any, settings: Any) -> None:
    from app.demo import load_users

    with write_session(engine) as s:
        load_users(s, random.Random(1))
    with write_session(engine) as s:
        reports_demo.load_demo(s, random.Random(2), settings.resolved_media_dir)


def bars_on_top(page: Any) -> bool:
    """Every point of the tab bar and the top bar shows the bar (nothing, a map's controls included, draws over)."""
    return page.evaluate("""() => {
        const bars = Array.from(document.querySelectorAll('.tabbar, .topbar'))
            .filter((bar) => getComputedStyle(bar).position === 'fixed' || getComputedStyle(bar).position === 'sticky');
        if (!bars.length) return false;
        return bars.every((bar) => {
            const r = bar.getBoundingClientRect();
            const points = [];
            for (let x = 4; x < r.width; x += 12) for (const y of [r.top + 2, r.top + r.height / 2, r.bottom - 3])
                points.push([x, y]);
            return points.filter(([x, y]) => y >= 0 && y < window.innerHeight).every(([x, y]) => {
                const el = document.elementFromPoint(x, y); return el && bar.contains(el); });
        });
    }""")


def scroll_map_under(page: Any, selector: str, edge: str) -> None:
    """Scroll so that the map's bottom edge (attribution) is behind the tab bar, or its top (zoom) behind the top bar."""
    page.wait_for_selector(
        selector + ".leaflet-container .leaflet-control-attribution", state="attached"
    )
    page.evaluate(
        """([sel, edge]) => {
        const map = document.querySelector(sel).getBoundingClientRect();
        window.scrollBy(0, edge === 'bottom' ? map.bottom - window.innerHeight + 30 : map.top - 20);
    }""",
        [selector, edge],
    )
    page.wait_for_timeout(200)


def test_maps_never_draw_over_the_tab_bar_on_the_report_form_the_list_and_the_staff_board(
    live_server: Any, phone: Any, resident: Any, staff: Any, demo: None
) -> None:
    context, page, _log = phone
    sign_in(context, live_server, resident)
    SHOTS.mkdir(exist_ok=True)
    for path, selector, who in (
        ("/reports/new", "#report-map", resident),
        ("/reports", "[data-map=list]", resident),
        ("/staff/reports", "[data-map=list]", staff),
    ):
        sign_in(context, live_server, who)
        page.goto(live_server.url + path)
        for edge in ("bottom", "top"):
            page.evaluate("window.scrollTo(0, 0)")
            scroll_map_under(page, selector, edge)
            page.screenshot(path=str(SHOTS / f"map-under-bars{path.replace('/', '-')}-{edge}.png"))
            assert bars_on_top(page), f"the map draws over a bar on {path} ({edge})"


def test_a_long_status_badge_leaves_the_report_text_readable(
    live_server: Any, phone: Any, demo: None, engine: Any
) -> None:
    from sqlalchemy import update

    from app.models.reports import Report

    with write_session(engine) as s:
        s.execute(
            update(Report)
            .where(Report.status.in_(catalogue.OPEN_STATUSES))
            .values(status="scheduled")
        )
    _context, page, _log = phone
    page.goto(live_server.url + "/reports")
    page.wait_for_selector(".report-item")
    widths = page.evaluate("""() => Array.from(document.querySelectorAll('.report-item')).map((li) => [
        li.querySelector('.report-text').getBoundingClientRect().width,
        li.querySelector('.badge').getBoundingClientRect().width])""")
    page.locator(".report-item").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "reports-list-long-badge.png"))
    assert widths and all(text >= 150 for text, _badge in widths), widths


@pytest.mark.parametrize("path", ["/reports/new", "/reports", "/carpool"])
def test_pages_do_not_shift_while_they_load(
    live_server: Any, phone: Any, resident: Any, demo: None, path: str
) -> None:
    context, page, _log = phone
    sign_in(context, live_server, resident)
    context.add_init_script(CLS_OBSERVER)
    # Lighthouse's mobile conditions: a slow 4G network and a 4× slower CPU, so that the first paint
    # comes before the scripts, photos and maps, as on a real phone.
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 150,
            "downloadThroughput": 1.6 * 1024 * 1024 / 8,
            "uploadThroughput": 750 * 1024 / 8,
        },
    )
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    page.goto(live_server.url + path)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    cls = page.evaluate(CLS_OF_PAGE)
    print(f"layout shift {path}: {cls:.4f}")
    assert cls < 0.1, f"cumulative layout shift {cls:.3f} on {path}"


def test_no_page_trips_the_content_security_policy(
    live_server: Any, phone: Any, resident: Any
) -> None:
    context, page, log = phone
    context.add_init_script("""window.__csp = [];
        document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));""")
    for path in ("/", "/reports", "/carpool", "/shops", "/alerts"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp") == [], path
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/me")
    page.wait_for_load_state("networkidle")
    page.click(".tabbar a[href='/reports']")  # a boosted navigation
    page.wait_for_url("**/reports")
    page.wait_for_timeout(500)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__csp") == []
    assert not [e for e in log.errors if "Content Security Policy" in e], log.errors


def test_without_javascript_the_use_my_position_button_is_not_shown(
    live_server: Any, browser: Any, resident: Any
) -> None:
    from tests.e2e.conftest import PHONE

    context = browser.new_context(
        viewport=PHONE, is_mobile=True, locale="fr-FR", java_script_enabled=False
    )
    page = context.new_page()
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/reports/new")
    assert page.locator("#report-form").is_visible()
    assert not page.locator("#use-position").is_visible()
    context.close()


def test_the_account_button_says_what_it_shows_and_is_readable_on_my_account_page(
    live_server: Any, phone: Any, resident: Any
) -> None:
    context, page, _log = phone
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/me")
    chip = page.locator(".topbar .chip[href='/me']")
    visible = chip.evaluate(
        "(el) => Array.from(el.childNodes).filter((n) => !(n.classList && "
        "n.classList.contains('visually-hidden'))).map((n) => n.textContent).join('').trim()"
    )
    assert visible == "Julie"
    assert chip.get_attribute("aria-label") is None
    assert page.get_by_role("link", name="Mon compte : Julie").count() == 1
    colours = chip.evaluate(
        "(el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]"
    )
    assert colours == ["rgb(7, 67, 42)", "rgb(255, 255, 255)"], colours
