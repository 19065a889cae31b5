"""KPI tiles are computed once per change: kept while nothing they count moves, new at once after.

``app.ops.kpicache`` keeps each KPI that declares ``fresh`` until an outbox event of its layers, its
stamp (rows written without an event) or its time window changes it.
"""

from __future__ import annotations

import datetime as dt

from app import domains_ops
from app.db import read_session, utcnow, write_session
from app.lighting.relay import Inbound, ingest
from app.models.lighting import Streetlight
from app.models.reports import Report
from app.ops import centre, kpicache
from app.reports import workflow
from tests.ops_seed import seed_territory


def _kpis(staff) -> dict:
    response = staff.client.get("/staff/ops/kpis.json")
    assert response.status_code == 200, response.text
    return {insee: c["kpis"] for insee, c in response.json()["communes"].items()}


def _computed(staff) -> int:
    return kpicache.for_app(staff.client.app.state).computed


def test_kpis_are_kept_while_nothing_changes_and_follow_each_change(engine, staff):
    seeded = seed_territory(engine, staff.id)
    first = _kpis(staff)
    computed = _computed(staff)
    assert computed >= 4, "the reports, lights, air and carpool KPIs are kept"
    assert _kpis(staff) == first and _computed(staff) == computed, "nothing changed: kept"
    # A report's state changes (its event): the open reports of its commune at once.
    with write_session(engine) as session:
        report = session.get(Report, seeded["report_id"])
        workflow.change_status(session, report, "resolved", actor_id=staff.id, notify_people=False)
    after = _kpis(staff)
    assert first["54580"]["reports_open"] == 1 and after["54580"]["reports_open"] is None
    # Telemetry switches a light on (its event): the lights KPI at once.
    at = utcnow()
    light = seeded["lights"][1]
    ingest(
        engine,
        [Inbound("tele_light", light, {"ts": at.isoformat(), "level": 80, "status": "ok"}, at)],
    )
    lights = _kpis(staff)["57038"]["lights"]
    assert lights["on"] == first["57038"]["lights"]["on"] + 1
    # A report written without an event (a bulk import) still shows through the stamp.
    with write_session(engine) as session:
        session.execute(
            Report.__table__.insert(),
            [
                {
                    "category": "rubble",
                    "status": "new",
                    "lat": 49.47,
                    "lon": 5.95,
                    "commune_insee": "57038",
                    "description": "",
                    "address": "",
                    "created_at": at,
                    "updated_at": at,
                }
            ],
        )
    assert _kpis(staff)["57038"]["reports_open"] == (first["57038"]["reports_open"] or 0) + 1


def test_the_median_time_to_resolve_changes_when_a_resolution_leaves_its_window(engine, staff):
    seed_territory(engine, staff.id)  # Aumetz: one report resolved a day ago, in 4 days
    kpi = next(k for k in domains_ops.kpis() if k.name == "reports_resolve_days")
    cache = kpicache.KpiCache()

    def aumetz(at: dt.datetime):
        with read_session(engine) as session:
            return centre.kpis([kpi], session, at, cache)["communes"]["57041"]["kpis"][kpi.name]

    now = utcnow()
    assert aumetz(now) == 4.0
    assert aumetz(now + dt.timedelta(days=88)) == 4.0
    assert cache.computed == 1, "inside the window: kept"
    assert aumetz(now + dt.timedelta(days=90)) is None


def _through(engine, cache: kpicache.KpiCache, kpis: list, now: dt.datetime) -> dict:
    with read_session(engine) as session:
        return cache.values(kpis, session, now)


def _whole(engine, kpis: list, now: dt.datetime) -> dict:
    with read_session(engine) as session:
        return {kpi.name: kpi.load(session, now) for kpi in kpis}


def test_after_changes_the_kpis_computed_for_the_touched_communes_only_equal_the_kpis_computed_whole(
    engine, staff
):
    seeded = seed_territory(engine, staff.id, lights=6)
    kpis = [k for k in domains_ops.kpis() if k.some is not None]
    assert {k.name for k in kpis} >= {"lights", "reports_open", "reports_resolve_days"}
    cache = kpicache.KpiCache()
    now = utcnow()
    first = _through(engine, cache, kpis, now)
    assert first == _whole(engine, kpis, now)
    whole = cache.computed
    # A report of Villerupt resolved (its event), a light of Audun switched on (its event), a report
    # of Aumetz written without an event (the stamp), a report of Audun created (its event).
    with write_session(engine) as session:
        report = session.get(Report, seeded["report_id"])
        workflow.change_status(session, report, "resolved", actor_id=staff.id, notify_people=False)
    at = utcnow()
    ingest(
        engine,
        [
            Inbound(
                "tele_light",
                seeded["lights"][2],
                {"ts": at.isoformat(), "level": 60, "status": "ok"},
                at,
            )
        ],
    )
    with write_session(engine) as session:
        session.execute(
            Report.__table__.insert(),
            [
                {
                    "category": "rubble",
                    "status": "new",
                    "lat": 49.40,
                    "lon": 6.0,
                    "commune_insee": "57041",
                    "description": "",
                    "address": "",
                    "created_at": at,
                    "updated_at": at,
                }
            ],
        )
    later = utcnow()
    after = _through(engine, cache, kpis, later)
    assert cache.computed == whole, "computed again for the touched communes only"
    assert cache.partial == 3
    assert after == _whole(engine, kpis, later)
    assert after != first
    assert after["reports_open"].get("54580") is None and after["reports_open"]["57041"] >= 1


def test_an_event_for_every_feature_makes_the_kpi_computed_whole(engine, staff):
    from app import events

    seed_territory(engine, staff.id)
    kpi = next(k for k in domains_ops.kpis() if k.name == "lights")
    cache = kpicache.KpiCache()
    now = utcnow()
    _through(engine, cache, [kpi], now)
    with write_session(engine) as session:
        session.execute(Streetlight.__table__.update().values(actual_level=0, status="ok"))
        events.publish(session, "lights", "*", "imported", {})
    values = _through(engine, cache, [kpi], now)
    assert (cache.computed, cache.partial) == (2, 0)
    assert values == _whole(engine, [kpi], now)


def test_unchanged_kpis_cost_a_few_statements_and_follow_rows_written_without_events(engine, staff):
    """Every KPI's version is read in one statement (newest events, stamps side by side): the
    tiles cost a handful of statements while nothing changed (21 before, each a round trip on
    PostgreSQL), and the KPIs kept this way still follow rows written without an event."""
    from sqlalchemy import event

    from app import territories
    from app.lighting.control import territory_position
    from app.models.lighting import LightEnergyMonth
    from app.territories import bind
    from app.models.maintenance import MaintenanceAlarm

    seed_territory(engine, staff.id)
    first = _kpis(staff)
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        statements.append(statement)

    with read_session(engine) as session:
        default = territories.read(session).default
    event.listen(engine, "before_cursor_execute", count)
    try:
        with read_session(engine) as session:
            bind(session, default)  # as the request's session is
            centre.kpis(
                domains_ops.kpis(), session, utcnow(), kpicache.for_app(staff.client.app.state)
            )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    kept = [k.name for k in domains_ops.kpis() if k.fresh is not None]
    assert {"alarms_ongoing", "work_orders_overdue", "alerts_active", "energy_month"} <= set(kept)
    reading = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # the communes, the one version read, the waste centre's wait (computed per request)
    assert len(reading) <= 5, "\n".join(reading)
    # Rows written without an event: an alarm, this month's energy of a group.
    now = utcnow()
    with write_session(engine) as session:
        session.add(
            MaintenanceAlarm(
                subject="X",
                source="sensors",
                title="Sans évènement",
                severity="minor",
                commune_insee="57038",
                first_seen=now,
                last_seen=now,
            )
        )
        month = now.astimezone(territory_position(session).tz).strftime("%Y-%m")
        session.add(LightEnergyMonth(month=month, group_id="G1", energy_wh=5000.0))
    after = _kpis(staff)
    assert after["57038"]["alarms_ongoing"] == (first["57038"]["alarms_ongoing"] or 0) + 1
    assert after["57038"]["energy_month"] == (first["57038"]["energy_month"] or 0) + 5.0
