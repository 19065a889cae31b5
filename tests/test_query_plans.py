"""The EXPLAIN guard: no page or API reads a table that grows with time from end to end.

Every GET route of the app is requested (as a staff member, with sample ids
for the routes that take one, and the public APIs with their usual
parameters); every statement they run is captured and explained —
``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN (FORMAT JSON)`` with sequential
scans disabled on PostgreSQL, so a sequential scan that remains means no
index can serve the query. A full scan of a growing table fails the test,
naming the page, the statement and its plan. A full walk of an index is
accepted only when the statement stops early (``LIMIT``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

from sqlalchemy import event

from app.db import utcnow, write_session
from app.models.jobs import Job
from app.models.lighting import LightAlarm, LightCommand, LightDaily, LightHourly, LightReading
from app.models.push import PushDelivery
from app.models.reports import Report, ReportEvent
from tests.lighting_helpers import seed_lights

# Tables whose size grows with the territory's history, not with its inventory.
GROWING = {
    "reports",
    "report_events",
    "light_commands",
    "light_readings",
    "light_hourly",
    "light_daily",
    "light_alarms",
    "jobs",
    "push_deliveries",
    "sensor_measures",
    "sensor_hourly",
    "waste_centre_estimates",
    "events",
    "history_months",
    "report_month_counts",  # a few rows per month: read by a range of months, never whole
    "report_resolve_counts",
}
SKIPPED = re.compile(
    r"^/(schema|static)|^/staff/ops/stream$|/callback$|^/account-deleted$|/photos/"
)
# Exports read everything they export, by design: they stream it (tests/test_exports.py). /data
# writes the open data snapshots (streamed files, rebuilt by the worker) when they are missing.
EXPORTS = {
    "/staff/reports.csv",
    "/carpool/staff/proofs.csv",
    "/carpool/staff/proofs.json",
    "/me/export",
    "/data",
}
SAMPLES = {
    "group_id": "G1",
    "light_id": "SL-T-0001",
    "entity_id": "urn:ngsi-ld:Streetlight:SL-T-0001",
}
EXTRA = [
    "/ngsi-ld/v1/entities?type=Streetlight&limit=100",
    "/ngsi-ld/v1/entities?type=Streetlight&limit=10&count=true",
    "/ngsi-ld/v1/entities?type=StreetlightGroup&count=true",
    "/ngsi-ld/v1/entities?type=StreetlightControlCabinet&count=true",
    "/ngsi-ld/v1/entities/urn:ngsi-ld:StreetlightGroup:G1",
    "/ngsi-ld/v1/entities/urn:ngsi-ld:StreetlightControlCabinet:CAB-T",
    "/open311/v2/requests.json",
    "/open311/v2/requests.xml",
    "/open311/v2/services.json",
    "/staff/lighting/alarms?show=all",
    "/staff/reports?status=new",
    "/reports/nearby?lat=49.47&lon=5.95",
    (
        "/api/rdex/journeys?p[driver][state]=1&p[from][latitude]=49.47&p[from][longitude]=5.95"
        "&p[to][latitude]=49.61&p[to][longitude]=6.13"
    ),
]


def _seed(engine: Any) -> int:
    from app.renovation import rules

    lights = seed_lights(engine, 5)
    now = utcnow()
    with write_session(engine) as session:
        rules.load_file(session, rules.NATIONAL_FILE)  # as `eclor renovation rules load` does
        session.execute(
            LightCommand.__table__.insert(),
            [
                {
                    "command_id": uuid.uuid4().hex,
                    "light_id": light,
                    "device_id": light,
                    "level": 50,
                    "ramp_s": 0,
                    "reason": "program",
                    "state": state,
                    "issued_at": now - dt.timedelta(hours=h),
                    "expires_at": now + dt.timedelta(minutes=15),
                    "attempts": 1,
                    "next_attempt_at": now,
                    "finished_at": None if state == "sent" else now,
                }
                for light in lights
                for h, state in ((1, "applied"), (2, "sent"))
            ],
        )
        session.execute(
            LightAlarm.__table__.insert(),
            [
                {
                    "device_id": lights[0],
                    "device_kind": "light",
                    "kind": "offline",
                    "severity": "major",
                    "raised_at": now - dt.timedelta(days=2),
                    "cleared_at": now - dt.timedelta(days=1),
                },
                {
                    "device_id": lights[1],
                    "device_kind": "light",
                    "kind": "defectiveLamp",
                    "severity": "major",
                    "raised_at": now,
                    "cleared_at": None,
                },
            ],
        )
        session.execute(
            LightReading.__table__.insert(),
            [
                {
                    "light_id": light,
                    "ts": now,
                    "level": 100,
                    "power_w": 60.0,
                    "energy_wh": 10.0,
                    "status": "ok",
                }
                for light in lights
            ],
        )
        session.execute(
            LightHourly.__table__.insert(),
            [
                {
                    "light_id": light,
                    "hour": now.replace(minute=0, second=0, microsecond=0),
                    "samples": 1,
                    "level_sum": 100.0,
                    "power_sum_w": 60.0,
                    "energy_wh": 60.0,
                }
                for light in lights
            ],
        )
        session.execute(
            LightDaily.__table__.insert(),
            [
                {
                    "light_id": light,
                    "day": now.date() - dt.timedelta(days=40),
                    "samples": 1,
                    "level_sum": 100.0,
                    "power_sum_w": 60.0,
                    "energy_wh": 600.0,
                }
                for light in lights
            ],
        )
        session.execute(
            Job.__table__.insert(),
            [
                {
                    "kind": "mail.send",
                    "payload": "{}",
                    "status": status,
                    "attempts": 0,
                    "max_attempts": 8,
                    "run_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for status in ("queued", "done")
            ],
        )
        session.execute(
            PushDelivery.__table__.insert(),
            [
                {
                    "message_key": "alert:1",
                    "status": "sent",
                    "attempts": 1,
                    "next_at": now,
                    "detail": "",
                    "created_at": now,
                }
            ],
        )
        report_ids = []
        for i, status in enumerate(("new", "confirmed", "resolved")):
            report = Report(
                category="bulky_items",
                status=status,
                description=f"Dépôt {i}",
                lat=49.47 + i / 1000,
                lon=5.95,
                commune_insee="57038",
                created_at=now - dt.timedelta(days=i),
            )
            session.add(report)
            session.flush()
            session.add(ReportEvent(report_id=report.id, kind="created", to_status="new"))
            report_ids.append(report.id)
    return report_ids[0]


def _paths(app: Any, report_id: int) -> list[str]:
    samples = dict(SAMPLES, report_id=str(report_id))
    paths = set()
    for route in app.routes:
        if not any("GET" in (h.http_methods or ()) for h in getattr(route, "route_handlers", [])):
            continue
        if SKIPPED.search(route.path):
            continue
        names = re.findall(r"\{(\w+):\w+\}", route.path)
        if any(name not in samples for name in names):
            continue  # a route keyed by something this seed does not have (a shop, an order...)
        paths.add(re.sub(r"\{(\w+):\w+\}", lambda m: samples[m.group(1)], route.path))
    return sorted(paths) + EXTRA


def _sqlite_full_scans(cursor: Any, statement: str, parameters: Any) -> list[str]:
    cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
    bad = []
    rows = [row[-1] for row in cursor.fetchall()]
    # LIMIT stops an ordered index walk early, unless the rows are sorted afterwards.
    limited = re.search(r"\bLIMIT\b", statement, re.IGNORECASE) is not None and not any(
        detail.startswith("USE TEMP B-TREE FOR") and "ORDER BY" in detail for detail in rows
    )
    for detail in rows:
        found = re.match(r"SCAN (\w+)", detail)
        if not found or found.group(1) not in GROWING:
            continue
        if "INDEX" in detail and limited:
            continue  # an index walked in order, stopped by the LIMIT
        bad.append(detail)
    return bad


def _pg_full_scans(cursor: Any, statement: str, parameters: Any) -> list[str]:
    cursor.execute("SET LOCAL enable_seqscan = off")
    cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
    plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    limited = re.search(r"\bLIMIT\b", statement, re.IGNORECASE) is not None
    bad: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        relation = node.get("Relation Name")
        if relation in GROWING:
            kind = node["Node Type"]
            if kind == "Seq Scan":
                bad.append(f"Seq Scan on {relation}")
            elif (
                kind in ("Index Scan", "Index Only Scan")
                and "Index Cond" not in node
                and not limited
            ):
                bad.append(f"{kind} on {relation} without a condition")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return bad


def test_no_page_or_api_scans_a_growing_table_from_end_to_end(app, engine, staff):
    report_id = _seed(engine)
    captured: list[tuple[str, str, Any]] = []
    current = {"path": ""}

    def capture(conn, cursor, statement, parameters, context, executemany):
        if executemany or not re.match(
            r"\s*(SELECT|UPDATE|DELETE|WITH)\b", statement, re.IGNORECASE
        ):
            return
        if current["path"] not in EXPORTS and any(
            re.search(rf"\b{table}\b", statement) for table in GROWING
        ):
            captured.append((current["path"], statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        answered = {}
        for path in _paths(app, report_id):
            current["path"] = path
            answered[path] = staff.client.get(path, follow_redirects=False).status_code
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert answered["/staff/lighting"] == 200 and answered["/staff/reports"] == 200
    assert len(answered) > 60, answered  # every page and API, not a handful
    assert not [p for p, code in answered.items() if code >= 500], answered

    explain = _pg_full_scans if engine.dialect.name == "postgresql" else _sqlite_full_scans
    failures: dict[str, tuple[str, list[str]]] = {}
    seen = set()
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        for path, statement, parameters in captured:
            if statement in seen:
                continue
            seen.add(statement)
            cursor = raw.cursor()
            try:
                bad = explain(cursor, statement, parameters)
            finally:
                cursor.close()
                raw.rollback()
            if bad:
                failures[f"{path} #{len(failures)}"] = (statement, bad)
    assert captured, "no statement was captured"
    assert not failures, "full scans of growing tables:\n" + "\n\n".join(
        f"{path}\n  {' '.join(statement.split())[:600]}\n  plan: {bad}"
        for path, (statement, bad) in failures.items()
    )
