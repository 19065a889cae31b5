"""Notification choices at phone size with no device subscribed: without JavaScript, and after the
person refuses the browser's permission. The choices are the account's; a device would follow them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import write_session
from app.models.push import NotificationPreferences, PushSubscription
from tests.e2e.conftest import PHONE, sign_in

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")


def choose_and_save(page: Any) -> None:
    page.get_by_label("Météo").check()
    page.get_by_label("Villerupt").check()
    page.fill("#quiet_start", "22:00")
    page.fill("#quiet_end", "07:00")
    page.get_by_label("Un résumé par jour (vers 18 h)").check()
    page.get_by_role("button", name="Enregistrer mes choix").click()
    page.wait_for_url("**/me/push?saved=1")
    assert "Vos choix sont enregistrés" in page.locator(".notice").inner_text()


def stored(engine: Any, user_id: int) -> tuple[Any, ...]:
    with write_session(engine) as session:
        row = session.get(NotificationPreferences, user_id)
        devices = session.scalar(select(func.count()).select_from(PushSubscription))
        return (
            (row.communes, row.quiet_start, row.email_mode, devices)
            if row
            else (None, None, None, devices)
        )


def test_without_javascript_a_resident_saves_notification_choices_with_no_device(
    live_server, browser, resident, engine
):
    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        locale="fr-FR",
        java_script_enabled=False,
    )
    page = context.new_page()
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/me/push")
    choose_and_save(page)
    assert (
        page.get_by_label("Villerupt").is_checked()
        and page.get_by_label("Un résumé par jour (vers 18 h)").is_checked()
    )
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "push-no-device-nojs.png"), full_page=True)
    context.close()
    assert stored(engine, resident.id) == (",54580,", 22 * 60, "daily", 0)


def test_after_refusing_the_permission_a_resident_still_saves_choices_for_the_account(
    live_server, phone, resident, engine
):
    context, page, log = phone
    sign_in(context, live_server, resident)
    page.goto(live_server.url + "/me/push")
    page.evaluate("""() => {
        Object.defineProperty(Notification, 'permission', {get: () => 'default'});
        Notification.requestPermission = () => Promise.resolve('denied');
    }""")
    page.get_by_role("button", name="Activer les notifications sur cet appareil").click()
    page.wait_for_function(
        "document.getElementById('push-status').textContent.includes('pas autorisé')"
    )
    choose_and_save(page)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "push-no-device-refused.png"), full_page=True)
    assert stored(engine, resident.id) == (",54580,", 22 * 60, "daily", 0)
    assert log.errors == []
