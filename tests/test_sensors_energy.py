"""Solar sites and public buildings' meters: readings arrive as every sensor's do (``tele/sensor``),
a solar site's readings carry its clear-sky expectation (pvlib), a site producing well under it
raises the "production under expected yield" rule while a site producing normally does not, and a
water meter whose night flow never stops raises the leak rule on the third night, not before."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.db import read_session, write_session
from app.lighting.relay import Inbound, ingest
from app.maintenance import engine as rules_engine
from app.maintenance.rules import RuleForm, save
from app.models.maintenance import MaintenanceAlarm
from app.models.sensors import Sensor, SensorMeasure
from app.sensors import solar

PARIS = ZoneInfo("Europe/Paris")
AUDUN = "57038"
CLEAR_DAY = dt.date(2026, 6, 21)
SITE = {"peak_kw": 9.0, "azimuth": 180, "tilt": 30}


def _sensor(engine, sensor_id: str, kind: str, meta: dict, name: str = "") -> None:
    with write_session(engine) as session:
        session.add(
            Sensor(
                id=sensor_id,
                kind=kind,
                name=name or sensor_id,
                commune_insee=AUDUN,
                lat=49.472,
                lon=5.955,
                reporting_period_s=900,
                meta=json.dumps(meta),
            )
        )


def _rule(engine, **fields) -> int:
    with write_session(engine) as session:
        return save(session, RuleForm(**fields), actor_id=None).id


def _alarms(engine) -> list[MaintenanceAlarm]:
    with read_session(engine) as session:
        return list(session.scalars(select(MaintenanceAlarm).order_by(MaintenanceAlarm.id)))


def _feed(engine, sensor_id: str, moments, values_at) -> None:
    for moment in moments:
        payload = {"ts": moment.isoformat(), **values_at(moment)}
        ingest(engine, [Inbound("tele_sensor", sensor_id, payload, moment)], now=moment)


def test_the_clear_sky_expectation_follows_the_sun_and_the_panels_orientation():
    site = solar.Site.of(49.472, 5.955, SITE)
    noon = dt.datetime.combine(CLEAR_DAY, dt.time(11, 30), tzinfo=dt.UTC)  # solar noon, about
    assert 6_000 < solar.expected_power(site, noon) < 8_500  # 9 kWc, losses and hot cells
    assert solar.expected_power(site, noon.replace(hour=1)) == 0  # night
    winter = solar.expected_power(site, noon.replace(month=12))
    assert 0 < winter < solar.expected_power(site, noon)
    east = solar.Site.of(49.472, 5.955, {**SITE, "azimuth": 90})
    west = solar.Site.of(49.472, 5.955, {**SITE, "azimuth": 270})
    morning = noon.replace(hour=7)
    assert solar.expected_power(east, morning) > 1.5 * solar.expected_power(west, morning)
    assert 45 < solar.expected_energy_kwh(site, CLEAR_DAY) < 75


def test_a_site_without_its_peak_power_or_with_an_absurd_tilt_is_told_in_french():
    with pytest.raises(solar.SiteError, match="puissance crête"):
        solar.Site.of(49.4, 5.9, {"tilt": 30})
    with pytest.raises(solar.SiteError, match="inclinaison entre 0 et 90"):
        solar.Site.of(49.4, 5.9, {"peak_kw": 3, "tilt": 120})


def test_a_site_producing_a_fifth_under_its_clear_sky_expectation_raises_the_yield_rule_and_a_normal_one_does_not(
    engine,
):
    _sensor(engine, "PV-MAIRIE", "solar", SITE, "Mairie d'Audun")
    _sensor(engine, "PV-ECOLE", "solar", SITE, "École d'Audun")
    rule_id = _rule(
        engine,
        name="Production solaire faible",
        kind="yield",
        subject="solar",
        threshold=10,
        duration_min=30,
        severity="minor",
    )
    site = solar.Site.of(49.472, 5.955, SITE)
    start = dt.datetime.combine(CLEAR_DAY, dt.time(9, 0), tzinfo=dt.UTC)
    moments = [start + dt.timedelta(minutes=15 * i) for i in range(17)]  # 09:00 to 13:00 UTC

    def production(share: float):
        def values(moment):
            return {
                "kind": "solar",
                "power_w": round(solar.expected_power(site, moment) * share, 1),
                "energy_wh": 1000,
                "temperature": 41.5,
            }

        return values

    _feed(engine, "PV-ECOLE", moments, production(0.96))  # normal: a little under a perfect sky
    _feed(engine, "PV-MAIRIE", moments, production(0.80))  # 20 % under
    rules_engine.drain(engine, now=moments[-1])

    alarms = _alarms(engine)
    assert [(a.rule_id, a.feature_id) for a in alarms] == [(rule_id, "PV-MAIRIE")]
    assert "expected_w" in alarms[0].value
    with read_session(engine) as session:
        stored = json.loads(
            session.scalars(
                select(SensorMeasure.values_json).where(SensorMeasure.sensor_id == "PV-ECOLE")
            ).first()
        )
    assert stored["expected_w"] > stored["power_w"] > 0.9 * stored["expected_w"]


def _night_readings(start_local: dt.datetime, flow_at) -> list[tuple[dt.datetime, dict]]:
    """A water meter's readings every 15 minutes from 00:00 to 06:00 local."""
    out = []
    for step in range(25):
        moment = (start_local + dt.timedelta(minutes=15 * step)).astimezone(dt.UTC)
        out.append((moment, {"kind": "water_meter", "flow": flow_at(moment.astimezone(PARIS))}))
    return out


def test_a_night_flow_that_never_stops_raises_the_leak_rule_on_the_third_night_only(engine):
    _sensor(engine, "EAU-GYMNASE", "water_meter", {"building": "Gymnase", "area_m2": 1200})
    _sensor(engine, "EAU-MAIRIE", "water_meter", {"building": "Mairie", "area_m2": 800})
    rule_id = _rule(
        engine,
        name="Fuite d'eau",
        kind="night_flow",
        subject="water_meter",
        measure="flow",
        threshold=0,
        count=3,
        severity="major",
    )
    first = dt.date(2026, 11, 2)
    raised_after = []
    for night in range(3):
        midnight = dt.datetime.combine(first + dt.timedelta(days=night), dt.time(0), tzinfo=PARIS)
        # the gymnasium leaks 18 l/h all night; the town hall's flow stops at 03:00
        for sensor_id, flow_at in (
            ("EAU-GYMNASE", lambda local: 18.0 + local.minute / 15),
            ("EAU-MAIRIE", lambda local: 0.0 if local.hour == 3 else 40.0),
        ):
            for moment, payload in _night_readings(midnight, flow_at):
                ingest(
                    engine,
                    [
                        Inbound(
                            "tele_sensor", sensor_id, {"ts": moment.isoformat(), **payload}, moment
                        )
                    ],
                    now=moment,
                )
        rules_engine.drain(engine, now=midnight.replace(hour=7).astimezone(dt.UTC))
        raised_after.append([(a.rule_id, a.feature_id) for a in _alarms(engine)])

    assert raised_after == [[], [], [(rule_id, "EAU-GYMNASE")]]


def test_a_yield_rule_needs_a_shortfall_between_0_and_100_percent():
    with pytest.raises(ValueError, match="écart toléré"):
        RuleForm(name="Solaire", kind="yield", threshold=0)
    form = RuleForm(name="Fuite", kind="night_flow", threshold=0)
    assert form.measure == "flow"


def test_a_gas_meter_imported_as_csv_gives_its_consumption_per_square_metre_and_per_degree_day(
    engine,
):
    from app.sensors import buildings

    _sensor(
        engine,
        "GAZ-ECOLE",
        "energy_meter",
        {"building": "École", "medium": "gas", "area_m2": 500, "temperature_sensor": "AQ-ECOLE"},
    )
    _sensor(engine, "AQ-ECOLE", "air_quality", {})
    first = dt.date(2026, 1, 5)
    lines = ["meter,ts,index"]
    for day in range(11):  # 1,000 kWh a day, read at noon
        moment = dt.datetime.combine(first + dt.timedelta(days=day), dt.time(12), tzinfo=dt.UTC)
        lines.append(f"GAZ-ECOLE,{moment.isoformat()},{40_000 + 1000 * day}")
        # 6 °C at night, 10 °C by day: a daily mean of 8 °C, so 10 degree-days a day under 18 °C
        for hour, temperature in ((3, 6.0), (15, 10.0)):
            at = moment.replace(hour=hour)
            ingest(
                engine,
                [
                    Inbound(
                        "tele_sensor",
                        "AQ-ECOLE",
                        {"ts": at.isoformat(), "temperature": temperature},
                        at,
                    )
                ],
                now=at,
            )
    with write_session(engine) as session:
        assert buildings.import_csv(session, "\n".join(lines), dt.datetime.now(dt.UTC)) == 11
    with read_session(engine) as session:
        (row,) = buildings.consumption(session, first, first + dt.timedelta(days=10))
    assert (row.building, row.medium, row.unit) == ("École", "gas", "kWh")
    assert row.used == 9000  # ten days: the index of day 0 to day 9
    assert row.degree_days == 100
    assert row.per_m2 == 18
    assert row.per_degree_day == 90


def test_a_csv_with_an_unknown_meter_is_refused_in_french_and_nothing_is_kept(engine):
    from app.sensors import buildings

    _sensor(engine, "EAU-STADE", "water_meter", {"building": "Stade"})
    text = (
        "meter,ts,index\nEAU-STADE,2026-01-05T12:00:00Z,100\nEAU-PISCINE,2026-01-05T12:00:00Z,5\n"
    )
    with pytest.raises(
        buildings.MeterImportError, match="Ligne 3 : compteur inconnu « EAU-PISCINE »"
    ):
        with write_session(engine) as session:
            buildings.import_csv(session, text, dt.datetime.now(dt.UTC))
    with read_session(engine) as session:
        assert session.scalars(select(SensorMeasure)).first() is None


def test_the_operations_centre_shows_a_site_under_its_expectation_and_the_days_production_and_counts(
    engine, staff
):
    _sensor(engine, "PV-MAIRIE", "solar", SITE, "Mairie d'Audun")
    _sensor(engine, "CPT-CENTRE", "counter", {"classes": ["pedestrian", "car"]}, "Rue du Centre")
    with write_session(engine) as session:
        session.get(Sensor, "PV-MAIRIE").reporting_period_s = 86_400  # a daily summary is enough
    site = solar.Site.of(49.472, 5.955, SITE)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    noon = now.replace(hour=11, minute=30, second=0)
    noon = noon if noon <= now else noon - dt.timedelta(days=1)  # the last noon, sun up
    for moment, energy in ((now - dt.timedelta(seconds=1), 50_000), (now, 53_000)):
        _feed(engine, "PV-MAIRIE", [moment], lambda m, e=energy: {"power_w": 0, "energy_wh": e})
    _feed(  # the last reading: 60 % of a clear sky at noon
        engine,
        "PV-MAIRIE",
        [noon],
        lambda m: {"power_w": round(0.6 * solar.expected_power(site, m)), "energy_wh": 53_000},
    )
    _feed(
        engine,
        "CPT-CENTRE",
        [now],
        lambda m: {"counts": {"pedestrian": {"in": 12, "out": 8}, "car": {"in": 30}}},
    )
    features = {
        f["id"]: f["properties"]
        for f in staff.client.get("/staff/ops/layers/sensors.geojson").json()["features"]
    }
    assert (features["PV-MAIRIE"]["state"], features["PV-MAIRIE"]["unit"]) == ("low", "kW")
    assert (features["CPT-CENTRE"]["value"], features["CPT-CENTRE"]["unit"]) == (50, "passages")
    kpis = staff.client.get("/staff/ops/kpis.json").json()["communes"][AUDUN]["kpis"]
    assert (kpis["solar_today"], kpis["counts_today"]) == (3.0, 50)
