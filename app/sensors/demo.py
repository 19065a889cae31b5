"""Demo data of the sensors domain: solar sites, public buildings' meters and counting devices (the
fleet simulator plays them, ``eclor fleet``), and a night-flow rule watching the water meters."""

from __future__ import annotations

import json
import random

from sqlmodel import Session, col, select

from app.db import utcnow
from app.models.sensors import Sensor

AUDUN, VILLERUPT, RUSSANGE = "57038", "54580", "57602"
DEVICES = [
    (
        "PV-AUD-MAIRIE",
        "solar",
        "Toiture de la mairie d'Audun-le-Tiche",
        AUDUN,
        49.4722,
        5.9553,
        {
            "peak_kw": 9.0,
            "azimuth": 180,
            "tilt": 30,
            "metering_started": "2024-04-01T00:00:00Z",
            "injection": "none",
        },
    ),
    (
        "PV-VIL-GYMNASE",
        "solar",
        "Gymnase de Villerupt",
        VILLERUPT,
        49.4668,
        5.9312,
        {
            "peak_kw": 36.0,
            "azimuth": 165,
            "tilt": 12,
            "metering_started": "2025-06-01T00:00:00Z",
            "injection": "total",
        },
    ),
    (
        "EAU-AUD-GYMNASE",
        "water_meter",
        "Gymnase d'Audun-le-Tiche - eau",
        AUDUN,
        49.4731,
        5.9571,
        {"building": "Gymnase d'Audun-le-Tiche", "area_m2": 1400},
    ),
    (
        "EAU-VIL-ECOLE",
        "water_meter",
        "École Jules-Ferry - eau",
        VILLERUPT,
        49.4655,
        5.9281,
        {"building": "École Jules-Ferry", "area_m2": 2100},
    ),
    (
        "NRJ-AUD-MAIRIE",
        "energy_meter",
        "Mairie d'Audun-le-Tiche - chaufferie gaz",
        AUDUN,
        49.4722,
        5.9553,
        {
            "building": "Mairie d'Audun-le-Tiche",
            "medium": "gas",
            "area_m2": 950,
            "temperature_sensor": "AQ-VIL-01",
        },
    ),
    (
        "CPT-AUD-CENTRE",
        "counter",
        "Rue Maréchal-Foch, Audun-le-Tiche",
        AUDUN,
        49.4719,
        5.9538,
        {
            "place": "Devant la médiathèque",
            "classes": ["pedestrian", "bike", "car", "truck"],
            "operator": "Communauté de communes Pays-Haut Val d'Alzette",
            "technology": "Telraam S2 (comptage dans l'appareil)",
            "directions": {"in": "vers le centre", "out": "vers Esch-sur-Alzette"},
        },
    ),
    (
        "CPT-RUS-BELVAL",
        "counter",
        "Route de Belval, Russange",
        RUSSANGE,
        49.4885,
        5.9536,
        {
            "place": "Piste cyclable transfrontalière",
            "classes": ["pedestrian", "bike"],
            "operator": "Commune de Russange",
            "technology": "OpenDataCam (comptage dans l'appareil)",
            "directions": {"in": "vers Belval", "out": "vers Russange"},
        },
    ),
]


def load_devices(session: Session, rng: random.Random) -> str | None:
    """Add the demo's solar sites, meters and counting devices (once)."""
    ids = [d[0] for d in DEVICES]
    if session.scalars(select(col(Sensor.id)).where(col(Sensor.id).in_(ids))).first():
        return None
    for sensor_id, kind, name, insee, lat, lon, meta in DEVICES:
        session.add(
            Sensor(
                id=sensor_id,
                kind=kind,
                name=name,
                commune_insee=insee,
                lat=lat,
                lon=lon,
                reporting_period_s=900 if kind == "counter" else 60,
                meta=json.dumps(meta, ensure_ascii=False),
                last_seen_at=utcnow(),
            )
        )
    return f"{len(DEVICES)} solar sites, buildings' meters and counting devices"
