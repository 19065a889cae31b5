"""The page an alert points to is cheap when everyone opens it at once: its data is read once per
process every few seconds, however many visitors arrive together."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import event

from app.alerts import publish as alerts
from app.db import write_session
from tests.live_server import live


def _publish(engine) -> int:
    with write_session(engine) as session:
        data = alerts.clean_input(
            session,
            title="Route de Longwy fermée",
            body="Déviation par Crusnes.",
            topic="traffic",
            communes=[],
            urgency="high",
            link="",
            ttl_s=3600,
        )
        return alerts.publish(session, data, source="cli", sender="eclor@test").id


def test_a_crowd_opening_an_alert_page_costs_the_database_one_read(settings, engine):
    alert_id = _publish(engine)
    statements: list[str] = []
    with live(settings) as base:
        engine_of_app = live.app.state.engine

        async def crowd() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=base, timeout=30) as c:
                first = await c.get(f"/alerts/{alert_id}")  # the first visit reads the alert
                assert first.status_code == 200
                event.listen(
                    engine_of_app, "before_cursor_execute", lambda *a, **k: statements.append(a[2])
                )
                return await asyncio.gather(*(c.get(f"/alerts/{alert_id}") for _ in range(30)))

        answers = asyncio.run(crowd())
    assert [r.status_code for r in answers] == [200] * 30
    assert all("Route de Longwy fermée" in r.text for r in answers)
    assert statements == [], "the crowd was served from what the first visit read"


def test_a_staff_change_to_an_alert_shows_at_once_on_its_page(staff, client, engine):
    alert_id = _publish(engine)
    before = client.get(f"/alerts/{alert_id}").text
    assert "Route de Longwy fermée" in before and "Levée" not in before
    r = staff.client.post_form(f"/staff/alerts/{alert_id}/cancel", {"note": "Route rouverte."})
    assert r.status_code in (200, 303)
    assert "Levée" in client.get(f"/alerts/{alert_id}").text
