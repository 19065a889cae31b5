"""Counting devices: the public register lists every device with where it is, what it counts, who
runs it and its privacy statement; a device sends counts only, and whatever else it sends (a
picture) is never stored; its counts reach history and the register's "today"."""

from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import select

from app.db import read_session, write_session
from app.lighting.relay import Inbound, ingest
from app.models.measures import MeasureHourly
from app.models.sensors import Sensor, SensorMeasure

OWN_STATEMENT = "Capteur Telraam : image basse définition analysée dans l'appareil puis effacée."


def _counters(engine) -> None:
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="CPT-AUD-01",
                kind="counter",
                name="Rue du Centre, Audun",
                commune_insee="57038",
                lat=49.472,
                lon=5.955,
                reporting_period_s=900,
                meta=json.dumps(
                    {
                        "place": "Devant l'école",
                        "classes": ["pedestrian", "bike"],
                        "operator": "Commune d'Audun-le-Tiche",
                        "technology": "Telraam S2",
                        "directions": {"in": "vers le centre", "out": "vers la gare"},
                        "privacy": OWN_STATEMENT,
                    }
                ),
            )
        )
        session.add(
            Sensor(
                id="CPT-RUS-01",
                kind="counter",
                name="Route de Luxembourg, Russange",
                commune_insee="57600",
                lat=49.48,
                lon=5.95,
                meta=json.dumps({"classes": ["car", "truck"], "technology": "OpenDataCam"}),
            )
        )


def test_the_register_lists_every_counting_device_with_its_privacy_statement(
    client, engine
) -> None:
    _counters(engine)
    page = client.get("/counting")
    assert page.status_code == 200
    cards = re.findall(
        r'<section class="card counting-device" id="counter-([^"]+)">(.*?)</section>',
        page.text,
        re.S,
    )
    assert [sensor_id for sensor_id, _ in cards] == ["CPT-AUD-01", "CPT-RUS-01"]
    audun, russange = (body for _, body in cards)
    assert "Devant l&#39;école" in audun and "Commune d&#39;Audun-le-Tiche" in audun
    assert "Piétons, Vélos" in audun and "vers le centre / vers la gare" in audun
    assert "Capteur Telraam : image basse définition analysée dans l&#39;appareil" in audun
    assert "Voitures, Camions" in russange and "OpenDataCam" in russange
    assert "aucune image ne le quitte et aucune n&#39;est enregistrée" in russange
    assert "statistiques anonymes" in page.text


def test_a_counting_device_sends_counts_only_and_a_picture_it_sends_is_never_stored(
    client, engine
) -> None:
    _counters(engine)
    now = dt.datetime.now(dt.UTC)
    ingest(
        engine,
        [
            Inbound(
                "tele_sensor",
                "CPT-AUD-01",
                {
                    "ts": now.isoformat(),
                    "kind": "counter",
                    "counts": {"pedestrian": {"in": 14, "out": 9}, "bike": {"in": 3, "out": 0}},
                    "image": "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD",
                    "plate": "AB-123-CD",
                },
                now,
            )
        ],
        now=now,
    )
    with read_session(engine) as session:
        (stored,) = session.scalars(select(SensorMeasure.values_json)).all()
        measures = set(session.scalars(select(MeasureHourly.measure)).all())
        last = session.get(Sensor, "CPT-AUD-01")
        assert last is not None
        last_values = last.last_values
    kept = json.loads(stored)
    assert kept == {"pedestrian_in": 14, "pedestrian_out": 9, "bike_in": 3, "bike_out": 0}
    assert measures == {"pedestrian_in", "pedestrian_out", "bike_in", "bike_out"}
    assert "base64" not in last_values and "AB-123-CD" not in last_values
    page = client.get("/counting")
    assert "Piétons 23 · Vélos 3" in page.text
