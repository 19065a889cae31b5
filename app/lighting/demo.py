"""``eclor demo`` for lighting and sensors: a believable fleet and some history.

About 2,500 streetlights in street groups across the 8 communes (a third
still old high-pressure sodium, the rest LED), control cabinets, dimming
programs and a calendar; the waste centre's counting gates, traffic counters
at the border crossings, an air-quality station and bin fill-level sensors;
four months of daily energy history and eight weeks of waiting times, so the
energy and waste-centre pages have something to show before the fleet has run.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from typing import Any

from sqlmodel import Session, col, select

from app.db import table_of, utcnow
from app.lighting import consumption
from app.lighting import programs as lighting
from app.db import upsert
from app.lighting.control import territory_position
from app.models.lighting import (
    LightCabinet,
    LightCalendar,
    LightDaily,
    LightEnergyMonth,
    LightGroup,
    LightProgram,
    Streetlight,
)
from app.models.sensors import Sensor, WasteCentreEstimate
from app.models.territory import Commune
from app.territories import zone as territory_zone

STREETS = [
    "Rue de la Gare",
    "Rue Jean Jaurès",
    "Avenue de la République",
    "Rue des Écoles",
    "Rue Pasteur",
    "Grand-Rue",
    "Rue du Moulin",
    "Rue de l'Église",
    "Rue Victor Hugo",
    "Rue de la Mine",
    "Cité des Mineurs",
    "Rue du Stade",
    "Rue de Luxembourg",
    "Rue du Maréchal Foch",
    "Rue des Jardins",
    "Rue de Verdun",
    "Place de la Mairie",
    "Rue Émile Zola",
    "Rue de la Paix",
    "Rue des Acacias",
    "Rue du Fort",
    "Rue de Metz",
    "Rue de Longwy",
    "Rue Saint-Pierre",
    "Rue des Tilleuls",
    "Chemin du Bois",
    "Rue de l'Alzette",
    "Rue Clemenceau",
]
GROUPS_PER_COMMUNE = {
    "57038": 14,
    "54580": 16,
    "57529": 9,
    "57565": 7,
    "57602": 6,
    "54523": 8,
    "57041": 8,
    "57097": 6,
}
LED_MODELS = [("Schréder Teceo 1", 39.0), ("Philips Luma gen2", 52.0), ("Thorn R2L2", 70.0)]
HPS_MODEL = ("Lanterne SHP 150 W (ballast compris)", 170.0)
LIGHT_PERIOD_S = 120

PROGRAMS = {
    "Abaissement 50 % 22 h – 6 h": [("dusk", 100), ("22:00", 50), ("06:00", 100), ("dawn", 0)],
    "Extinction 23 h – 5 h": [("dusk", 100), ("23:00", 0), ("05:00", 100), ("dawn", 0)],
    "Toute la nuit": [("dusk", 100), ("dawn", 0)],
}
DETECTION = (
    "Détection de présence",
    [("dusk", 80), ("22:00", 30), ("06:00", 80), ("dawn", 0)],
    100,
    120,
)

SENSORS = [
    (
        "WC-AUD-01",
        "waste_centre",
        "Déchèterie d'Audun-le-Tiche",
        "57038",
        49.4655,
        5.9645,
        {
            "bays": 12,
            "dwell_min": 15,
            "address": "Rue de la Déchèterie, 57390 Audun-le-Tiche",
            "opening": {
                "mon": ["09:00-12:00", "13:30-17:00"],
                "tue": ["09:00-12:00", "13:30-17:00"],
                "wed": ["09:00-12:00", "13:30-17:00"],
                "thu": ["09:00-12:00", "13:30-17:00"],
                "fri": ["09:00-12:00", "13:30-17:00"],
                "sat": ["09:00-17:00"],
            },
            "accepted": [
                "Encombrants",
                "Gravats",
                "Déchets verts",
                "Bois",
                "Métaux",
                "Cartons",
                "Appareils électriques",
                "Pneus (particuliers, 4 par an)",
                "Huiles et batteries",
                "Peintures et solvants",
            ],
        },
    ),
    (
        "TR-AUD-01",
        "traffic",
        "Audun-le-Tiche ↔ Esch-sur-Alzette",
        "57038",
        49.4790,
        5.9590,
        {"towards": "Esch-sur-Alzette", "laneDirection": "forward"},
    ),
    (
        "TR-RUS-01",
        "traffic",
        "Russange ↔ Belval",
        "57602",
        49.4890,
        5.9540,
        {"towards": "Esch-Belval", "laneDirection": "forward"},
    ),
    (
        "TR-RED-01",
        "traffic",
        "Rédange ↔ Belvaux",
        "57565",
        49.4990,
        5.9230,
        {"towards": "Belvaux", "laneDirection": "forward"},
    ),
    ("AQ-VIL-01", "air_quality", "Villerupt centre", "54580", 49.4675, 5.9290, {}),
    (
        "FL-AUD-0001",
        "fill_level",
        "Conteneur verre, place du Marché (Audun-le-Tiche)",
        "57038",
        49.4725,
        5.9540,
        {"storedWasteKind": "glass"},
    ),
    (
        "FL-VIL-0001",
        "fill_level",
        "Conteneur verre, rue de la Gare (Villerupt)",
        "54580",
        49.4660,
        5.9300,
        {"storedWasteKind": "glass"},
    ),
    (
        "FL-THI-0001",
        "fill_level",
        "Conteneur papier, mairie de Thil",
        "54523",
        49.4725,
        5.9060,
        {"storedWasteKind": "paper"},
    ),
]


def _program_row(name: str, pairs: list[tuple[str, int]], **options: object) -> LightProgram:
    program = lighting.Program.from_pairs(pairs, name=name, **options)
    return LightProgram(name=name, definition=json.dumps(program.to_dict()))


def load_lighting(session: Session, rng: random.Random) -> str | None:
    if session.scalars(select(col(Streetlight.id))).first() is not None:
        return None
    now = utcnow()
    programs = {name: _program_row(name, pairs) for name, pairs in PROGRAMS.items()}
    name, pairs, boost, hold = DETECTION
    programs[name] = _program_row(name, pairs, boost_level=boost, hold_s=hold)
    session.add_all(programs.values())
    session.flush()
    calendar = LightCalendar(
        name="Semaine, fêtes et 14 juillet",
        definition=json.dumps(
            {
                "version": 1,
                "default": "Abaissement 50 % 22 h – 6 h",
                "rules": [
                    {
                        "program": "Toute la nuit",
                        "start": "12-24",
                        "end": "01-01",
                        "yearly": True,
                        "priority": 10,
                        "label": "Fêtes de fin d'année",
                    },
                    {
                        "program": "Toute la nuit",
                        "start": "07-13",
                        "end": "07-14",
                        "yearly": True,
                        "priority": 10,
                        "label": "Fête nationale",
                    },
                    {
                        "program": "Toute la nuit",
                        "weekdays": [5],
                        "priority": 1,
                        "label": "Nuit du samedi",
                    },
                ],
            },
            ensure_ascii=False,
        ),
    )
    session.add(calendar)
    session.flush()

    communes = {c.insee: c for c in session.scalars(select(Commune)).all()}
    lights: list[dict[str, Any]] = []
    group_rows: list[LightGroup] = []
    cabinet_rows: list[LightCabinet] = []
    for insee, group_count in GROUPS_PER_COMMUNE.items():
        commune = communes.get(insee)
        if commune is None:
            continue
        code = commune.name[:3].upper().replace("É", "E").replace("-", "")
        streets = rng.sample(STREETS, group_count)
        cabinets = []
        for index in range((group_count + 3) // 4):
            cabinet_id = f"CAB-{code}-{index + 1:02d}"
            lat = commune.lat + rng.uniform(-0.006, 0.006)
            lon = commune.lon + rng.uniform(-0.008, 0.008)
            cabinets.append(cabinet_id)
            cabinet_rows.append(
                LightCabinet(
                    id=cabinet_id,
                    name=f"Armoire {commune.name} n° {index + 1}",
                    commune_insee=insee,
                    lat=lat,
                    lon=lon,
                )
            )
        for index, street in enumerate(streets):
            group_id = f"{code}-{index + 1:02d}"
            hps = rng.random() < 0.33
            if hps:
                program = programs[
                    "Toute la nuit" if rng.random() < 0.5 else "Extinction 23 h – 5 h"
                ]
                calendar_id = None
            else:
                choice = rng.random()
                program = programs[
                    "Abaissement 50 % 22 h – 6 h" if choice < 0.5 else "Détection de présence"
                ]
                calendar_id = calendar.id if choice < 0.3 else None
            cabinet_id = cabinets[index // 4]
            group_rows.append(
                LightGroup(
                    id=group_id,
                    name=f"{street} ({commune.name})",
                    commune_insee=insee,
                    cabinet_id=cabinet_id,
                    program_id=program.id,
                    calendar_id=calendar_id,
                )
            )
            model, nominal = HPS_MODEL if hps else rng.choice(LED_MODELS)
            count = rng.randint(18, 42)
            angle = rng.uniform(0, math.pi)
            start_lat = commune.lat + rng.uniform(-0.012, 0.012)
            start_lon = commune.lon + rng.uniform(-0.016, 0.016)
            step_m = rng.uniform(25, 35)
            for n in range(count):
                bend = math.sin(n / 9) * 0.0006
                d_lat = math.sin(angle) * step_m * n / 111_000 + bend
                d_lon = (
                    math.cos(angle) * step_m * n / (111_000 * math.cos(math.radians(commune.lat)))
                )
                light_id = f"SL-{code}-{index + 1:02d}{n + 1:03d}"
                lights.append(
                    {
                        "id": light_id,
                        "device_id": light_id,
                        "group_id": group_id,
                        "cabinet_id": cabinet_id,
                        "commune_insee": insee,
                        "street": street,
                        "lat": round(start_lat + d_lat, 6),
                        "lon": round(start_lon + d_lon, 6),
                        "model": model,
                        "technology": "HPS" if hps else "LED",
                        "nominal_w": nominal,
                        "circuit": f"{cabinet_id}-C{index % 4 + 1}",
                        "reporting_period_s": LIGHT_PERIOD_S,
                        "status": "ok",
                        "offline": False,
                    }
                )
    session.add_all(cabinet_rows)
    session.flush()
    session.add_all(group_rows)
    session.flush()
    session.execute(table_of(Streetlight).insert(), lights)

    for sensor_id, kind, label, insee, lat, lon, meta in SENSORS:
        session.add(
            Sensor(
                id=sensor_id,
                kind=kind,
                name=label,
                commune_insee=insee,
                lat=lat,
                lon=lon,
                reporting_period_s=30,
                meta=json.dumps(meta, ensure_ascii=False),
                last_values=json.dumps(_initial_values(kind, rng, now)),
                last_seen_at=now,
            )
        )
    session.flush()
    days = _energy_history(
        session,
        rng,
        now,
        lights,
        {g.id: g for g in group_rows},
        {p.id: p for p in programs.values()},
    )
    waits = _wait_history(session, rng, now)
    return (
        f"{len(lights)} streetlights in {len(group_rows)} groups, {len(cabinet_rows)} cabinets, "
        f"{len(SENSORS)} sensors, {days} days of energy history, {waits} waiting-time points"
    )


def _initial_values(kind: str, rng: random.Random, now: dt.datetime) -> dict[str, object]:
    ts = now.isoformat()
    if kind == "traffic":
        return {
            "intensity": rng.randint(150, 500),
            "occupancy": round(rng.uniform(0.08, 0.3), 3),
            "averageVehicleSpeed": round(rng.uniform(35, 65), 1),
            "congested": False,
            "ts": ts,
        }
    if kind == "air_quality":
        return {"no2": 24.0, "pm10": 19.0, "pm25": 11.0, "o3": 48.0, "ts": ts}
    if kind == "fill_level":
        return {"fillingLevel": round(rng.uniform(0.1, 0.8), 3), "ts": ts}
    return {}


def _energy_history(
    session: Session,
    rng: random.Random,
    now: dt.datetime,
    lights: list[dict[str, Any]],
    groups: dict[str, LightGroup],
    programs: dict[int | None, LightProgram],
) -> int:
    """Daily energy per light for the current month and the three before (up to yesterday)."""
    from app.lighting.control import load_calendar, load_program

    position = territory_position(session)
    tz = position.tz
    local = now.astimezone(tz)
    month = local.month - 3
    year = local.year
    while month < 1:
        month, year = month + 12, year - 1
    first = dt.date(year, month, 1)
    today = local.date()
    days = [first + dt.timedelta(days=n) for n in range((today - first).days)]
    calendars = {
        c.id: load_calendar(session, c) for c in session.scalars(select(LightCalendar)).all()
    }
    sources = {}
    for group in groups.values():
        sources[group.id] = (
            calendars[group.calendar_id]
            if group.calendar_id
            else load_program(programs[group.program_id])
        )
    per_day: dict[tuple[str, float, dt.date], float] = {}
    rows: list[dict[str, Any]] = []
    for light in lights:
        group_id = str(light["group_id"])
        nominal = float(light["nominal_w"])
        hps = light["technology"] == "HPS"
        for day in days:
            key = (group_id if not hps else f"hps:{groups[group_id].program_id}", nominal, day)
            if key not in per_day:
                start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
                per_day[key] = consumption.energy_between_kwh(
                    sources[group_id],
                    nominal,
                    position,
                    start,
                    start + dt.timedelta(days=1),
                    driver_floor=0.0 if hps else 0.10,
                )
            kwh = per_day[key] * rng.uniform(0.96, 1.04)
            rows.append(
                {
                    "light_id": light["id"],
                    "day": day,
                    "samples": 24 * 3600 // LIGHT_PERIOD_S,
                    "level_sum": 0.0,
                    "power_sum_w": 0.0,
                    "energy_wh": round(kwh * 1000, 1),
                }
            )
    for offset in range(0, len(rows), 5000):
        session.execute(table_of(LightDaily).insert(), rows[offset : offset + 5000])
    group_of = {str(light["id"]): str(light["group_id"]) for light in lights}
    months: dict[tuple[str, str], float] = {}  # what ingestion keeps for the energy page
    for row in rows:
        month_key = (row["day"].strftime("%Y-%m"), group_of[row["light_id"]])
        months[month_key] = months.get(month_key, 0.0) + row["energy_wh"]
    upsert(
        session,
        LightEnergyMonth,
        ["month", "group_id"],
        [
            {"month": month, "group_id": group_id, "energy_wh": wh}
            for (month, group_id), wh in months.items()
        ],
        add=["energy_wh"],
    )
    _history_into_store(session, lights, rows)
    return len(days)


def _history_into_store(
    session: Session, lights: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> None:
    """The same daily energy in the one time-series store (lights, their groups and cabinets)."""
    from app import timeseries
    from app.ngsi import urn

    by_id = {str(light["id"]): light for light in lights}
    zone = territory_zone(session)  # the demo's lights are the default territory's
    samples = []
    for row in rows:
        light = by_id[str(row["light_id"])]
        moment = dt.datetime.combine(row["day"], dt.time(12), tzinfo=zone)
        kwh = float(row["energy_wh"]) / 1000
        for entity_type, key in (
            ("Streetlight", "id"),
            ("StreetlightGroup", "group_id"),
            ("StreetlightControlCabinet", "cabinet_id"),
        ):
            if light.get(key):
                samples.append(
                    timeseries.Sample(
                        urn(entity_type, str(light[key])), "energyConsumed", moment, kwh, zone
                    )
                )
    timeseries.record(session, samples, daily_only=True)


def _wait_history(session: Session, rng: random.Random, now: dt.datetime) -> int:
    """Eight weeks of waiting times every 15 minutes during opening hours (Monday–Saturday 9:00–18:00)."""
    tz = territory_zone(session)  # the demo's waste centre is the default territory's
    local_today = now.astimezone(tz).date()
    rows = []
    for back in range(56, 0, -1):
        day = local_today - dt.timedelta(days=back)
        weekday = day.weekday()
        if weekday == 6:
            continue
        for quarter in range(9 * 4, 18 * 4):
            hour = quarter / 4
            if weekday == 5:
                base = (
                    6
                    + 14 * math.exp(-((hour - 10.8) ** 2) / 2.5)
                    + 6 * math.exp(-((hour - 15.5) ** 2) / 2)
                )
            else:
                base = (
                    1
                    + 5 * math.exp(-((hour - 17.2) ** 2) / 0.8)
                    + 2.5 * math.exp(-((hour - 11) ** 2) / 1.5)
                )
            wait = max(0.0, base * rng.uniform(0.75, 1.25) + rng.gauss(0, 0.6))
            moment = dt.datetime.combine(day, dt.time(int(hour), int((hour % 1) * 60)), tzinfo=tz)
            rows.append(
                {
                    "sensor_id": "WC-AUD-01",
                    "ts": moment.astimezone(dt.UTC),
                    "wait_min": round(wait, 1),
                    "method": "queue",
                    "queue": int(wait * 0.6),
                    "on_site": 10,
                    "saturated": False,
                }
            )
    session.execute(table_of(WasteCentreEstimate).insert(), rows)
    return len(rows)
