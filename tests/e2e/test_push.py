"""Alerts and notification settings in a real browser, at phone size.

A headless browser reaches no real push service, so the device's subscription
is injected through the same JSON API the page script calls; the settings
form is then driven like a person would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.db import write_session
from app.models.push import PushSubscription
from tests.e2e.conftest import PHONE, sign_in

try:
    from tests.pushreceiver import make_keys
except ModuleNotFoundError:  # tests/ itself on sys.path
    from pushreceiver import make_keys

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")


def inject_subscription(persona: Any) -> str:
    _key, p256dh, auth = make_keys()
    endpoint = "https://fcm.googleapis.com/fcm/send/e2e-device"
    r = persona.client.post_json(
        "/push/subscriptions",
        {
            "endpoint": endpoint,
            "keys": {"p256dh": p256dh, "auth": auth},
            "topics": ["traffic"],
            "communes": [],
        },
        headers={
            "user-agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) Chrome/131.0 Mobile Safari/537.36"
        },
    )
    assert r.status_code == 201, r.text
    return endpoint


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], (
        "the page scrolls sideways"
    )


def test_the_settings_page_saves_topics_communes_and_quiet_hours(
    live_server, phone, resident, engine
):
    context, page, log = phone
    endpoint = inject_subscription(resident)
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/me/push")
    assert page.locator("h1").inner_text() == "Notifications"
    assert "Chrome · Android" in page.locator(".devices").inner_text()
    # Nothing is asked on page load: the permission prompt only follows a tap on the button.
    assert page.evaluate("Notification.permission") == "default"

    page.get_by_label("Circulation et passages frontière").uncheck()
    page.get_by_label("Météo").check()
    page.get_by_label("Déchèterie").check()
    page.get_by_label("Villerupt").check()
    page.get_by_label("Audun-le-Tiche").check()
    page.fill("#quiet_start", "22:00")
    page.fill("#quiet_end", "06:30")
    no_sideways_scroll(page)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "push-settings.png"), full_page=True, caret="initial")
    page.get_by_role("button", name="Enregistrer mes choix").click()
    page.wait_for_url("**/me/push?saved=1")
    assert "Vos choix sont enregistrés" in page.locator(".notice").inner_text()
    assert page.get_by_label("Météo").is_checked() and page.get_by_label("Villerupt").is_checked()
    assert not page.get_by_label("Circulation et passages frontière").is_checked()

    with write_session(engine) as session:
        row = session.scalars(
            select(PushSubscription).where(PushSubscription.endpoint == endpoint)
        ).one()
    assert (row.topics, row.communes, row.quiet_start, row.quiet_end) == (
        ",waste_centre,weather,",
        ",54580,57038,",
        22 * 60,
        6 * 60 + 30,
    )

    page.get_by_role("button", name="Désabonner").click()
    page.wait_for_url("**/me/push?removed=1")
    assert "Aucun appareil pour l’instant." in page.locator(".devices").inner_text()
    assert log.errors == []


def test_staff_write_preview_and_send_an_alert_that_residents_see(
    live_server, phone, staff, browser
):
    context, page, log = phone
    sign_in(context, live_server, staff)
    page.goto(live_server.url + "/staff/alerts/new")
    page.fill("#title", "Passage frontière saturé à Audun-le-Tiche")
    page.fill(
        "#body",
        "Bouchon de 3 km vers Esch-sur-Alzette depuis 6 h 40. Passez par Russange ou Rédange.",
    )
    page.select_option("#topic", "traffic")
    page.get_by_label("Audun-le-Tiche").check()
    page.get_by_label("Russange").check()
    page.select_option("#urgency", "high")
    page.get_by_role("button", name="Aperçu").click()
    page.wait_for_selector(".phone-notif")
    assert "Passage frontière saturé" in page.locator(".phone-notif").inner_text()
    no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / "push-staff-preview.png"), full_page=True, caret="initial")
    page.get_by_role("button", name="Envoyer l’alerte").click()
    page.wait_for_url("**/staff/alerts/*?sent=1")
    page.screenshot(path=str(SHOTS / "push-staff-detail.png"), full_page=True, caret="initial")

    anonymous = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="fr-FR"
    )
    try:
        visitor = anonymous.new_page()
        visitor.goto(live_server.url + "/")
        assert "Passage frontière saturé" in visitor.locator(".alerts-panel").inner_text()
        visitor.screenshot(path=str(SHOTS / "push-home.png"))
        visitor.goto(live_server.url + "/alerts")
        no_sideways_scroll(visitor)
        visitor.screenshot(path=str(SHOTS / "push-alerts.png"), full_page=True, caret="initial")
        visitor.locator(".alert-title a").first.click()
        visitor.wait_for_url("**/alerts/*")
        assert visitor.locator("h1").inner_text() == "Passage frontière saturé à Audun-le-Tiche"
        visitor.screenshot(path=str(SHOTS / "push-alert.png"), full_page=True, caret="initial")
    finally:
        anonymous.close()
    assert log.errors == []
