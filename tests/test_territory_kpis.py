"""The operations centre's KPIs on an install of several territories: every KPI of a territory is
computed from that territory's rows only (its lights, reports, sensors, carpool bookings, alarms,
work orders, alerts, proposals...), with its own time zone and position, so the Minett's rows never
change a value of the first territory, and the Minett's KPIs count the Minett's rows.

Every KPI the domains declare (``domains_ops.kpis()``) is swept: a KPI added later is covered too."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from app import domains_ops, territories
from app.alerts import publish as alerts
from app.db import read_session, utcnow, write_session
from app.models.carpool import CarpoolAd, CarpoolBooking
from app.models.lighting import LightEnergyMonth, Streetlight
from app.models.maintenance import WorkOrder
from app.models.measures import MeasureDaily
from app.models.reports import Report
from app.models.sensors import Sensor, WasteCentreEstimate
from app.ops import centre
from app.ops.kpicache import KpiCache
from app.sensors.ngsi_ld import SENSOR_TYPES, urn
from tests.lighting_helpers import seed_lights
from tests.test_territories import ESCH, add_minett
from tests.test_territory_lighting import seed_minett
from tests.test_territory_ops_layers import _seed

AUDUN = (49.47133, 5.95122)  # the first territory's commune 57038, 3 km from Esch across the border
ESCH_AT = (49.50311, 5.97733)


def _rows(
    engine: Any, user_id: int, territory_id: int, commune: str, tag: str, at: tuple[float, float]
) -> None:
    """What the KPIs count that ``_seed`` does not add: this month's lighting energy, a solar site
    and a counting device with today's figures, a waste-centre wait, a resolved report, an overdue
    work order, an accepted carpool booking leaving from ``AUDUN`` and an alert for every commune."""
    now = utcnow()
    lat, lon = at
    with write_session(engine) as session:
        local = now.astimezone(territories.zone(session, territory_id))  # its day and month
        group = "G1" if territory_id == 1 else "ESCH-G"
        session.execute(  # its lights on at half power
            update(Streetlight)
            .where(col(Streetlight.commune_insee) == commune)
            .values(actual_level=50)
        )
        session.add(LightEnergyMonth(month=local.strftime("%Y-%m"), group_id=group, energy_wh=9000))
        for kind, name in (("solar", "PV"), ("counter", "CT")):
            sensor_id = f"{name}-{tag.upper()}"
            session.add(
                Sensor(
                    id=sensor_id,
                    kind=kind,
                    name=f"{name} {tag}",
                    commune_insee=commune,
                    territory_id=territory_id,
                    lat=lat,
                    lon=lon,
                    last_seen_at=now,
                )
            )
            session.add(
                MeasureDaily(
                    entity=urn(SENSOR_TYPES[kind], sensor_id),
                    measure="energy_wh" if kind == "solar" else "bikes_in",
                    day=local.date(),
                    count=2,
                    total=40.0,
                    low=1000.0,
                    high=13_500.0,
                )
            )
        session.add(
            WasteCentreEstimate(sensor_id=f"WC-{tag.upper()}-01", ts=now, wait_min=12.0, queue=4)
        )
        session.add(
            Report(
                category="lighting",
                lat=lat,
                lon=lon,
                commune_insee=commune,
                territory_id=territory_id,
                address=f"Rue {tag}",
                status="resolved",
                created_at=now - dt.timedelta(days=6),
                resolved_at=now - dt.timedelta(days=2),
            )
        )
        session.add(
            WorkOrder(
                title=f"Réparer {tag}",
                team="voirie",
                due_on=now.date() - dt.timedelta(days=3),
                commune_insee=commune,
                territory_id=territory_id,
            )
        )
        ad = CarpoolAd(
            user_id=user_id,
            role="driver",
            frequency="once",
            from_label=f"Départ {tag} près d’Audun",
            from_lat=AUDUN[0] + 0.001,
            from_lon=AUDUN[1] + 0.001,
            to_label="Belval",
            to_lat=49.50,
            to_lon=5.95,
            distance_m=4000,
            cross_border=True,
            territory_id=territory_id,
        )
        session.add(ad)
        session.flush()
        session.add(
            CarpoolBooking(
                ad_id=ad.id,
                requester_id=user_id,
                owner_id=user_id,
                status="accepted",
                accepted_at=now - dt.timedelta(days=1),
            )
        )
        alerts.publish(
            session,
            alerts.clean_input(
                session,
                title=f"Alerte générale {tag}",
                body="Canicule",
                topic="general",
                communes=[],
                territory_id=territory_id,
            ),
            source="staff",
            sender="test@eclor",
            territory_id=territory_id,
        )


def _kpis(engine: Any, slug: str, now: dt.datetime) -> dict[str, Any]:
    """Every KPI of the territory ``slug``: each one's ``load``, its ``some`` for every commune of
    the install, and what the centre shows through a cache (``centre.kpis``)."""
    with Session(engine) as session:
        territory = territories.read(session).by_slug[slug]
        territories.bind(session, territory)
        everyone = {"57038", "57019", "57041", "L0204", "L0206", "L0212"}
        out: dict[str, Any] = {}
        for kpi in domains_ops.kpis():
            out[kpi.name] = kpi.load(session, now)
            if kpi.some is not None:
                out[f"{kpi.name} (some)"] = kpi.some(session, now, everyone)
        out["centre"] = centre.kpis(domains_ops.kpis(), session, now, KpiCache(), territory.id)
        return out


def test_the_minetts_rows_change_no_kpi_of_the_first_territory_and_its_own_kpis_count_them(
    engine, personas
):
    minett = int(add_minett(engine).id or 0)
    a_user, b_user = personas["staff"], personas["elected"]
    seed_lights(engine, 5)
    _seed(engine, a_user.id, 1, "57038", "pays-haut", *AUDUN)
    _rows(engine, a_user.id, 1, "57038", "pays-haut", AUDUN)
    now = utcnow()
    before = _kpis(engine, "phva", now)
    assert before["lights"] == {"57038": {"on": 5, "off": 0, "faulty": 0}}
    assert before["reports_open"] == {"57038": 1} and before["carpool_week"] == {"57038": 1}
    assert before["solar_today"] == {"57038": 12.5} and before["work_orders_overdue"] == {
        "57038": 1
    }

    # The Minett's rows of every kind, one of its carpool trips leaving from next to Audun.
    seed_minett(engine, minett)
    _seed(engine, b_user.id, minett, "L0204", "Minett", *ESCH_AT)
    _rows(engine, b_user.id, minett, "L0204", "minett", ESCH_AT)
    after = _kpis(engine, "phva", now)
    assert after == before, sorted(k for k in before if after[k] != before[k])

    mine = _kpis(engine, "minett", now)
    esch = {
        name: values.get("L0204")
        for name, values in mine.items()
        if name != "centre" and "(some)" not in name
    }
    assert esch["reports_open"] == 1 and esch["reports_resolve_days"] == 4.0
    assert esch["lights"] == {"on": 3, "off": 0, "faulty": 0}
    assert esch["energy_month"] == 9.0
    assert esch["alarms_ongoing"] == 1 and esch["work_orders_overdue"] == 1
    assert esch["alerts_active"] == 2 and esch["participation_week"] == 1
    assert esch["solar_today"] == 12.5 and esch["counts_today"] == 40
    assert esch["waste_wait"] == 12 and esch["air_quality"] is not None
    # The Minett's trip from next to Audun counts in its own nearest commune, not in Audun.
    assert esch["carpool_week"] == 1 and "57038" not in mine["carpool_week"]
    a_communes = set(before["centre"]["communes"])
    for name in mine:
        if name != "centre":
            assert not set(mine[name]) & a_communes, name
            assert not set(after[name]) & set(mine["centre"]["communes"]), name
    assert set(mine["centre"]["communes"]) == {"L0204", "L0206", "L0212"}


def test_the_minetts_staff_read_their_own_counts_in_the_centre(engine, personas):
    minett = int(add_minett(engine).id or 0)
    a_user, b_user = personas["staff"], personas["elected"]
    with write_session(engine) as session:
        from app.models.accounts import User

        user = session.get(User, b_user.id)
        assert user is not None
        user.role, user.territory_id = "staff", minett
    _seed(engine, a_user.id, 1, "57038", "pays-haut", *AUDUN)
    _seed(engine, b_user.id, minett, "L0204", "Minett", *ESCH_AT)
    _rows(engine, b_user.id, minett, "L0204", "minett", ESCH_AT)
    with read_session(engine) as session:
        assert session.get(Sensor, "PV-MINETT") is not None
    answer = b_user.client.get("/staff/ops/kpis.json", headers=ESCH).json()
    esch = answer["communes"]["L0204"]["kpis"]
    assert esch["reports_open"] == 1 and esch["carpool_week"] == 1
    assert esch["alerts_active"] == 2 and esch["solar_today"] == 12.5
    mine = personas["staff"].client.get("/staff/ops/kpis.json").json()
    assert mine["communes"]["57038"]["kpis"]["carpool_week"] is None
    assert mine["communes"]["57038"]["kpis"]["alerts_active"] == 1
