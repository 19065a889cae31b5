"""Rules on lighting groups and cabinets: a share of a group's lights at fault, a cabinet's measured
power, a cabinet whose lights all fell silent. The alarm carries the group or cabinet, shows in the
alarm list and the operations centre, becomes a work order, and clears when the condition ends."""

from __future__ import annotations

import datetime as dt
import html
import json

import pytest

from sqlalchemy import select, update

from app import events
from app.db import read_session, utcnow, write_session
from app.lighting.relay import Inbound, ingest
from app.maintenance import engine as rules_engine
from app.maintenance.rules import RuleForm, save
from app.models.lighting import LightCabinet, Streetlight
from app.models.maintenance import MaintenanceAlarm, MaintenanceRule, WorkOrder
from tests.lighting_helpers import seed_lights
from tests.mqtt_fixtures import mqtt_client, run_async
from tests.test_maintenance_rules import _until, running_worker


def _rule(engine, **fields) -> int:
    with write_session(engine) as session:
        return save(session, RuleForm(**fields), actor_id=None).id


def _alarms(engine) -> list[MaintenanceAlarm]:
    with read_session(engine) as session:
        return list(session.scalars(select(MaintenanceAlarm).order_by(MaintenanceAlarm.id)))


def _tele(light: str, at: dt.datetime, status: str = "ok", power_w: float = 40.0) -> Inbound:
    payload = {"ts": at.isoformat(), "level": 80, "power_w": power_w, "status": status}
    return Inbound("tele_light", light, payload, at)


def _send(engine, *items: Inbound) -> None:
    """Readings stored by the relay's ingestion, then the rules evaluated on what they changed."""
    at = max(item.received_at for item in items)
    ingest(engine, list(items), now=at)
    rules_engine.drain(engine, now=at)


GROUP_FAULTS = dict(
    name="Groupe en panne",
    kind="status",
    layer="groups",
    subject="G1",
    measure="fault",
    op=">=",
    threshold=30,
    severity="major",
)


def test_a_rule_on_a_group_fires_when_30_percent_of_its_lights_are_at_fault_and_not_before_and_clears_with_the_repair(
    engine, staff
):
    g1 = seed_lights(engine, 10, group="G1", prefix="SL-A-")
    g2 = seed_lights(engine, 10, group="G2", prefix="SL-B-")
    rule_id = _rule(engine, **GROUP_FAULTS)
    now = utcnow()
    _send(engine, *(_tele(light, now) for light in g1 + g2))
    # two of ten lights of G1, and every light of the other group: below the threshold for G1
    _send(engine, *(_tele(light, now, "defectiveLamp") for light in g1[:2] + g2))
    assert _alarms(engine) == []
    # the third light of G1: 30 % of the group
    _send(engine, _tele(g1[2], now + dt.timedelta(seconds=5), "brokenLantern"))
    (alarm,) = _alarms(engine)
    assert (alarm.rule_id, alarm.source, alarm.feature_id, alarm.subject, alarm.state) == (
        rule_id,
        "groups",
        "G1",
        "groups:G1",
        "open",
    )
    assert alarm.value == "fault 3/10 (30 %)" and alarm.title == "Groupe en panne · Groupe G1"
    assert alarm.commune_insee == "57038" and alarm.category == "group"
    assert alarm.lat == pytest.approx(49.47245) and alarm.lon == pytest.approx(5.955)
    # another reading of a failed light keeps the one alarm
    _send(engine, _tele(g1[0], now + dt.timedelta(seconds=10), "columnIssue"))
    assert [a.id for a in _alarms(engine)] == [alarm.id]

    # like every alarm: in the list, its JSON, the operations centre's layer and feed
    listed = staff.client.get("/staff/alarms.json").json()
    (item,) = [a for a in listed if a["id"] == alarm.id]
    assert (item["source"], item["subject"], item["severity"]) == ("groups", "groups:G1", "major")
    assert "Groupe en panne · Groupe G1" in html.unescape(staff.client.get("/staff/alarms").text)
    layer = staff.client.get("/staff/ops/layers/maintenance.geojson").json()
    (feature,) = layer["features"]
    assert feature["properties"]["source"] == "groups"
    assert feature["properties"]["url"] == f"/staff/alarms/{alarm.id}"
    raised = [
        e
        for e in events.read_since(engine, 0)
        if e.layer == "maintenance" and e.feature_id == str(alarm.id)
    ]
    assert [(e.kind, e.payload["source"]) for e in raised] == [("raised", "groups")]

    # a work order from it, through the same form as any alarm
    answer = staff.client.post_form(
        "/staff/work-orders",
        {
            "title": "Remplacer les lampes du groupe G1",
            "team": "eclairage",
            "alarm_id": str(alarm.id),
        },
    )
    assert answer.status_code == 303, answer.text
    with read_session(engine) as session:
        (order,) = session.scalars(select(WorkOrder)).all()
        acknowledged = session.get(MaintenanceAlarm, alarm.id)
    assert order.alarm_id == alarm.id and order.commune_insee == "57038" and order.lat == alarm.lat
    assert acknowledged is not None and acknowledged.state == "acknowledged"

    # one lamp repaired: 2 of 10, the condition ends and the alarm clears by itself
    _send(engine, _tele(g1[1], now + dt.timedelta(seconds=20), "ok"))
    (alarm,) = _alarms(engine)
    assert (alarm.state, alarm.cleared_why) == ("cleared", "ended")
    assert alarm.cleared_at is not None


def test_a_rule_on_a_cabinet_fires_over_mqtt_through_the_worker_when_its_measured_power_passes_the_threshold(
    settings, engine, mqtt_url, topic_prefix
):
    lights = seed_lights(engine, 6, group="G1", prefix="SL-C-")
    rule_id = _rule(
        engine,
        name="Armoire trop gourmande",
        kind="measure",
        layer="cabinets",
        subject="CAB-T",
        measure="power_w",
        op=">",
        threshold=300,
        severity="minor",
    )
    worker_settings = settings.model_copy(
        update={"mqtt_url": mqtt_url, "mqtt_prefix": topic_prefix}
    )

    def reading(level: int, power_w: float) -> str:
        at = utcnow().isoformat().replace("+00:00", "Z")
        return json.dumps({"ts": at, "level": level, "power_w": power_w, "status": "ok"})

    def evaluated(light: str, level: int):
        def check() -> bool:
            with read_session(engine) as session:
                row = session.get(Streetlight, light)
                return (
                    row is not None
                    and row.actual_level == level
                    and rules_engine._cursor(engine) >= events.latest_id(engine)
                )

        return check

    async def scenario() -> None:
        async with running_worker(worker_settings, engine), mqtt_client(mqtt_url) as device:
            topic = f"{topic_prefix}/tele/light/"

            async def first() -> bool:  # the relay subscribes as the worker starts
                for _ in range(100):
                    await device.publish(topic + lights[0], reading(50, 50.0), qos=1)
                    try:
                        await _until(evaluated(lights[0], 50), timeout=0.5)
                        return True
                    except AssertionError:
                        continue
                return False

            assert await first()
            for light in lights[1:]:  # 6 × 50 W = 300 W: not above 300
                await device.publish(topic + light, reading(50, 50.0), qos=1)
                await _until(evaluated(light, 50))
            assert _alarms(engine) == []
            await device.publish(topic + lights[0], reading(100, 70.0), qos=1)  # 320 W
            await _until(evaluated(lights[0], 100))
            (alarm,) = _alarms(engine)
            assert (alarm.rule_id, alarm.source, alarm.subject, alarm.state, alarm.value) == (
                rule_id,
                "cabinets",
                "cabinets:CAB-T",
                "open",
                "power_w = 320",
            )
            assert alarm.title == "Armoire trop gourmande · Armoire de test"
            # the cabinet's own position, not its lights'
            assert (alarm.lat, alarm.lon) == (49.472, 5.955)
            await device.publish(topic + lights[0], reading(20, 10.0), qos=1)  # 260 W
            await _until(evaluated(lights[0], 20))

    run_async(scenario(), timeout=90)
    (alarm,) = _alarms(engine)
    assert (alarm.state, alarm.cleared_why) == ("cleared", "ended")


def test_a_cabinet_whose_lights_all_fall_silent_raises_an_alarm_after_the_duration_and_clears_when_one_speaks(
    engine,
):
    lights = seed_lights(engine, 4, group="G1", prefix="SL-D-", period_s=60)
    # another cabinet, whose lights keep speaking
    others = seed_lights(engine, 3, group="G2", prefix="SL-O-", period_s=60)
    with write_session(engine) as session:
        session.add(LightCabinet(id="CAB-U", name="Armoire voisine", commune_insee="57038"))
        session.flush()
        session.execute(
            update(Streetlight).where(Streetlight.id.in_(others)).values(cabinet_id="CAB-U")
        )
    _rule(
        engine,
        name="Armoire muette",
        kind="silence",
        layer="cabinets",
        subject="",  # every cabinet
        duration_min=10,
        severity="critical",
    )
    start = utcnow()
    _send(engine, *(_tele(light, start) for light in lights + others))
    # one light still speaks 5 minutes later: the cabinet is not silent while one of them speaks
    _send(engine, _tele(lights[3], start + dt.timedelta(minutes=5)))
    rules_engine.drain(engine, now=start + dt.timedelta(minutes=6))
    assert _alarms(engine) == []
    # silent from minute 7 (two periods after its last reading), seen so at minute 8, for 10
    # minutes by minute 18
    for minute in (8, 12, 16):
        at = start + dt.timedelta(minutes=minute)
        _send(engine, *(_tele(light, at) for light in others))
        assert _alarms(engine) == [], minute
    _send(engine, *(_tele(light, start + dt.timedelta(minutes=19)) for light in others))
    (alarm,) = _alarms(engine)
    assert (alarm.source, alarm.subject, alarm.severity, alarm.state) == (
        "cabinets",
        "cabinets:CAB-T",
        "critical",
        "open",
    )
    # one light speaks again: the cabinet is back, the alarm clears at the next check
    ingest(
        engine,
        [_tele(lights[0], start + dt.timedelta(minutes=20))],
        now=start + dt.timedelta(minutes=20),
    )
    rules_engine.drain(engine, now=start + dt.timedelta(minutes=21))
    (alarm,) = _alarms(engine)
    assert (alarm.state, alarm.cleared_why) == ("cleared", "ended")


def test_the_rule_form_takes_a_group_or_a_cabinet_and_refuses_an_unknown_one_in_french(
    engine, staff
):
    seed_lights(engine, 2, group="G1", prefix="SL-E-")
    group = {
        "name": "Groupe hors ligne",
        "kind": "status",
        "layer": "groups",
        "subject": "G1",
        "measure": "offline",
        "op": ">=",
        "threshold": "30",
        "duration_min": "5",
        "severity": "major",
    }
    cabinet = {
        "name": "Armoire muette",
        "kind": "silence",
        "layer": "cabinets",
        "subject": "CAB-T",
        "duration_min": "15",
        "severity": "critical",
    }
    cases = [
        ({**group, "subject": "G-NOPE"}, "Groupe d'éclairage inconnu : « G-NOPE »."),
        ({**cabinet, "subject": "CAB-NOPE"}, "Armoire d'éclairage inconnue : « CAB-NOPE »."),
        ({**group, "threshold": "150"}, "entre 0 et 100 %"),
        ({**group, "kind": "measure", "measure": "pm25"}, "la mesure est power_w"),
    ]
    for data, message in cases:
        answer = staff.client.post_form("/staff/rules", data)
        assert answer.status_code == 400, (data, answer.status_code)
        assert message in html.unescape(answer.text), (data, message)
    unknown = staff.client.post_form("/staff/rules", cases[0][0])
    assert 'aria-describedby="subject-error"' in unknown.text  # said under the field
    with read_session(engine) as session:
        assert session.scalars(select(MaintenanceRule)).all() == []
    for data in (group, cabinet):
        assert staff.client.post_form("/staff/rules", data).status_code == 303
    with read_session(engine) as session:
        rules = session.scalars(select(MaintenanceRule).order_by(MaintenanceRule.id)).all()
    assert [(r.kind, r.layer, r.subject, r.measure, r.threshold) for r in rules] == [
        ("status", "groups", "G1", "offline", 30.0),
        ("silence", "cabinets", "CAB-T", "", 0.0),
    ]
    page = html.unescape(staff.client.get("/staff/rules").text)
    assert "part des points lumineux « Hors ligne » >= 30 % (Groupes d'éclairage : G1)" in page
    assert "(Armoires d'éclairage : CAB-T)" in page
    # the same form, filled with the rule, to edit it
    edit = html.unescape(staff.client.get(f"/staff/rules/{rules[0].id}").text)
    assert '<option value="groups" selected>' in edit and 'value="G1"' in edit
