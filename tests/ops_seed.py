"""A small territory for the operations-centre tests: every layer has at least one feature."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from app.alerts import publish as alerts
from app.db import utcnow, write_session
from app.device_alarms import raise_alarm
from app.models.carpool import CarpoolAd
from app.models.lighting import LightGroup, Streetlight
from app.models.maintenance import MaintenanceAlarm
from app.models.participation import Proposal
from app.models.reports import Report
from app.models.sensors import Sensor, WasteCentreEstimate
from tests.lighting_helpers import seed_lights


FLEET_COMMUNES = (  # INSEE, lat, lon of the communes' centres
    ("57038", 49.472, 5.955),
    ("57041", 49.418, 5.944),
    ("57097", 49.382, 5.951),
    ("57529", 49.440, 6.017),
    ("57565", 49.493, 5.918),
    ("57602", 49.483, 5.953),
    ("54523", 49.473, 5.905),
    ("54580", 49.467, 5.929),
)


def seed_fleet(engine: Any, count: int, seed: int = 7) -> list[str]:
    """``count`` lights spread around the eight communes' centres (groups ``F-{insee}``, a light
    in 20 at fault), for the tiles of a big lights layer."""
    rng = random.Random(seed)
    ids = []
    with write_session(engine) as session:
        session.execute(
            LightGroup.__table__.insert(),  # type: ignore[attr-defined]
            [
                {"id": f"F-{insee}", "name": f"Flotte {insee}", "commune_insee": insee}
                for insee, _a, _o in FLEET_COMMUNES
            ],
        )
        rows = []
        for i in range(count):
            insee, lat, lon = FLEET_COMMUNES[i % len(FLEET_COMMUNES)]
            ids.append(f"SL-F-{i:05d}")
            rows.append(
                {
                    "id": ids[-1],
                    "device_id": ids[-1],
                    "group_id": f"F-{insee}",
                    "commune_insee": insee,
                    "street": "Rue de la flotte",
                    "lat": lat + rng.uniform(-0.01, 0.01),
                    "lon": lon + rng.uniform(-0.015, 0.015),
                    "model": "LED",
                    "technology": "LED",
                    "nominal_w": 70.0,
                    "circuit": "C1",
                    "reporting_period_s": 900,
                    "status": "defectiveLamp" if i % 20 == 7 else "ok",
                    "offline": False,
                    "actual_level": rng.choice((0, 50, 100)),
                    "last_seen_at": utcnow(),
                }
            )
        session.execute(Streetlight.__table__.insert(), rows)  # type: ignore[attr-defined]
    return ids


def seed_territory(engine: Any, user_id: int, lights: int = 5) -> dict[str, Any]:
    light_ids = seed_lights(engine, lights)
    now = utcnow()
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="AQ-AUD-01",
                kind="air_quality",
                name="Station Audun",
                commune_insee="57038",
                lat=49.471,
                lon=5.951,
                last_values='{"no2": 30, "pm10": 22}',
                last_seen_at=now,
            )
        )
        session.add(
            Sensor(
                id="TR-RUS-01",
                kind="traffic",
                name="Passage de Russange",
                commune_insee="57602",
                lat=49.489,
                lon=5.957,
                last_values='{"intensity": 320, "occupancy": 0.3}',
                last_seen_at=now,
            )
        )
        session.add(
            Sensor(
                id="WC-AUD-01",
                kind="waste_centre",
                name="Déchèterie d'Audun-le-Tiche",
                commune_insee="57038",
                lat=49.4655,
                lon=5.9645,
                last_values='{"in": 3, "out": 1}',
                last_seen_at=now,
            )
        )
        session.add(
            WasteCentreEstimate(
                sensor_id="WC-AUD-01", ts=now, wait_min=12.0, method="queue", queue=6, on_site=9
            )
        )
        report = Report(
            category="bulky_items",
            lat=49.468,
            lon=5.94,
            commune_insee="54580",
            address="Rue test",
            status="new",
            created_at=now - dt.timedelta(days=2),
        )
        done = Report(
            category="rubble",
            lat=49.42,
            lon=5.945,
            commune_insee="57041",
            status="resolved",
            created_at=now - dt.timedelta(days=5),
            resolved_at=now - dt.timedelta(days=1),
        )
        session.add_all([report, done])
        session.add(
            CarpoolAd(
                user_id=user_id,
                role="driver",
                frequency="regular",
                from_label="Audun-le-Tiche",
                from_lat=49.472,
                from_lon=5.955,
                to_label="Esch-sur-Alzette",
                to_lat=49.496,
                to_lon=5.98,
                distance_m=6000,
                cross_border=True,
            )
        )
        raise_alarm(session, light_ids[0], "defectiveLamp", now)
        session.add(  # an alarm raised by a maintenance rule on the air-quality station
            MaintenanceAlarm(
                subject="AQ-AUD-01",
                source="sensors",
                feature_id="AQ-AUD-01",
                title="PM2,5 élevées à Audun",
                severity="warning",
                commune_insee="57038",
                lat=49.471,
                lon=5.951,
                first_seen=now - dt.timedelta(minutes=20),
                last_seen=now,
                value="38",
            )
        )
        proposal = Proposal(  # a resident's idea, placed on the map
            author_id=user_id,
            title="Un composteur rue Foch",
            body="Pour les immeubles.",
            commune_insee="57038",
            lat=49.4725,
            lon=5.9560,
        )
        session.add(proposal)
        session.flush()
        alert = alerts.publish(
            session,
            alerts.clean_input(
                session, title="Route barrée", body="Travaux", topic="traffic", communes=["57038"]
            ),
            source="staff",
            sender="test@eclor",
        )
        return {
            "lights": light_ids,
            "report_id": report.id,
            "alert_id": alert.id,
            "proposal_id": proposal.id,
        }
