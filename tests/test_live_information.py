"""Live information that never contradicts itself: quiet hours name their day, the waste-centre page says
when it is open, where it is and what it takes, and the demo's alerts do not contradict the live sensors."""

from __future__ import annotations

import datetime as dt
import json
import random
from zoneinfo import ZoneInfo

from app.alerts import publish as alerts
from app.db import write_session
from app.models.sensors import Sensor, WasteCentreEstimate
from app.sensors import measures

TZ = ZoneInfo("Europe/Paris")
OPENING = {
    "mon": ["09:00-12:00", "13:30-17:00"],
    "tue": ["09:00-12:00", "13:30-17:00"],
    "sat": ["09:00-17:00"],
}


def add_centre(engine, meta: dict | None = None) -> None:
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="WC-AUD-01",
                kind="waste_centre",
                name="Déchèterie d'Audun-le-Tiche",
                lat=49.46,
                lon=5.96,
                reporting_period_s=60,
                meta=json.dumps({"bays": 12, "dwell_min": 15, **(meta or {})}),
            )
        )


def history_on(engine, day: dt.date, hours: dict[int, float]) -> None:
    """Waiting times every 10 minutes during ``hours`` of ``day`` (local time)."""
    with write_session(engine) as session:
        for hour, wait in hours.items():
            for minute in range(0, 60, 10):
                at = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=TZ).astimezone(dt.UTC)
                session.add(
                    WasteCentreEstimate(sensor_id="WC-AUD-01", ts=at, wait_min=wait, method="queue")
                )


def friday_panel(engine):
    """Friday 13:43: last Saturday was quiet at 13:00; nothing is known for the rest of a weekday."""
    add_centre(engine)
    history_on(engine, dt.date(2026, 12, 5), {10: 25.0, 13: 2.0, 15: 20.0})
    with write_session(engine) as session:
        return measures.waste_panel(session, dt.datetime(2026, 12, 11, 13, 43, tzinfo=TZ))


def test_quiet_hours_known_only_for_tomorrow_say_tomorrow(engine):
    panel = friday_panel(engine)
    assert panel.quiet_when == "tomorrow" and panel.quiet_day == dt.date(2026, 12, 12)
    assert panel.quiet_hours[0][0].hour == 13


def test_the_home_panel_says_demain_when_the_quiet_hour_is_tomorrow(engine, app):
    panel = friday_panel(engine)
    html = app.state.jinja.get_template("sensors/_home_panel.html").render(
        panel={"waste": panel, "wait": {"known": False}, "crossings": [], "traffic_labels": {}}
    )
    assert "plus calme demain à 13:00" in html and "plus calme à 13:00" not in html


def test_the_waste_centre_page_gives_opening_hours_open_now_address_and_accepted_waste(
    engine, client
):
    add_centre(
        engine,
        {
            "address": "Rue de la Déchèterie, 57390 Audun-le-Tiche",
            "opening": OPENING,
            "accepted": ["Encombrants", "Gravats"],
        },
    )
    page = client.get("/waste-centre").text
    assert "Rue de la Déchèterie, 57390 Audun-le-Tiche" in page
    assert "09:00–12:00, 13:30–17:00" in page and "Encombrants" in page and "Gravats" in page
    assert ("Ouverte en ce moment" in page) != ("Fermée en ce moment" in page)
    with write_session(engine) as session:
        info = measures.waste_centre_info(session, session.get(Sensor, "WC-AUD-01"))
    monday_10 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=TZ)
    monday_1230 = dt.datetime(2026, 12, 7, 12, 30, tzinfo=TZ)
    sunday = dt.datetime(2026, 12, 6, 11, 0, tzinfo=TZ)
    assert info.open_at(monday_10) and not info.open_at(monday_1230) and not info.open_at(sunday)
    assert info.next_opening(monday_1230) == dt.datetime(2026, 12, 7, 13, 30, tzinfo=TZ)
    assert info.next_opening(sunday) == dt.datetime(2026, 12, 7, 9, 0, tzinfo=TZ)
    assert info.open_hours(dt.date(2026, 12, 7)) == [9, 10, 11, 13, 14, 15, 16]


def test_quiet_hours_are_only_offered_while_the_centre_is_open(engine):
    add_centre(engine, {"opening": OPENING})
    history_on(engine, dt.date(2026, 11, 30), {7: 0.0, 12: 0.5, 14: 3.0, 16: 8.0})  # a Monday
    with write_session(engine) as session:
        panel = measures.waste_panel(session, dt.datetime(2026, 12, 7, 8, 0, tzinfo=TZ))
    assert [at.hour for at, _ in panel.quiet_hours] == [14, 16]


def test_the_demo_alerts_announce_nothing_the_live_sensors_would_contradict(engine):
    from app import domains

    (loader,) = [item for item in domains.demo_loaders() if item.name == "alerts"]
    with write_session(engine) as session:
        loader.load(session, random.Random(1))
    with write_session(engine) as session:
        live = alerts.active_alerts(session)
        texts = [
            f"{a.title} {a.body}".lower() for a in live if a.topic in ("traffic", "waste_centre")
        ]
    assert texts
    for text in texts:
        assert not any(
            word in text for word in ("saturé", "bouchon", "en ce moment", "minutes d’attente")
        ), text
