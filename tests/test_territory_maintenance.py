"""Maintenance on an install of several territories: rules, alarms, work orders, teams and watches
belong to a territory; every maintenance page, action and API a host answers keeps to its territory's
(another's row is not found and stays as it was), a rule only ever sees its own territory's devices
and reports, and only its territory's staff hear about its alarms."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlmodel import select

from app.auth import create_user
from app.db import read_session, utcnow, write_session
from app.lighting.relay import Inbound, ingest
from app.maintenance import engine as rules_engine
from app.maintenance import orders, watches
from app.maintenance.rules import RuleForm, save
from app.models.accounts import User
from app.models.maintenance import (
    MaintenanceAlarm,
    MaintenanceAlarmComment,
    MaintenanceRule,
    MaintenanceTeam,
    MaintenanceTeamMember,
    MaintenanceWatch,
    WorkOrder,
    WorkOrderPhoto,
)
from app.models.sensors import Sensor
from app.reports import intake
from app.territories import bind, read
from tests.territory_sweep import domain_routes
from tests.territory_sweep import refused as is_refused
from tests.test_maintenance_orders import jpeg
from tests.test_territories import ESCH, add_minett

B_RULE = "Règle-du-Minett"
B_ALARM = "Alarme-du-Minett"
B_ORDER = "Bon-du-Minett"
B_TEAM = "Équipe-du-Minett"
B_COMMENT = "Commentaire-du-Minett"
B_STAFF = "agent@minett.example"
DOMAIN = ("/staff/alarms", "/staff/rules", "/staff/work-orders", "/staff/teams")
MARKS = (B_RULE, B_ALARM, B_ORDER, B_TEAM, B_COMMENT, B_STAFF, "Esch-sur-Alzette", "minett_")


def _alarm(session: Any, rule: MaintenanceRule, title: str, commune: str, lat: float) -> int:
    now = utcnow()
    alarm = MaintenanceAlarm(
        rule_id=rule.id,
        subject=f"sensors:{title}",
        source="sensors",
        title=title,
        severity="major",
        commune_insee=commune,
        lat=lat,
        lon=5.97,
        first_seen=now,
        last_seen=now,
        territory_id=rule.territory_id,
    )
    session.add(alarm)
    session.flush()
    return int(alarm.id or 0)


@pytest.fixture
def two(app, engine, personas, settings) -> dict[str, Any]:
    """In each territory: a rule, an alarm with a comment, a team, a work order with a photo and a
    report, a staff member's watch (B: the Minett's, in Esch-sur-Alzette)."""
    minett = int(add_minett(engine).id or 0)
    staff, admin = personas["staff"], personas["admin"]
    a_report = intake.create_report(
        engine,
        intake.NewReport(
            category="bulky_items", lat=49.472, lon=5.955, reporter_id=personas["resident"].id
        ),
        media_dir=None,
    ).report.id
    b_report = intake.create_report(
        engine,
        intake.NewReport(
            category="bulky_items", lat=49.495, lon=5.98, reporter_id=personas["resident"].id
        ),
        media_dir=None,
    ).report.id
    with write_session(engine) as session:
        b_staff = create_user(session, B_STAFF, role="staff", display_name="Agent du Minett")
        b_staff.territory_id = minett
        a_rule = MaintenanceRule(name="Règle-de-Pays-Haut", kind="status", layer="alarms")
        b_rule = MaintenanceRule(
            name=B_RULE, kind="status", layer="alarms", territory_id=minett, team="minett_voirie"
        )
        session.add_all([a_rule, b_rule])
        session.add(MaintenanceTeam(code="minett_voirie", name=B_TEAM, territory_id=minett))
        session.flush()
        session.add(
            MaintenanceTeamMember(territory_id=minett, team="minett_voirie", user_id=b_staff.id)
        )
        a_alarm = _alarm(session, a_rule, "Alarme-de-Pays-Haut", "57038", 49.472)
        b_alarm = _alarm(session, b_rule, B_ALARM, "L0204", 49.495)
        session.add(MaintenanceAlarmComment(alarm_id=b_alarm, author_id=b_staff.id, text=B_COMMENT))
        session.add(MaintenanceWatch(user_id=b_staff.id, communes="L0204", territory_id=minett))
        session.add(MaintenanceWatch(user_id=staff.id))
        bind(session, read(session).by_slug["minett"])  # as the Minett's staff make them
        b_order = orders.create(
            session,
            orders.OrderForm(title=B_ORDER, team="minett_voirie"),
            actor_id=b_staff.id,
            alarm=session.get(MaintenanceAlarm, b_alarm),
            report_ids=[b_report],
        )
        photo = orders.process_photo(jpeg((200, 30, 30)), settings.max_upload_bytes)
        b_photo = orders.add_photo(
            session, b_order, "before", photo, settings.resolved_media_dir, actor_id=b_staff.id
        )
        bind(session, read(session).default)
        a_order = orders.create(
            session,
            orders.OrderForm(title="Bon-de-Pays-Haut", team="voirie"),
            actor_id=staff.id,
            report_ids=[a_report],
        )
        a_photo = orders.add_photo(
            session, a_order, "before", photo, settings.resolved_media_dir, actor_id=staff.id
        )
        ids = {
            "minett": minett,
            "b_staff": b_staff.id,
            "a": {
                "alarm_id": a_alarm,
                "rule_id": a_rule.id,
                "order_id": a_order.id,
                "code": "voirie",
                "name": a_photo.display_name,
                "report": a_report,
            },
            "b": {
                "alarm_id": b_alarm,
                "rule_id": b_rule.id,
                "order_id": b_order.id,
                "code": "minett_voirie",
                "name": b_photo.display_name,
                "report": b_report,
            },
        }
    assert staff.id and admin.id
    return ids


def _b_state(engine: Any, minett: int) -> list[Any]:
    """Everything of the Minett's maintenance that a staff action could change."""
    with read_session(engine) as session:

        def rows(model: Any) -> list[Any]:
            found = session.scalars(select(model).where(model.territory_id == minett)).all()
            return sorted(
                (sorted((k, str(v)) for k, v in r.model_dump().items()) for r in found), key=str
            )

        comments = session.scalars(select(MaintenanceAlarmComment.text)).all()
        members = session.scalars(
            select(MaintenanceTeamMember.user_id).where(
                MaintenanceTeamMember.team == "minett_voirie"
            )
        ).all()
        return [
            rows(MaintenanceRule),
            rows(MaintenanceAlarm),
            rows(WorkOrder),
            rows(MaintenanceTeam),
            rows(MaintenanceWatch),
            sorted(comments),
            sorted(members),
        ]


def _fill(path: str, ids: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in ids:
            raise AssertionError(f"{path}: a maintenance route this sweep has no sample for")
        return str(ids[name])

    return re.sub(r"\{(\w+):\w+\}", one, path)


def _leaks(text: str, url: str = "") -> list[str]:
    return [mark for mark in MARKS if mark in text and mark not in url]


# The form every action on B's rows is sent with: enough for each to change something if it could.
FORM = {
    "text": "Vu.",
    "assignee_id": "",
    "name": "Renommée",
    "kind": "status",
    "measure": "offline",
    "severity": "critical",
    "state": "in_progress",
    "item": "0",
    "done": "on",
    "members": "",
    "minutes": "5",
    "note": "Fait.",
}


def test_staff_of_one_territory_sweeping_every_maintenance_route_find_nothing_of_the_other(
    app, engine, two, personas
):
    staff, admin = personas["staff"], personas["admin"]
    routes = domain_routes(app, DOMAIN)
    gets = [p for m, p in routes if m == "GET"]
    posts = [p for m, p in routes if m == "POST"]
    assert "/staff/alarms.json" in gets and "/staff/work-orders/{order_id:int}" in gets
    assert len(gets) >= 12 and len(posts) >= 14
    before = _b_state(engine, two["minett"])
    read_pages = refused = 0
    for path in gets:
        client = admin.client if path.startswith("/staff/teams") else staff.client
        if "{" not in path:
            urls = [path, f"{path}?state=all"] if "alarms" in path or "orders" in path else [path]
        else:
            urls = [_fill(path, two["a"])]
            url = _fill(path, two["b"])
            answer = client.get(url, follow_redirects=False)
            assert is_refused(answer), (path, answer.status_code)
            assert not _leaks(answer.text, url), (path, _leaks(answer.text, url))
            refused += 1
        for url in urls:
            answer = client.get(url, follow_redirects=False)
            assert answer.status_code == 200, (url, answer.status_code)
            assert not _leaks(answer.text), (url, _leaks(answer.text))
            read_pages += 1
    assert read_pages >= 14 and refused >= 4
    alarms_json = staff.client.get("/staff/alarms.json?state=all").json()
    assert [a["id"] for a in alarms_json] == [two["a"]["alarm_id"]]
    # Every action on one of B's rows: refused, nothing changed.
    acted = 0
    for path in posts:
        if "{" not in path:
            continue
        client = admin.client if path.startswith("/staff/teams") else staff.client
        url = _fill(path, two["b"])
        if path.endswith(("/photos", "/close")):
            answer = client.post(
                url,
                data={"_csrf_token": client.csrf_token(), "kind": "after", "minutes": "5"},
                files={"photo": ("x.jpg", jpeg(), "image/jpeg")},
                follow_redirects=False,
            )
        else:
            answer = client.post_form(url, FORM, follow_redirects=False)
        assert is_refused(answer), (path, answer.status_code)
        assert not _leaks(answer.text, url), (path, _leaks(answer.text, url))
        acted += 1
    assert acted >= 10
    assert _b_state(engine, two["minett"]) == before


def test_the_forms_on_one_host_accept_none_of_the_other_territorys_communes_teams_staff_or_rows(
    engine, two, personas
):
    staff, admin = personas["staff"], personas["admin"]
    before = _b_state(engine, two["minett"])
    a_alarm, a_order = two["a"]["alarm_id"], two["a"]["order_id"]
    rule = {"name": "Hors ligne", "kind": "status", "measure": "offline", "severity": "minor"}
    for refused in (
        staff.client.post_form("/staff/rules", {**rule, "commune_insee": "L0204"}),
        staff.client.post_form("/staff/rules", {**rule, "team": "minett_voirie"}),
        staff.client.post_form(
            "/staff/work-orders", {"title": "Ramassage", "team": "minett_voirie"}
        ),
        staff.client.post_form(
            "/staff/work-orders",
            {"title": "Ramassage", "team": "voirie", "alarm_id": str(two["b"]["alarm_id"])},
        ),
        staff.client.post_form(
            "/staff/work-orders",
            {"title": "Ramassage", "team": "voirie", "reports": str(two["b"]["report"])},
        ),
        staff.client.post_form(
            "/staff/work-orders",
            {"title": "Ramassage", "team": "voirie", "assignee_id": str(two["b_staff"])},
        ),
        staff.client.post_form(
            f"/staff/alarms/{a_alarm}/assign", {"assignee_id": str(two["b_staff"])}
        ),
        staff.client.post_form(
            "/staff/alarms/watch", {"communes": "L0204", "push": "on", "email": "on"}
        ),
        staff.client.post_form(
            "/staff/alarms/watch", {"teams": "minett_voirie", "push": "on", "email": "on"}
        ),
        admin.client.post_form(
            "/staff/teams/voirie", {"name": "Voirie", "members": str(two["b_staff"])}
        ),
    ):
        assert refused.status_code == 400, refused.text
        assert not _leaks(refused.text), _leaks(refused.text)
    assert _b_state(engine, two["minett"]) == before
    with read_session(engine) as session:
        alarm = session.get(MaintenanceAlarm, a_alarm)
        assert alarm is not None and alarm.assignee_id is None
        assert session.get(WorkOrder, a_order) is not None
        assert session.scalars(select(WorkOrderPhoto)).all()  # both photos are still there


def test_the_minetts_staff_see_and_make_the_minetts_maintenance_on_its_host(engine, two, personas):
    persona = personas["elected"]
    with write_session(engine) as session:
        user = session.get(User, persona.id)
        assert user is not None
        user.role, user.territory_id = "staff", two["minett"]
    client = persona.client
    alarms = client.get("/staff/alarms?state=all", headers=ESCH).text
    assert B_ALARM in alarms and "Alarme-de-Pays-Haut" not in alarms
    rules = client.get("/staff/rules", headers=ESCH).text
    assert B_RULE in rules and "Règle-de-Pays-Haut" not in rules
    desk = client.get("/staff/work-orders?state=all", headers=ESCH).text
    assert B_ORDER in desk and "Bon-de-Pays-Haut" not in desk
    assert client.get(f"/staff/work-orders/{two['a']['order_id']}", headers=ESCH).status_code == 404
    made = client.post_form(
        "/staff/rules",
        {"name": "Panne à Esch", "kind": "status", "measure": "fault", "severity": "major"},
        headers=ESCH,
    )
    assert made.status_code == 303, made.text
    with read_session(engine) as session:
        rule = session.scalars(
            select(MaintenanceRule).where(MaintenanceRule.name == "Panne à Esch")
        ).one()
        assert rule.territory_id == two["minett"]


# --------------------------------------------------------------------------- rules across territories

T0 = (utcnow() - dt.timedelta(hours=2)).replace(second=0, microsecond=0)
PM25 = dict(
    kind="measure",
    layer="sensors",
    subject="air_quality",
    measure="pm25",
    op=">=",
    threshold=50,
    severity="critical",
)


def _reading(sensor_id: str, minute: int, pm25: float) -> Inbound:
    at = T0 + dt.timedelta(minutes=minute)
    payload = {"ts": at.isoformat().replace("+00:00", "Z"), "kind": "air_quality", "pm25": pm25}
    return Inbound("tele_sensor", sensor_id, payload, at)


def test_a_rule_of_one_territory_raises_nothing_on_the_other_territorys_devices_or_reports(
    engine, personas
):
    minett = int(add_minett(engine).id or 0)
    staff = personas["staff"]
    resident = personas["resident"]
    with write_session(engine) as session:
        b_staff = create_user(session, B_STAFF, role="staff", display_name="Agent du Minett")
        b_staff.territory_id = minett
        session.flush()
        # Both staff follow every alarm of their territory.
        session.add(MaintenanceWatch(user_id=staff.id, severities=""))
        session.add(MaintenanceWatch(user_id=b_staff.id, severities="", territory_id=minett))
        session.add_all(
            [
                Sensor(
                    id="AQ-AUD",
                    kind="air_quality",
                    name="Station Audun",
                    commune_insee="57038",
                    lat=49.472,
                    lon=5.955,
                ),
                Sensor(
                    id="AQ-ESCH",
                    kind="air_quality",
                    name="Station Esch",
                    commune_insee="L0204",
                    lat=49.495,
                    lon=5.98,
                    territory_id=minett,
                ),
            ]
        )
        a_pm25 = save(session, RuleForm(name="PM2,5 Pays-Haut", **PM25), actor_id=None).id
        a_cluster = save(
            session,
            RuleForm(name="Dépôts Pays-Haut", kind="cluster", count=2, radius_m=5000, days=7),
            actor_id=None,
        ).id
        bind(session, read(session).by_slug["minett"])
        b_pm25 = save(session, RuleForm(name="PM2,5 Minett", **PM25), actor_id=None).id
        b_staff_id = b_staff.id
    for item in (_reading("AQ-ESCH", 0, 90), _reading("AQ-AUD", 1, 20)):
        ingest(engine, [item], now=item.received_at)
        rules_engine.drain(engine, now=item.received_at)
    with read_session(engine) as session:
        raised = session.scalars(select(MaintenanceAlarm)).all()
        assert [(a.rule_id, a.subject, a.territory_id) for a in raised] == [
            (b_pm25, "sensors:AQ-ESCH", minett)
        ]
        # Only the Minett's staff were told.
        assert watches.tell_staff(session, raised[0]) == [b_staff_id]
    for item in (_reading("AQ-AUD", 2, 95),):
        ingest(engine, [item], now=item.received_at)
        rules_engine.drain(engine, now=item.received_at)
    with read_session(engine) as session:
        ours = session.scalars(
            select(MaintenanceAlarm).where(MaintenanceAlarm.rule_id == a_pm25)
        ).all()
        assert [(a.subject, a.territory_id) for a in ours] == [("sensors:AQ-AUD", 1)]
        assert watches.tell_staff(session, ours[0]) == [staff.id]
    # Two reports either side of the border, 3 km apart: the first territory's cluster rule counts
    # its own report only, and raises nothing.
    for lat, lon in ((49.495, 5.98), (49.4725, 5.9552)):
        intake.create_report(
            engine,
            intake.NewReport(category="bulky_items", lat=lat, lon=lon, reporter_id=resident.id),
            media_dir=None,
        )
        rules_engine.drain(engine)
    with read_session(engine) as session:
        assert not session.scalars(
            select(MaintenanceAlarm).where(MaintenanceAlarm.rule_id == a_cluster)
        ).all()
        assert session.get(User, b_staff_id) is not None


def test_a_bundle_checks_its_rules_against_the_kinds_layers_operators_and_severities_rules_take():
    from app.maintenance import rules
    from app.models.maintenance import RULE_KINDS, RULE_LAYERS, RULE_OPS, SEVERITY_NAMES

    assert set(RULE_KINDS) == set(rules.KINDS) and set(RULE_OPS) == set(rules.OPS)
    assert set(SEVERITY_NAMES) == set(rules.SEVERITIES)
    assert set(rules.LAYERS) | {"", "alarms", "reports"} == set(RULE_LAYERS)


# --------------------------------------------------------------------------- the operations centre


def test_the_centres_alarm_layer_panel_and_stream_show_one_territory_none_of_the_others_alarms(
    app, engine, two, personas
):
    import asyncio

    from app import auth
    from app.maintenance import alarms
    from tests.e2e.conftest import LiveServer
    from tests.mqtt_fixtures import run_async
    from tests.ops_helpers import sse

    staff = personas["staff"]
    layer = staff.client.get("/staff/ops/layers/maintenance.geojson").json()
    assert [f["id"] for f in layer["features"]] == [str(two["a"]["alarm_id"])]
    panel = f"/staff/ops/panel/maintenance/{two['b']['alarm_id']}"
    assert staff.client.get(panel).status_code == 404
    assert (
        staff.client.get(f"/staff/ops/panel/maintenance/{two['a']['alarm_id']}").status_code == 200
    )

    def assign(alarm_id: int) -> None:
        with write_session(engine) as session:
            alarm = session.get(MaintenanceAlarm, alarm_id)
            assert alarm is not None
            alarms.assign(session, alarm, None)

    async def scenario() -> dict[str, Any]:
        token = staff.client.cookies.get(auth.SESSION_COOKIE)
        async with sse(server.url, token, path="/staff/ops/stream?layers=maintenance") as stream:
            assert await stream.first_comment() == "eclor"
            await asyncio.to_thread(assign, two["b"]["alarm_id"])  # the Minett's, first
            await asyncio.to_thread(assign, two["a"]["alarm_id"])
            return await asyncio.wait_for(stream.next_event(), 5.0)

    with LiveServer(app) as server:
        event = run_async(scenario(), timeout=30)
    assert (event["feature_id"], event["kind"]) == (str(two["a"]["alarm_id"]), "assigned")
    assert event["payload"]["territory"] == 1


def test_an_overdue_rule_sees_its_territorys_late_reports_however_many_the_other_has(engine):
    """The deadline rule reads the late reports of its own territory: a thousand older ones of
    another territory do not crowd out its own (it read the install's oldest thousand, then kept its
    territory's)."""
    from app.models.reports import Report

    minett = int(add_minett(engine).id or 0)
    long_ago = utcnow() - dt.timedelta(days=10)
    with write_session(engine) as session:
        session.execute(
            Report.__table__.insert(),
            [
                {
                    "category": "bulky_items",
                    "status": "new",
                    "description": "Ancien dépôt.",
                    "lat": 49.472,
                    "lon": 5.955,
                    "commune_insee": "57038",
                    "territory_id": 1,
                    "created_at": long_ago,
                    "updated_at": long_ago,
                }
                for _ in range(1_001)
            ],
        )
        late = Report(
            category="bulky_items",
            status="new",
            description="Dépôt oublié à Esch.",
            lat=49.495,
            lon=5.98,
            commune_insee="L0204",
            territory_id=minett,
            created_at=long_ago,
            updated_at=long_ago,
        )
        session.add(late)
        session.flush()
        late_id = late.id
        bind(session, read(session).by_slug["minett"])
        rule = save(
            session, RuleForm(name="Délai du Minett", kind="overdue", days=3), actor_id=None
        ).id
    rules_engine.drain(engine, now=utcnow())
    with read_session(engine) as session:
        raised = session.scalars(
            select(MaintenanceAlarm).where(MaintenanceAlarm.rule_id == rule)
        ).all()
        assert [(a.subject, a.territory_id) for a in raised] == [(f"report:{late_id}", minett)]
