"""Browser checks of the lighting and sensor pages: the waste centre and traffic on a phone, the staff
map, group control and energy on a desktop; screenshots in /tmp/shots/lighting-*.png."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

from app.db import utcnow, write_session
from app.lighting.relay import Inbound, ingest
from app.models.lighting import LightDaily
from app.models.sensors import Sensor, WasteCentreEstimate
from tests.e2e.conftest import sign_in
from tests.lighting_helpers import seed_lights

SHOTS = Path("/tmp/shots")
DESKTOP = {"width": 1280, "height": 900}

pytestmark = pytest.mark.e2e


def _sensors(engine) -> None:
    now = utcnow()
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="WC-AUD-01",
                kind="waste_centre",
                name="Déchèterie d'Audun-le-Tiche",
                lat=49.4655,
                lon=5.9645,
                meta=json.dumps({"bays": 12, "dwell_min": 15}),
            )
        )
        for sensor_id, name, occupancy, congested in (
            ("TR-AUD-01", "Audun-le-Tiche ↔ Esch-sur-Alzette", 0.12, False),
            ("TR-RUS-01", "Russange ↔ Belval", 0.34, False),
            ("TR-RED-01", "Rédange ↔ Belvaux", 0.7, True),
        ):
            session.add(
                Sensor(
                    id=sensor_id,
                    kind="traffic",
                    name=name,
                    lat=49.48,
                    lon=5.95,
                    last_seen_at=now,
                    last_values=json.dumps(
                        {
                            "occupancy": occupancy,
                            "congested": congested,
                            "averageVehicleSpeed": 52.0 if not congested else 14.0,
                        }
                    ),
                )
            )
        session.add(
            Sensor(
                id="AQ-VIL-01",
                kind="air_quality",
                name="Villerupt centre",
                lat=49.467,
                lon=5.929,
                last_seen_at=now,
                last_values=json.dumps({"no2": 31.2, "pm10": 17.5, "pm25": 9.1, "o3": 52.0}),
            )
        )
        rows = []
        rng = random.Random(3)
        for back in range(1, 29):
            day = (now - dt.timedelta(days=back)).date()
            for hour in range(8, 18):
                at = dt.datetime.combine(day, dt.time(hour, 30), tzinfo=dt.UTC)
                rows.append(
                    {
                        "sensor_id": "WC-AUD-01",
                        "ts": at,
                        "wait_min": 3 + 9 * (hour in (9, 10, 16)) + rng.uniform(0, 2),
                        "method": "queue",
                        "saturated": False,
                    }
                )
        session.execute(WasteCentreEstimate.__table__.insert(), rows)
    items = []
    for index, counters in enumerate([(0, 0, 0), (4, 2, 0), (7, 4, 1), (10, 6, 2)]):
        at = now - dt.timedelta(minutes=5 * (3 - index))
        items.append(
            Inbound(
                "tele_sensor",
                "WC-AUD-01",
                {
                    "ts": at.isoformat(),
                    "kind": "waste_centre",
                    "arrivals": counters[0],
                    "admissions": counters[1],
                    "exits": counters[2],
                },
                at,
            )
        )
    ingest(engine, items, now=now)


def _no_overflow(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_waste_centre_page_on_a_phone(live_server, phone, engine):
    _sensors(engine)
    _context, page, log = phone
    page.goto(live_server.url + "/waste-centre")
    assert page.locator(".wait-now .big").inner_text() == "10 min"
    assert page.locator(".hours li").count() >= 4
    _no_overflow(page, 390)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "lighting-waste-centre.png"), full_page=True)
    page.goto(live_server.url + "/traffic")
    assert page.locator(".traffic-congested").count() == 1
    _no_overflow(page, 390)
    page.screenshot(path=str(SHOTS / "lighting-traffic.png"), full_page=True)
    page.goto(live_server.url + "/")
    assert "10 min d’attente" in page.locator("main").inner_text()
    assert not log.errors


def test_staff_command_a_group_from_the_lighting_pages(live_server, browser, engine, staff):
    lights = seed_lights(engine, 160)
    now = utcnow()
    batch = [
        Inbound(
            "tele_light",
            light,
            {
                "ts": now.isoformat(),
                "level": 100 if i % 3 else 50,
                "power_w": 70.0,
                "energy_wh": 1000.0 + i,
                "status": "defectiveLamp" if i == 7 else "ok",
            },
            now,
        )
        for i, light in enumerate(lights)
    ]
    ingest(engine, batch, now=now)
    with write_session(engine) as session:
        session.execute(
            LightDaily.__table__.insert(),
            [
                {
                    "light_id": light,
                    "day": (now - dt.timedelta(days=d)).date(),
                    "samples": 100,
                    "level_sum": 0.0,
                    "power_sum_w": 0.0,
                    "energy_wh": 160.0,
                }
                for light in lights
                for d in range(1, 60)
            ],
        )
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(context, live_server, staff)
    page.goto(live_server.url + "/staff/lighting")
    # The lights are drawn on the live map of the operations centre, not on a second, static map.
    assert page.locator("svg circle").count() == 0
    assert page.get_by_role("link", name="Voir sur la carte en direct").get_attribute("href") == (
        "/staff/ops"
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "lighting-staff-map.png"), full_page=True)
    page.click("text=Groupe G1")
    page.fill("#level", "40")
    page.fill("#minutes", "60")
    page.click("text=Forcer tout le groupe")
    page.wait_for_selector("text=160 commandes à envoyer")
    assert "Forcé à 40 %" in page.locator("main").inner_text()
    assert page.locator(".state-badge.dot-fault").count() == 1  # the faulty lamp, in the list
    page.screenshot(path=str(SHOTS / "lighting-staff-group.png"))
    page.goto(live_server.url + "/staff/lighting/energy")
    assert page.locator("table.data tbody tr").count() >= 6
    page.screenshot(path=str(SHOTS / "lighting-staff-energy.png"), full_page=True)
    assert not errors
    context.close()
