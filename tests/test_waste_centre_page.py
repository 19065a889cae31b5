"""The waste centre for residents: live waiting time from the gates, forecast and quiet hours from history,
"tell me when it drops under N minutes", the home panel, and the traffic and air page."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.sensors import measures as sensors
from app.db import read_session, utcnow, write_session
from app.lighting.relay import Inbound, ingest
from app.models.jobs import Job
from app.models.sensors import Sensor, WasteCentreEstimate, WasteWaitWatch

TZ = ZoneInfo("Europe/Paris")


@pytest.fixture
def centre(engine):
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="WC-AUD-01",
                kind="waste_centre",
                name="Déchèterie d'Audun-le-Tiche",
                lat=49.46,
                lon=5.96,
                reporting_period_s=60,
                meta=json.dumps({"bays": 12, "dwell_min": 15}),
            )
        )
        session.add(
            Sensor(
                id="TR-RUS-01",
                kind="traffic",
                name="Russange ↔ Belval",
                lat=49.48,
                lon=5.95,
                last_values=json.dumps(
                    {"occupancy": 0.6, "congested": True, "averageVehicleSpeed": 18.0}
                ),
                last_seen_at=utcnow(),
            )
        )
        session.add(
            Sensor(
                id="AQ-VIL-01",
                kind="air_quality",
                name="Villerupt centre",
                lat=49.46,
                lon=5.93,
                last_values=json.dumps({"no2": 30.0, "pm10": 15.0, "pm25": 8.0, "o3": 45.0}),
                last_seen_at=utcnow(),
            )
        )
    return "WC-AUD-01"


def gates(engine, now: dt.datetime, counters: list[tuple[int, int, int]]) -> None:
    """Readings every 5 minutes up to ``now``: (arrivals, admissions, exits), cumulative."""
    items = []
    for index, (arrivals, admissions, exits) in enumerate(counters):
        at = now - dt.timedelta(minutes=5 * (len(counters) - 1 - index))
        items.append(
            Inbound(
                "tele_sensor",
                "WC-AUD-01",
                {
                    "ts": at.isoformat(),
                    "kind": "waste_centre",
                    "arrivals": arrivals,
                    "admissions": admissions,
                    "exits": exits,
                    "bays": 12,
                },
                at,
            )
        )
    ingest(engine, items, now=now)


def test_the_live_wait_comes_from_the_gates(engine, client, centre):
    now = utcnow()
    gates(engine, now, [(0, 0, 0), (4, 2, 0), (7, 4, 1), (10, 6, 2)])
    with read_session(engine) as session:
        estimate = sensors.live_estimate(session, session.get(Sensor, centre), now)
        kept = session.scalars(select(WasteCentreEstimate)).all()
    assert estimate.method == "queue" and estimate.queue == 4 and not estimate.saturated
    assert estimate.wait_min == pytest.approx(10.0)  # Q / μ = 4 vehicles / 24 admitted per hour
    assert kept and kept[-1].wait_min == pytest.approx(10.0)
    page = client.get("/waste-centre")
    assert (
        page.status_code == 200
        and "10 min" in page.text
        and "4 véhicules dans la file" in page.text
    )
    assert "HX-Request" in page.headers["vary"]
    fragment = client.get(
        "/waste-centre", headers={"hx-request": "true", "hx-target": "waste-live"}
    )
    assert fragment.text.lstrip().startswith('<div id="waste-live"')


def test_forecast_and_quiet_hours_come_from_the_hour_of_week_history(engine, centre):
    monday = dt.datetime(2026, 11, 16, 7, 0, tzinfo=TZ)
    rows = []
    for week in range(1, 5):
        day = monday - dt.timedelta(weeks=week)
        for hour in range(9, 18):
            wait = 2.0 if hour == 10 else (20.0 if hour == 17 else 12.0)
            at = dt.datetime.combine(day.date(), dt.time(hour, 15), tzinfo=TZ).astimezone(dt.UTC)
            rows.append(
                {
                    "sensor_id": centre,
                    "ts": at,
                    "wait_min": wait,
                    "method": "queue",
                    "saturated": False,
                }
            )
    with write_session(engine) as session:
        session.execute(WasteCentreEstimate.__table__.insert(), rows)
    with read_session(engine) as session:
        panel = sensors.waste_panel(session, monday.astimezone(dt.UTC))
    assert panel.estimate is None  # no gate data this morning
    assert [(at.hour, wait) for at, wait in panel.quiet_hours] == [(10, 2.0), (9, 12.0), (11, 12.0)]
    assert [wait for _at, wait in panel.forecast_next] == [
        None,
        12.0,
        2.0,
        12.0,
    ]  # 08:00 closed, then 9, 10, 11


def test_a_resident_is_told_once_when_the_wait_drops_under_the_threshold(
    engine, centre, resident, client
):
    assert client.post_form("/waste-centre/watch", {"threshold": "10"}).status_code in (
        303,
        401,
        403,
    )
    for bad in ("0", "500", "dix"):
        answer = resident.client.post_form("/waste-centre/watch", {"threshold": bad})
        assert answer.status_code == 400 and "field-error" in answer.text
    with read_session(engine) as session:
        assert session.scalars(select(WasteWaitWatch)).all() == []
    answer = resident.client.post_form("/waste-centre/watch", {"threshold": "10"})
    assert answer.status_code == 303 and answer.headers["location"] == "/waste-centre?watched=1"
    assert "C’est noté" in resident.client.get(answer.headers["location"]).text
    now = utcnow()
    gates(
        engine, now - dt.timedelta(minutes=5), [(0, 0, 0), (3, 1, 0), (6, 2, 1)]
    )  # 4 queued: 20 min
    with read_session(engine) as session:
        assert session.scalars(select(Job).where(Job.kind == "notify.user")).all() == []
    gates(engine, now, [(8, 7, 3)])  # 1 queued, 28 admitted an hour: about 2 min, under 10
    gates(engine, now + dt.timedelta(seconds=90), [(9, 8, 4)])
    with read_session(engine) as session:
        jobs = session.scalars(select(Job).where(Job.kind == "notify.user")).all()
        watch = session.scalars(select(WasteWaitWatch)).one()
    assert len(jobs) == 1 and watch.notified_at is not None
    payload = json.loads(jobs[0].payload)
    assert payload["user_id"] == resident.id and payload["url"] == "/waste-centre"


def test_the_home_page_and_the_traffic_page_show_the_live_state(engine, client, centre):
    gates(engine, utcnow(), [(0, 0, 0), (4, 2, 0), (7, 4, 1), (10, 6, 2)])
    home = client.get("/")
    assert "Déchèterie" in home.text and "10 min d’attente" in home.text
    assert "Russange ↔ Belval" in home.text and "Saturé" in home.text
    traffic = client.get("/traffic")
    assert traffic.status_code == 200 and "Saturé" in traffic.text and "18 km/h" in traffic.text
    assert "Villerupt centre" in traffic.text and "Bon" in traffic.text


def test_the_page_says_so_when_there_is_no_sensor(client):
    page = client.get("/waste-centre")
    assert page.status_code == 200 and "Aucun capteur de déchèterie" in page.text


def test_a_persons_watches_are_exported_and_erased_with_their_account(
    engine, centre, resident, tmp_path
):
    from app.privacy import ERASERS, EXPORTERS

    assert resident.client.post_form("/waste-centre/watch", {"threshold": "15"}).status_code == 303
    with write_session(engine) as session:
        exported, files = EXPORTERS["waste_centre"](session, resident.id, tmp_path)
        assert [w["threshold_min"] for w in exported] == [15] and files == []
        ERASERS["waste_centre"](session, resident.id, tmp_path)
    with read_session(engine) as session:
        assert session.scalars(select(WasteWaitWatch)).all() == []
