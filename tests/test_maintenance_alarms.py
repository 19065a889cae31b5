"""Staff handle alarms (acknowledge, comment, assign, clear), read them as JSON, see them in the
operations centre, and write rules in a form that refuses bad input in French."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.db import read_session, utcnow, write_session
from app.maintenance import alarms
from app.models.maintenance import MaintenanceAlarm, MaintenanceAlarmComment, MaintenanceRule


def _alarm(engine, **fields) -> int:
    now = utcnow()
    with write_session(engine) as session:
        rule = MaintenanceRule(name="File d'attente", kind="measure", layer="sensors")
        session.add(rule)
        session.flush()
        alarm = MaintenanceAlarm(
            rule_id=rule.id,
            subject="sensors:WC-01",
            source="sensors",
            feature_id="WC-01",
            title="File d'attente · Déchèterie d'Audun",
            commune_insee="57038",
            lat=49.47,
            lon=5.95,
            first_seen=now - dt.timedelta(minutes=12),
            last_seen=now,
            count=4,
            **{"severity": "minor", **fields},
        )
        session.add(alarm)
        session.flush()
        return alarm.id


def test_staff_acknowledge_comment_assign_and_clear_an_alarm(engine, staff, resident):
    alarm_id = _alarm(engine)
    url = f"/staff/alarms/{alarm_id}"
    assert staff.client.post_form(url + "/acknowledge").status_code == 303
    again = staff.client.post_form(url + "/acknowledge")
    assert again.status_code == 400 and "Seule une alarme ouverte" in again.text
    empty = staff.client.post_form(url + "/comment", {"text": "   "})
    assert empty.status_code == 400 and "Le commentaire est vide." in empty.text
    assert staff.client.post_form(url + "/comment", {"text": "Agent prévenu."}).status_code == 303
    not_staff = staff.client.post_form(url + "/assign", {"assignee_id": str(resident.id)})
    assert not_staff.status_code == 400 and "personnel" in not_staff.text
    junk = staff.client.post_form(url + "/assign", {"assignee_id": "douze"})
    assert junk.status_code == 400
    assert (
        staff.client.post_form(url + "/assign", {"assignee_id": str(staff.id)}).status_code == 303
    )
    assert staff.client.post_form(url + "/clear").status_code == 303
    twice = staff.client.post_form(url + "/clear")
    assert twice.status_code == 400 and "déjà levée" in twice.text
    with read_session(engine) as session:
        alarm = session.get(MaintenanceAlarm, alarm_id)
        comments = session.scalars(select(MaintenanceAlarmComment)).all()
    assert alarm.state == "cleared" and alarm.cleared_why == "staff"
    assert alarm.assignee_id == staff.id and alarm.acknowledged_by == staff.id
    assert [c.text for c in comments] == ["Agent prévenu."]
    assert staff.client.get("/staff/alarms/999999").status_code == 404


def test_alarms_json_lists_every_alarm_with_the_documented_fields(engine, staff):
    first = _alarm(engine)
    with write_session(engine) as session:
        alarm = session.get(MaintenanceAlarm, first)
        alarms.clear(session, alarm, why="ended", at=utcnow(), actor_id=None)
    second = _alarm(engine, severity="critical")
    rows = staff.client.get("/staff/alarms.json").json()
    assert {r["id"] for r in rows} == {first, second}
    row = next(r for r in rows if r["id"] == second)
    assert {
        "id",
        "severity",
        "source",
        "commune",
        "state",
        "first_seen",
        "last_seen",
        "title",
    } <= set(row)
    assert (row["severity"], row["source"], row["commune"], row["state"]) == (
        "critical",
        "sensors",
        "57038",
        "open",
    )
    assert dt.datetime.fromisoformat(row["first_seen"]) < dt.datetime.fromisoformat(
        row["last_seen"]
    )
    ongoing = staff.client.get("/staff/alarms.json?state=ongoing").json()
    assert [r["id"] for r in ongoing] == [second]
    assert staff.client.get("/staff/alarms.json?state=nonsense").status_code == 400


def test_alarms_appear_as_a_layer_and_in_the_feed_of_the_operations_centre(engine, staff):
    alarm_id = _alarm(engine)
    layer = staff.client.get("/staff/ops/layers/maintenance.geojson").json()
    (feature,) = layer["features"]
    assert feature["properties"]["state"] == "open" and feature["properties"]["severity"] == "minor"
    assert feature["properties"]["url"] == f"/staff/alarms/{alarm_id}"
    panel = staff.client.get(f"/staff/ops/panel/maintenance/{alarm_id}")
    assert panel.status_code == 200 and "Prendre en compte" in panel.text
    staff.client.post_form(f"/staff/alarms/{alarm_id}/acknowledge")
    from app import events

    (event,) = [e for e in events.read_since(engine, 0) if e.layer == "maintenance"]
    assert (event.feature_id, event.kind, event.payload["state"]) == (
        str(alarm_id),
        "acknowledged",
        "acknowledged",
    )
    kpis = staff.client.get("/staff/ops/kpis.json").json()
    assert "alarms_ongoing" in str(kpis)


def test_staff_write_a_rule_in_a_form_and_bad_input_is_refused_in_french(engine, staff):
    good = {
        "name": "File d'attente à la déchèterie",
        "kind": "measure",
        "layer": "sensors",
        "subject": "waste_centre",
        "measure": "queue",
        "op": ">=",
        "threshold": "15",
        "duration_min": "10",
        "severity": "minor",
        "commune_insee": "57038",
        "quiet_min": "60",
    }
    cases = [
        ({**good, "name": ""}, "Ce champ"),
        ({**good, "measure": ""}, "Indiquez la mesure surveillée"),
        ({**good, "threshold": "beaucoup"}, "Un nombre est attendu"),
        ({**good, "severity": "apocalyptique"}, "Choix invalide"),
        ({**good, "commune_insee": "99999"}, "Commune inconnue"),
        ({**good, "duration_min": "-5"}, "trop petite"),
        ({**good, "kind": "status", "measure": "burning"}, "état surveillé"),
    ]
    for data, message in cases:
        answer = staff.client.post_form("/staff/rules", data)
        assert answer.status_code == 400, (data, answer.status_code)
        assert message in answer.text, (data, message)
    with read_session(engine) as session:
        assert session.scalars(select(MaintenanceRule)).all() == []
    assert staff.client.post_form("/staff/rules", good).status_code == 303
    with read_session(engine) as session:
        (rule,) = session.scalars(select(MaintenanceRule)).all()
    assert (rule.measure, rule.threshold, rule.duration_s, rule.quiet_s, rule.commune_insee) == (
        "queue",
        15.0,
        600,
        3600,
        "57038",
    )
    page = staff.client.get("/staff/rules")
    assert "queue &gt;= 15" in page.text and "pendant 10 min" in page.text


def test_the_demo_ships_sensible_rules_among_them_the_report_cluster(engine):
    import random

    from app.maintenance.demo import load_rules

    with write_session(engine) as session:
        assert load_rules(session, random.Random(1))
        assert load_rules(session, random.Random(1)) is None  # idempotent
    with read_session(engine) as session:
        rules = session.scalars(select(MaintenanceRule)).all()
    kinds = {(r.kind, r.measure or str(r.count)) for r in rules}
    assert {
        ("measure", "queue"),
        ("measure", "pm25"),
        ("cluster", "3"),
        ("status", "offline"),
    } <= kinds
    crossing = next(r for r in rules if r.measure == "averageVehicleSpeed")
    assert (crossing.op, crossing.threshold) == ("<", 20)


def test_staff_hear_about_the_alarms_they_follow_and_the_on_call_person_gets_every_critical_one(
    engine, staff, admin
):
    import json

    from app.db import read_session as rs
    from app.models.jobs import Job

    # staff follow Audun-le-Tiche's major and critical alarms; the admin is on call and nothing else
    answer = staff.client.post(
        "/staff/alarms/watch",
        data={
            "_csrf_token": staff.client.csrf_token(),
            "communes": ["57038"],
            "severities": ["major", "critical"],
            "push": "on",
            "email": "on",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert (
        admin.client.post_form(
            "/staff/alarms/watch", {"on_call": "on", "communes": "57041", "email": "on"}
        ).status_code
        == 303
    )
    bad = staff.client.post_form("/staff/alarms/watch", {"communes": "99999", "push": "on"})
    assert bad.status_code == 400 and "Commune inconnue" in bad.text
    from app.maintenance.rules import RuleForm, save

    with write_session(engine) as session:
        rule = save(
            session,
            RuleForm(name="Pic", kind="measure", layer="sensors", measure="pm25", severity="minor"),
            actor_id=None,
        )
        place = alarms.Place("Station", "57038", 49.47, 5.95)
        minor = alarms.raise_or_touch(
            session,
            rule,
            "a",
            source="sensors",
            feature_id="A",
            place=place,
            at=utcnow(),
            value="pm25 = 60",
            title="Pic · A",
        )
        rule.severity = "critical"
        critical = alarms.raise_or_touch(
            session,
            rule,
            "b",
            source="sensors",
            feature_id="B",
            place=place,
            at=utcnow(),
            value="pm25 = 300",
            title="Pic · B",
        )
    with rs(engine) as session:
        jobs = [
            json.loads(p)
            for p in session.scalars(select(Job.payload).where(Job.kind == "notify.user"))
        ]
    told = sorted((j["user_id"], j["url"]) for j in jobs if j["topic"] == "alarms")
    assert told == sorted(
        [(staff.id, f"/staff/alarms/{critical.id}"), (admin.id, f"/staff/alarms/{critical.id}")]
    ), (told, minor.id)
