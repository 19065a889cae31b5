"""Years of activity for the decision-support pages: reports, lighting energy, carpool trips, sensors'
daily measures, shop orders and loans, for this territory (scale 1) or one ``scale`` times larger
(more communes, with populations, and as many times more of everything). Used by the browser test
and ``bench/insights.py``."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

from sqlalchemy import insert, select

from app.db import table_of, utcnow, write_session
from app.models.accounts import User
from app.models.carpool import CarpoolAd, CarpoolBooking
from app.models.insights import InsightsPopulation
from app.models.lighting import LightEnergyMonth, LightGroup
from app.models.measures import MeasureDaily
from app.models.reports import Report
from app.models.sensors import Sensor, SensorHourly
from app.models.sharing import Loan, SharedItem
from app.models.shops import Shop, ShopOrder
from app.models.territory import Commune
from app.sensors.ngsi_ld import SENSOR_TYPES

LUX = [
    (49.6296, 6.1619),
    (49.5999, 6.1335),
    (49.5006, 5.9430),
    (49.5811, 6.1150),
    (49.5242, 5.8914),
]
SCHEDULE = json.dumps({str(d): [450, 15] for d in range(5)})


def _bulk(session, model, rows: list[dict]) -> None:
    for i in range(0, len(rows), 5000):
        session.execute(insert(table_of(model)), rows[i : i + 5000])


def seed(engine, *, years: int = 5, scale: int = 1, seed_value: int = 7) -> dict[str, int]:
    rng = random.Random(seed_value)
    now = utcnow()
    start = now - timedelta(days=365 * years)
    days = (now - start).days
    counts: dict[str, int] = {}
    with write_session(engine) as session:
        communes = list(session.scalars(select(Commune)))
        territory_id = communes[0].territory_id
        extra = []
        for i in range(len(communes) * (scale - 1)):  # a territory `scale` times larger
            base = communes[i % len(communes)]
            extra.append(
                Commune(
                    insee=f"9{i:04d}",
                    code=f"9{i:04d}",
                    territory_id=territory_id,
                    name=f"Commune {i + 1}",
                    postcode="99000",
                    lat=base.lat + rng.uniform(-0.05, 0.05),
                    lon=base.lon + rng.uniform(-0.05, 0.05),
                )
            )
        session.add_all(extra)
        session.flush()
        session.add_all(
            InsightsPopulation(
                insee=c.insee,
                population=rng.randrange(800, 9000),
                year=2022,
                source="Population simulée (banc d'essai)",
            )
            for c in extra
        )
        session.flush()
        communes = list(session.scalars(select(Commune)))
        codes = [c.insee for c in communes]
        users = [
            {"email": f"seed{i}@eclor.test", "role": "resident", "commune_insee": rng.choice(codes)}
            for i in range(60 * scale)
        ]
        _bulk(session, User, users)
        user_ids = list(session.scalars(select(User.id).where(User.email.like("seed%"))))
        # reports: about 1,500 a year for this territory
        n = 1500 * years * scale
        rows = []
        for _ in range(n):
            created = start + timedelta(minutes=rng.randrange(days * 1440))
            resolved = rng.random() < 0.7
            rows.append(
                {
                    "category": rng.choice(("tyres", "rubble", "bulky_items")),
                    "lat": 49.47,
                    "lon": 5.95,
                    "commune_insee": rng.choice(codes),
                    "status": "resolved" if resolved else "new",
                    "created_at": created,
                    "updated_at": created,
                    "resolved_at": created + timedelta(days=rng.randrange(1, 30))
                    if resolved
                    else None,
                }
            )
        _bulk(session, Report, rows)
        counts["reports"] = n
        # lighting: 80 groups, energy per month
        groups = [
            {"id": f"G-{i}", "name": f"Groupe {i}", "commune_insee": rng.choice(codes)}
            for i in range(80 * scale)
        ]
        _bulk(session, LightGroup, groups)
        energy = []
        month = date(start.year, start.month, 1)
        while month <= now.date():
            for g in groups:
                energy.append(
                    {
                        "month": month.strftime("%Y-%m"),
                        "group_id": g["id"],
                        "energy_wh": rng.uniform(300_000, 900_000)
                        * (1.4 if month.month in (11, 12, 1) else 1),
                    }
                )
            month = (month + timedelta(days=32)).replace(day=1)
        _bulk(session, LightEnergyMonth, energy)
        counts["energy_months"] = len(energy)
        # carpool: regular commutes booked for months, and one-off trips
        ads, bookings = [], []
        next_id = 1_000_000
        for _ in range(300 * scale):
            home = rng.choice(communes)
            lux = rng.choice(LUX)
            created = start + timedelta(days=rng.randrange(days))
            regular = rng.random() < 0.8
            next_id += 1
            ads.append(
                {
                    "id": next_id,
                    "user_id": rng.choice(user_ids),
                    "role": rng.choice(("driver", "driver", "passenger")),
                    "frequency": "regular" if regular else "punctual",
                    "from_label": home.name,
                    "from_lat": home.lat,
                    "from_lon": home.lon,
                    "to_label": "Luxembourg",
                    "to_lat": lux[0],
                    "to_lon": lux[1],
                    "distance_m": rng.randrange(12_000, 40_000),
                    "cross_border": True,
                    "departure_at": None if regular else created + timedelta(days=3),
                    "schedule": SCHEDULE if regular else "{}",
                    "days_mask": 31 if regular else 0,
                    "valid_until": (created + timedelta(days=rng.randrange(60, 400))).date()
                    if regular
                    else None,
                    "seats": 3,
                    "seats_left": 2,
                    "status": "active",
                    "created_at": created,
                    "updated_at": created,
                }
            )
            if rng.random() < 0.75:
                bookings.append(
                    {
                        "ad_id": next_id,
                        "requester_id": rng.choice(user_ids),
                        "owner_id": ads[-1]["user_id"],
                        "seats": rng.choice((1, 1, 2)),
                        "status": "accepted",
                        "distance_m": ads[-1]["distance_m"],
                        "created_at": created,
                        "updated_at": created,
                        "accepted_at": created + timedelta(hours=5),
                    }
                )
        _bulk(session, CarpoolAd, ads)
        _bulk(session, CarpoolBooking, bookings)
        counts["carpool_ads"], counts["carpool_bookings"] = len(ads), len(bookings)
        # sensors: traffic, waste centres, air quality; daily measures, hourly traffic for 3 months
        sensors = []
        for i in range(3 * scale):
            c = rng.choice(communes)
            sensors.append(
                {
                    "id": f"TR-{i}",
                    "kind": "traffic",
                    "name": f"Passage {i + 1}",
                    "commune_insee": c.insee,
                    "lat": c.lat,
                    "lon": c.lon,
                }
            )
        for i in range(2 * scale):
            c = rng.choice(communes)
            sensors.append(
                {
                    "id": f"WC-{i}",
                    "kind": "waste_centre",
                    "name": f"Déchèterie {i + 1}",
                    "commune_insee": c.insee,
                    "lat": c.lat,
                    "lon": c.lon,
                }
            )
        for i in range(2 * scale):
            c = rng.choice(communes)
            sensors.append(
                {
                    "id": f"AQ-{i}",
                    "kind": "air_quality",
                    "name": f"Air {i + 1}",
                    "commune_insee": c.insee,
                    "lat": c.lat,
                    "lon": c.lon,
                }
            )
        _bulk(session, Sensor, [{**s, "meta": "{}", "last_values": "{}"} for s in sensors])
        daily, hourly = [], []
        for s in sensors:
            entity = f"urn:ngsi-ld:{SENSOR_TYPES.get(s['kind'], 'Device')}:{s['id']}"
            for d in range(days):
                day = (start + timedelta(days=d)).date()
                if s["kind"] == "traffic":
                    daily.append(
                        {
                            "entity": entity,
                            "measure": "intensity",
                            "day": day,
                            "count": 1440,
                            "total": 1440 * rng.uniform(200, 600),
                            "low": 0.0,
                            "high": 1500.0,
                        }
                    )
                elif s["kind"] == "waste_centre":
                    daily.append(
                        {
                            "entity": entity,
                            "measure": "admissions",
                            "day": day,
                            "count": 600,
                            "total": 0.0,
                            "low": 0.0,
                            "high": float(rng.randrange(80, 400)),
                        }
                    )
                else:
                    for m, lo, hi in (("no2", 10, 40), ("pm10", 8, 30)):
                        daily.append(
                            {
                                "entity": entity,
                                "measure": m,
                                "day": day,
                                "count": 24,
                                "total": 24 * rng.uniform(lo, hi),
                                "low": float(lo),
                                "high": float(hi),
                            }
                        )
            if s["kind"] == "traffic":
                for h in range(24 * 92):
                    hour = (now - timedelta(hours=h)).replace(minute=0, second=0, microsecond=0)
                    local_hour = (hour.hour + 1) % 24
                    peak = 3.0 if local_hour in (6, 7, 8, 17, 18) else 1.0
                    hourly.append(
                        {
                            "sensor_id": s["id"],
                            "hour": hour,
                            "samples": 60,
                            "sums_json": json.dumps(
                                {"intensity": 60 * rng.uniform(100, 300) * peak}
                            ),
                        }
                    )
        _bulk(session, MeasureDaily, daily)
        _bulk(session, SensorHourly, hourly)
        counts["measure_daily"], counts["sensor_hourly"] = len(daily), len(hourly)
        # shops and their orders; items and loans
        merchants = user_ids[: 20 * scale]
        shops = [
            {
                "owner_id": m,
                "slug": f"shop-{i}",
                "name": f"Boutique {i}",
                "category": "food",
                "description": "",
                "address": "1 rue",
                "commune_insee": rng.choice(codes),
            }
            for i, m in enumerate(merchants)
        ]
        _bulk(session, Shop, shops)
        shop_ids = list(session.scalars(select(Shop.id)))
        orders = []
        for _ in range(2000 * years * scale):
            created = start + timedelta(minutes=rng.randrange(days * 1440))
            orders.append(
                {
                    "shop_id": rng.choice(shop_ids),
                    "status": rng.choice(("collected", "collected", "cancelled")),
                    "pickup_at": created + timedelta(hours=3),
                    "total_cents": rng.randrange(500, 8000),
                    "created_at": created,
                    "updated_at": created,
                }
            )
        _bulk(session, ShopOrder, orders)
        items = [
            {
                "owner_id": rng.choice(user_ids),
                "kind": "lend",
                "title": f"Objet {i}",
                "description": "",
                "category": "tools",
                "commune_insee": rng.choice(codes),
                "status": "active",
                "expires_at": now + timedelta(days=30),
            }
            for i in range(100 * scale)
        ]
        _bulk(session, SharedItem, items)
        item_ids = list(session.scalars(select(SharedItem.id)))
        loans = []
        for _ in range(600 * years * scale):
            created = start + timedelta(minutes=rng.randrange(days * 1440))
            gift = rng.random() < 0.2
            loans.append(
                {
                    "item_id": rng.choice(item_ids),
                    "borrower_id": rng.choice(user_ids),
                    "kind": "gift" if gift else "loan",
                    "status": "handed_over" if gift else "returned",
                    "created_at": created,
                    "updated_at": created,
                }
            )
        _bulk(session, Loan, loans)
        counts["orders"], counts["loans"] = len(orders), len(loans)
    return counts
