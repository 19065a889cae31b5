"""Seeds every domain that publishes open data, with personal data that must never be published."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.engine import Engine

from app import auth
from app.db import utcnow, write_session
from app.models.carpool import CarpoolAd, CarpoolBooking, CarpoolMessage, CarpoolProfile
from app.models.participation import Budget, BudgetProject, Consultation
from app.models.lighting import LightEnergyMonth, LightGroup, Streetlight
from app.models.push import Alert
from app.models.reports import Report, ReportEvent
from app.models.sensors import Sensor, SensorHourly, WasteCentreEstimate
from app.models.shops import Shop, ShopHours, ShopOrder
from app.participation import budgets, consultations

NAME = "Bérénice Quintal-Ferrand"
EMAIL = "berenice.quintal@exemple-perso.fr"
PHONE = "06 12 34 56 78"
FREE_TEXT = "derrière le garage de ma voisine, elle sort ses sacs la nuit"
AUDUN = (49.4721, 5.9553)
LUX_GARE = (49.6000, 6.1333)
VILLERUPT = (49.4673, 5.9291)
ESCH = (49.4958, 5.9806)


def seed(engine: Engine) -> dict[str, Any]:
    now = utcnow()
    with write_session(engine) as s:
        person = auth.create_user(s, EMAIL, display_name=NAME)
        driver = auth.create_user(
            s, "conducteur.prive@exemple-perso.fr", display_name="Gérald Vanbeselaere"
        )
        merchant = auth.create_user(
            s, "marchande@exemple-perso.fr", role="merchant", display_name="Odile Marchal"
        )
        s.add(CarpoolProfile(user_id=person.id, first_name=NAME, phone=PHONE, about=FREE_TEXT))
        for i, status in enumerate(("new", "confirmed", "resolved", "hidden", "rejected")):
            report = Report(
                category="bulky_items",
                status=status,
                lat=AUDUN[0] + i * 0.00037,
                lon=AUDUN[1] + 0.000441,
                description=f"{FREE_TEXT}. Appelez {NAME} au {PHONE} ou {EMAIL}",
                address=FREE_TEXT,
                commune_insee="57038",
                reporter_id=person.id,
                contact_email=EMAIL,
                contact_name=NAME,
                status_notes=f"Merci {NAME}",
                created_at=now - dt.timedelta(days=3 - i % 3),
                resolved_at=now if status == "resolved" else None,
            )
            s.add(report)
            s.flush()
            s.add(ReportEvent(report_id=report.id, actor_id=person.id, kind="note", text=FREE_TEXT))
        # Carpool: one flow of 3 trips (suppressed), one of 12 trips (published).
        small = CarpoolAd(
            user_id=driver.id,
            role="driver",
            frequency="punctual",
            from_label=FREE_TEXT,
            from_lat=AUDUN[0],
            from_lon=AUDUN[1],
            to_label=f"Chez {NAME}",
            to_lat=LUX_GARE[0],
            to_lon=LUX_GARE[1],
            distance_m=25_000,
            cross_border=True,
            departure_at=now - dt.timedelta(days=2),
            seats=3,
            seats_left=0,
            comment=FREE_TEXT,
        )
        s.add(small)
        s.flush()
        booking = CarpoolBooking(
            ad_id=small.id,
            requester_id=person.id,
            owner_id=driver.id,
            seats=3,
            status="accepted",
            accepted_at=now - dt.timedelta(days=4),
        )
        s.add(booking)
        s.flush()
        s.add(
            CarpoolMessage(booking_id=booking.id, sender_id=person.id, body=f"{FREE_TEXT} {PHONE}")
        )
        for i in range(12):
            ad = CarpoolAd(
                user_id=driver.id,
                role="driver",
                frequency="punctual",
                from_label="Villerupt",
                from_lat=VILLERUPT[0],
                from_lon=VILLERUPT[1],
                to_label="Esch",
                to_lat=ESCH[0],
                to_lon=ESCH[1],
                distance_m=6_000,
                cross_border=True,
                departure_at=now - dt.timedelta(hours=2 + i),
                seats=1,
                seats_left=0,
            )
            s.add(ad)
            s.flush()
            s.add(
                CarpoolBooking(
                    ad_id=ad.id,
                    requester_id=person.id,
                    owner_id=driver.id,
                    seats=1,
                    status="accepted",
                    accepted_at=now - dt.timedelta(days=1),
                )
            )
        # Lighting: two lamps in a group, and a month of energy.
        s.add(LightGroup(id="G-OD", name="Rue de la Gare", commune_insee="54580"))
        s.flush()
        for n in (1, 2):
            s.add(
                Streetlight(
                    id=f"SL-OD-{n}",
                    device_id=f"lamp-od-{n}",
                    commune_insee="54580",
                    group_id="G-OD",
                    street="Rue de la Gare",
                    lat=VILLERUPT[0] + n * 0.001,
                    lon=VILLERUPT[1],
                    status="ok",
                    actual_level=60,
                    last_seen_at=now,
                )
            )
        s.flush()
        s.add(LightEnergyMonth(month=now.strftime("%Y-%m"), group_id="G-OD", energy_wh=1400.0))
        # Sensors: a crossing, an air station and the waste centre, one hour of history each.
        hour = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
        s.add(
            Sensor(
                id="TR-OD-01",
                kind="traffic",
                name="Passage Audun – Esch",
                commune_insee="57038",
                lat=49.48,
                lon=5.97,
                meta=json.dumps({"towards": "Esch-sur-Alzette"}),
                last_values="{}",
            )
        )
        s.add(
            Sensor(
                id="AQ-OD-01",
                kind="air_quality",
                name="Station Villerupt",
                commune_insee="54580",
                lat=49.467,
                lon=5.93,
                meta="{}",
                last_values="{}",
            )
        )
        s.add(
            Sensor(
                id="WC-OD-01",
                kind="waste_centre",
                name="Déchèterie",
                commune_insee="57038",
                lat=49.47,
                lon=5.95,
                meta="{}",
                last_values="{}",
            )
        )
        s.add(
            Sensor(
                id="CPT-OD-01",
                kind="counter",
                name="Rue du Centre",
                commune_insee="57038",
                lat=49.472,
                lon=5.955,
                reporting_period_s=900,
                meta=json.dumps({"classes": ["pedestrian", "bike"], "operator": EMAIL}),
                last_values="{}",
                last_seen_at=now,
            )
        )
        s.add(
            Sensor(
                id="PV-OD-01",
                kind="solar",
                name="Toiture de la mairie",
                commune_insee="57038",
                lat=49.472,
                lon=5.955,
                meta=json.dumps({"peak_kw": 9, "azimuth": 180, "tilt": 30}),
                last_values="{}",
            )
        )
        s.flush()
        s.add(
            SensorHourly(
                sensor_id="CPT-OD-01",
                hour=hour,
                samples=4,
                sums_json=json.dumps({"pedestrian_in": 52, "pedestrian_out": 40, "bike_in": 7}),
            )
        )
        s.add(
            SensorHourly(
                sensor_id="PV-OD-01",
                hour=hour,
                samples=4,
                sums_json=json.dumps({"power_w": 20000.0, "expected_w": 24000.0}),
            )
        )
        s.add(
            SensorHourly(
                sensor_id="TR-OD-01",
                hour=hour,
                samples=4,
                sums_json=json.dumps(
                    {
                        "intensity": 2400,
                        "occupancy": 0.8,
                        "averageVehicleSpeed": 180,
                        "congested": 1,
                    }
                ),
            )
        )
        s.add(
            SensorHourly(
                sensor_id="AQ-OD-01",
                hour=hour,
                samples=2,
                sums_json=json.dumps({"no2": 40, "pm10": 30, "pm25": 18, "o3": 90}),
            )
        )
        for minute in range(0, 30, 10):
            s.add(
                WasteCentreEstimate(
                    sensor_id="WC-OD-01",
                    ts=hour + dt.timedelta(minutes=minute),
                    wait_min=4.0 + minute / 10,
                    method="queue",
                )
            )
        # Shops: phone, description and orders stay private.
        shop = Shop(
            owner_id=merchant.id,
            slug="boulangerie-od",
            name="Boulangerie du Centre",
            category="bakery",
            description=f"{FREE_TEXT} {EMAIL}",
            address="1 place de l'Hôtel de Ville",
            commune_insee="54580",
            lat=49.4671,
            lon=5.9288,
            phone=PHONE,
        )
        s.add(shop)
        s.flush()
        for weekday in range(5):
            s.add(
                ShopHours(
                    shop_id=shop.id, weekday=weekday, opens=dt.time(7), closes=dt.time(12, 30)
                )
            )
        s.add(ShopHours(shop_id=shop.id, weekday=5, opens=dt.time(7), closes=dt.time(12)))
        s.add(
            ShopOrder(
                shop_id=shop.id,
                customer_id=person.id,
                customer_name=NAME,
                note=FREE_TEXT,
                pickup_at=now,
            )
        )
        # Alerts: a public one and an exercise (not published).
        for status in ("Actual", "Exercise"):
            s.add(
                Alert(
                    identifier=f"eclor-od-{status}",
                    sender="eclor@example",
                    sent_at=now,
                    status=status,
                    event="Fermeture de route",
                    title="Route fermée à Ottange",
                    body="Travaux.",
                    instruction="",
                    topic="traffic",
                    communes=",57529,",
                    created_by=person.id,
                )
            )
        # Consultations: a closed one with 14 responses (a choice taken 12 times is published, one
        # taken twice is not) and the resident's free text, which is never published.
        consultation = Consultation(
            title="Horaires de la déchèterie",
            opens_at=now - dt.timedelta(days=30),
            closes_at=now - dt.timedelta(days=1),
        )
        s.add(consultation)
        s.flush()
        hours = consultations.add_question(
            s,
            consultation,
            kind="single",
            label="Quel horaire ?",
            options="Matin\nSoir",
            required=True,
        )
        remark = consultations.add_question(
            s, consultation, kind="text", label="Une remarque ?", options="", required=False
        )
        consultation.published = True
        for n in range(14):
            answers = [consultations.Answer(hours.id, choices=[0 if n < 12 else 1])]
            if n == 0:
                answers.append(consultations.Answer(remark.id, text=FREE_TEXT))
            consultations.insert_response(
                s,
                consultation,
                answers,
                f"user:{person.id}" if n == 0 else f"od:{n}",
                None,
                "57038",
            )
        # A participatory budget whose vote is closed: its results are public.
        budget = Budget(title="Budget 2026", commune_insee="57038", envelope=30_000, phase="vote")
        s.add(budget)
        s.flush()
        garden = BudgetProject(budget_id=budget.id, title="Jardin", cost=18_000, status="feasible")
        benches = BudgetProject(budget_id=budget.id, title="Bancs", cost=20_000, status="feasible")
        s.add_all([garden, benches])
        s.flush()
        for n in range(5):
            budgets.cast(
                s,
                budgets.Vote(budget.id, [garden.id if n < 3 else benches.id], f"od:{n}", "57038"),
            )
        budgets.move_phase(s, budget, "results")
    return {"person_id": person.id}
