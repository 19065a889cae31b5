"""Every day, month and hour is cut on the clock of the territory the data belongs to.

A third territory in French Guiana (America/Cayenne, UTC-3 all year, four hours behind Paris in
winter) sits next to the first one (Europe/Paris). At 23:30 on New Year's Eve in Cayenne it is
already 03:30 on 1 January in Paris: a report, a reading or an opening hour of Cayenne must count
on Cayenne's day, month and hour, whatever the host asked and whoever runs the job.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from app import auth, notify, territories
from app.alerts import publish as alerts
from app.carpool import trips
from app.db import read_session, saved_id, utcnow, write_session
from app.lighting.relay import Inbound
from app.models.carpool import CarpoolAd
from app.models.jobs import Job
from app.models.measures import MeasureDaily
from app.models.push import PushSubscription
from app.models.reports import Report
from app.models.sensors import Sensor
from app.models.shops import Shop, ShopHours
from app.models.solidarity import Place, Trip
from app.ngsi import urn
from app.opendata.copy import for_territory
from app.reports import insights as report_insights
from app.reports import opendata as report_opendata
from app.sensors.measures import ingest_sensor_telemetry
from app.sensors.ngsi_ld import SENSOR_TYPES
from app.shops.hours import Schedule
from app.territory_setup import create
from tests.conftest import using_postgres
from tests.solidarity_helpers import book, person, social_worker
from tests.test_fanout import (  # noqa: F401  (fixtures)
    deliveries,
    make_user,
    push_settings,
    receiver,
    run_worker,
    subscribe,
)

CAYENNE = ZoneInfo("America/Cayenne")
PARIS = ZoneInfo("Europe/Paris")
CAYENNE_COMMUNE = "97302"
HOST = "cayenne.localhost"

# 23:30 on 31 December 2026 in Cayenne: 02:30 UTC, 03:30 in Paris, on 1 January 2027.
NEW_YEARS_EVE = datetime(2026, 12, 31, 23, 30, tzinfo=CAYENNE)

SETTINGS: dict[str, Any] = {
    "slug": "centre-littoral",
    "name": "Communauté d’agglomération du Centre Littoral",
    "short_name": "Centre Littoral",
    "hosts": [HOST],
    "timezone": "America/Cayenne",
    "languages": ["fr"],
}
COMMUNES: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": CAYENNE_COMMUNE, "name": "Cayenne", "country": "FR"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[-52.36, 4.90], [-52.28, 4.90], [-52.28, 4.96], [-52.36, 4.96], [-52.36, 4.90]]
                ],
            },
        }
    ],
}


@pytest.fixture
def cayenne(engine) -> int:
    """The territory of Cayenne, in French Guiana (its timezone is data, like the rest)."""
    with write_session(engine) as session:
        territory = create(session, SETTINGS, COMMUNES)
        return saved_id(territory)


def _bound(session: Session, territory_id: int) -> Session:
    """The session as a request on the territory's host sees it."""
    row = session.get(territories.Territory, territory_id)
    assert row is not None
    return territories.bind(session, territories.Branding.of(row))


def _report(engine, territory_id: int, at: datetime) -> int:
    with write_session(engine) as session:
        report = Report(
            category="tyres",
            lat=4.93,
            lon=-52.32,
            commune_insee=CAYENNE_COMMUNE,
            territory_id=territory_id,
            status="new",
            created_at=at.astimezone(UTC),
        )
        session.add(report)
        session.flush()
        return saved_id(report)


# --------------------------------------------------------------------------- reports and open data


def test_a_report_made_at_half_past_eleven_on_new_years_eve_counts_on_that_day_and_month(
    engine, cayenne
):
    _report(engine, cayenne, NEW_YEARS_EVE)
    with Session(engine) as session:
        here = _bound(session, cayenne)
        daily = list(report_opendata.DAILY.rows(here, "http://testserver.local"))
        assert daily == [("2026-12-31", "tyres", 1)]
        (row,) = list(report_opendata.REPORTS.rows(here, "http://testserver.local"))
        assert row[3] == "2026-12-31"  # date_signalement
        assert report_opendata.day_counts(here, "2026-12-31") == {"tyres": 1}
        assert report_opendata.day_counts(here, "2027-01-01") == {}
        # The monthly figure of the decision-support pages: December, not January.
        received = report_insights.received(here, "2026-12", "2027-01")
        assert dict(received) == {("2026-12", CAYENNE_COMMUNE): 1.0}
    with Session(engine) as session:
        # The whole install's file (an unbound session): each report on its own territory's day.
        rows = list(report_opendata.DAILY.rows(session, "http://testserver.local"))
        assert ("2026-12-31", "tyres", 1) in rows and ("2027-01-01", "tyres", 1) not in rows


@pytest.mark.skipif(not using_postgres(), reason="COPY of the open data runs on PostgreSQL")
def test_the_open_data_computed_by_postgresql_cuts_the_day_at_the_territorys_midnight(
    engine, cayenne
):
    _report(engine, cayenne, NEW_YEARS_EVE)
    _report(engine, 1, datetime(2026, 12, 31, 23, 30, tzinfo=PARIS))  # the first territory's
    with Session(engine) as session:
        mine = session.execute(text(for_territory(report_opendata.DAILY_SQL, cayenne))).all()
        assert [tuple(r) for r in mine] == [("2026-12-31", "tyres", 1)]
        everyone = session.execute(text(for_territory(report_opendata.DAILY_SQL, None))).all()
        assert [tuple(r) for r in everyone] == [("2026-12-31", "tyres", 2)]
        (row,) = session.execute(text(for_territory(report_opendata.REPORTS_SQL, cayenne))).all()
        assert row.date_signalement == "2026-12-31"


# --------------------------------------------------------------------------- push: digest, quiet hours


def _device(engine, user_id: int, territory_id: int) -> None:
    with write_session(engine) as session:
        session.add(
            PushSubscription(
                user_id=user_id,
                territory_id=territory_id,
                endpoint=f"https://push.example/{user_id}-{territory_id}",
                p256dh="p" * 20,
                auth="a" * 10,
            )
        )


def _digest_at(engine, user_id: int) -> datetime:
    with write_session(engine) as session:
        notify.notify(
            session,
            [user_id],
            topic="my_reports",
            title="Votre signalement avance",
            body="Il est planifié.",
            url="/reports/1",
            digest=True,
        )
    with read_session(engine) as session:
        job = session.scalars(
            select(Job).where(
                col(Job.kind) == "notify.digest",
                col(Job.dedupe_key).startswith(f"notify.digest:{user_id}:"),
            )
        ).one()
        return job.run_at


def test_the_daily_digest_comes_at_six_pm_on_the_clock_of_the_subscribers_territory(
    engine, cayenne
):
    with write_session(engine) as session:
        guyanese = saved_id(auth.create_user(session, "guyane@eclor.test"))
        lorrain = saved_id(auth.create_user(session, "lorraine@eclor.test"))
    _device(engine, guyanese, cayenne)
    _device(engine, lorrain, 1)
    there, here = _digest_at(engine, guyanese), _digest_at(engine, lorrain)
    assert (there.astimezone(CAYENNE).hour, there.astimezone(CAYENNE).minute) == (18, 0)
    assert (here.astimezone(PARIS).hour, here.astimezone(PARIS).minute) == (18, 0)
    assert there > utcnow() and here > utcnow()


def _quiet_around(moment: datetime) -> tuple[int, int]:
    minute = moment.hour * 60 + moment.minute
    return (minute - 60) % 1440, (minute + 60) % 1440


def _alert(engine, territory_id: int) -> int:
    with write_session(engine) as session:
        data = alerts.clean_input(
            session,
            title="Route de Montabo fermée",
            body="Déviation par la route de Baduel.",
            topic="traffic",
            communes=[],
            urgency="normal",
            ttl_s=3600,
            link="/",
            territory_id=territory_id,
        )
        return saved_id(
            alerts.publish(
                session, data, source="staff", sender="eclor@test", territory_id=territory_id
            )
        )


def test_quiet_hours_are_read_on_the_clock_of_the_subscriptions_territory(
    push_settings, engine, receiver, cayenne
):
    resident = make_user(engine, "guyane@eclor.test")
    # Quiet from an hour ago to an hour from now in Cayenne (Paris is four hours ahead: not quiet).
    ((_sleeping, asleep_id),) = subscribe(
        engine, receiver, resident, quiet=_quiet_around(utcnow().astimezone(CAYENNE))
    )
    # Quiet around the present hour of Paris: in Cayenne it is the afternoon, the push goes.
    ((awake, awake_id),) = subscribe(
        engine, receiver, resident, quiet=_quiet_around(utcnow().astimezone(PARIS))
    )
    with write_session(engine) as session:
        for row in session.scalars(
            select(PushSubscription).where(col(PushSubscription.user_id) == resident)
        ):
            row.territory_id = cayenne
    alert_id = _alert(engine, cayenne)
    run_worker(push_settings, engine)
    rows = deliveries(engine, alert_id)
    assert rows[asleep_id].status == "held"
    assert rows[awake_id].status == "delivered"
    assert [m["payload"]["title"] for m in receiver.received(awake)] == ["Route de Montabo fermée"]
    # The held push waits for 7:00... in Cayenne: an hour from now there.
    assert timedelta(minutes=58) < rows[asleep_id].next_at - utcnow() <= timedelta(minutes=61)


# --------------------------------------------------------------------------- shops


def test_a_shop_is_open_now_by_the_clock_of_its_territory(engine, cayenne):
    with write_session(engine) as session:
        owner = saved_id(auth.create_user(session, "boulangerie@eclor.test", role="merchant"))
        shop = Shop(
            owner_id=owner,
            slug="boulangerie-de-cayenne",
            name="Boulangerie de Cayenne",
            category="food",
            address="Place des Palmistes, Cayenne",
            commune_insee=CAYENNE_COMMUNE,
        )
        session.add(shop)
        session.flush()
        # Monday, 9:00 to 12:00 (Cayenne time).
        session.add(ShopHours(shop_id=saved_id(shop), weekday=0, opens=time(9), closes=time(12)))
        shop_id = saved_id(shop)
    monday_ten = datetime(2027, 1, 4, 10, 0, tzinfo=CAYENNE)  # 14:00 in Paris: closed there
    with Session(engine) as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        schedule = Schedule.load(session, shop)
        assert schedule.is_open(monday_ten)
        assert not schedule.is_open(datetime(2027, 1, 4, 12, 30, tzinfo=CAYENNE))
        status = schedule.status(datetime(2027, 1, 4, 8, 0, tzinfo=CAYENNE))
        assert status["open"] is False
        assert status["next"] == datetime(2027, 1, 4, 9, 0, tzinfo=CAYENNE)
        assert schedule.status(monday_ten)["until"] == datetime(2027, 1, 4, 12, 0, tzinfo=CAYENNE)


# --------------------------------------------------------------------------- carpool, solidarity


def test_a_regular_carpool_trip_leaves_at_its_time_on_the_clock_of_its_territory(engine, cayenne):
    with write_session(engine) as session:
        driver = saved_id(auth.create_user(session, "chauffeur@eclor.test"))
        ad = CarpoolAd(
            territory_id=cayenne,
            user_id=driver,
            role="driver",
            frequency="regular",
            from_label="Cayenne",
            from_lat=4.93,
            from_lon=-52.32,
            to_label="Kourou",
            to_lat=5.16,
            to_lon=-52.65,
            distance_m=60_000,
            schedule='{"0":[450,10]}',  # Mondays at 7:30
            days_mask=1,
            seats=3,
            seats_left=3,
        )
        session.add(ad)
        session.flush()
        ad_id = saved_id(ad)
    with Session(engine) as session:
        ad = session.get(CarpoolAd, ad_id)
        assert ad is not None
        sunday = datetime(2027, 1, 3, 12, 0, tzinfo=UTC)
        departure = trips.next_departure(ad, sunday)
        assert departure == datetime(2027, 1, 4, 7, 30, tzinfo=CAYENNE)
        week = trips.occurrences(ad, sunday, sunday + timedelta(days=7))
        assert week == [datetime(2027, 1, 4, 10, 30, tzinfo=UTC)]


def test_a_solidarity_trip_is_booked_at_the_time_of_the_beneficiarys_territory(engine, cayenne):
    worker = social_worker(engine, "ccas-cayenne@eclor.test", CAYENNE_COMMUNE)
    somebody = person(engine, worker, commune=CAYENNE_COMMUNE)
    with write_session(engine) as session:
        doctor = Place(
            label="Centre hospitalier de Cayenne",
            address="Avenue des Flamboyants",
            lat=4.94,
            lon=-52.33,
            territory_id=cayenne,
        )
        session.add(doctor)
        session.flush()
        place_id = saved_id(doctor)
    monday = date(2030, 1, 7)
    booking_id = book(engine, worker, somebody, place_id, first_day=monday, commune=CAYENNE_COMMUNE)
    with read_session(engine) as session:
        (trip,) = session.scalars(select(Trip).where(col(Trip.booking_id) == booking_id)).all()
        assert trip.pickup_at.astimezone(UTC) == datetime(2030, 1, 7, 9, 0, tzinfo=CAYENNE)


# --------------------------------------------------------------------------- sensors


def test_a_sensors_daily_figure_is_cut_at_its_territorys_midnight(engine, cayenne):
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="AQ-CAY-01",
                kind="air_quality",
                name="Air, place des Palmistes",
                commune_insee=CAYENNE_COMMUNE,
                territory_id=cayenne,
                lat=4.94,
                lon=-52.33,
            )
        )
    before = NEW_YEARS_EVE.astimezone(UTC)  # 23:30 on the 31st in Cayenne
    after = before + timedelta(hours=1)  # 00:30 on the 1st in Cayenne
    with write_session(engine) as session:
        items = [
            Inbound("tele_sensor", "AQ-CAY-01", {"ts": at.isoformat(), "no2": no2}, at)
            for at, no2 in ((before, 10.0), (after, 30.0))
        ]
        assert ingest_sensor_telemetry(session, items, after) == 2
    entity = urn(SENSOR_TYPES["air_quality"], "AQ-CAY-01")
    with read_session(engine) as session:
        days = {
            day: (count, total)
            for day, count, total in session.execute(
                select(
                    col(MeasureDaily.day), col(MeasureDaily.count), col(MeasureDaily.total)
                ).where(col(MeasureDaily.entity) == entity, col(MeasureDaily.measure) == "no2")
            ).all()
        }
    assert days == {date(2026, 12, 31): (1, 10.0), date(2027, 1, 1): (1, 30.0)}
