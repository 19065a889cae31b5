"""Rules evaluated by the worker as readings and reports arrive: sustained conditions raise one alarm
that clears when the condition ends, flapping raises nothing, three reports close together make a
cluster, and a rule never sends an alert by itself."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import AsyncIterator

from sqlalchemy import func, select

from app import events
from app.db import read_session, utcnow, write_session
from app.lighting.relay import Inbound, ingest
from app.maintenance import engine as rules_engine
from app.maintenance.rules import RuleForm, save
from app.models.jobs import Job
from app.models.maintenance import MaintenanceAlarm, MaintenanceCondition
from app.models.push import Alert
from app.models.sensors import Sensor
from app.reports import intake
from tests.mqtt_fixtures import mqtt_client, run_async
from workers import runner

T0 = (utcnow() - dt.timedelta(hours=2)).replace(second=0, microsecond=0)  # readings must be recent
AUDUN = "57038"


def _sensor(engine, sensor_id: str = "AQ-AUD-01", kind: str = "air_quality") -> None:
    with write_session(engine) as session:
        session.add(
            Sensor(
                id=sensor_id,
                kind=kind,
                name="Station Audun",
                commune_insee=AUDUN,
                lat=49.472,
                lon=5.955,
            )
        )


def _rule(engine, **fields) -> int:
    with write_session(engine) as session:
        return save(session, RuleForm(**fields), actor_id=None).id


PM25 = dict(
    name="Particules fines",
    kind="measure",
    layer="sensors",
    subject="air_quality",
    measure="pm25",
    op=">=",
    threshold=50,
    duration_min=10,
    severity="major",
)


def _reading(minute: float, pm25: float, sensor_id: str = "AQ-AUD-01") -> dict:
    return {
        "ts": (T0 + dt.timedelta(minutes=minute)).isoformat().replace("+00:00", "Z"),
        "kind": "air_quality",
        "no2": 20.0,
        "pm10": 30.0,
        "pm25": pm25,
    }


def _alarms(engine) -> list[MaintenanceAlarm]:
    with read_session(engine) as session:
        return list(session.scalars(select(MaintenanceAlarm).order_by(MaintenanceAlarm.id)))


@contextlib.asynccontextmanager
async def running_worker(settings, engine) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        runner.run(
            settings,
            engine,
            stop=stop,
            install_signals=False,
            worker_id=f"rules-{uuid.uuid4().hex[:6]}",
        )
    )
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def _until(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


def test_a_sustained_pm25_reading_sent_over_mqtt_raises_one_alarm_through_the_worker_and_clears_when_it_ends(
    settings, engine, mqtt_url, topic_prefix
):
    _sensor(engine)
    rule_id = _rule(engine, **PM25)
    worker_settings = settings.model_copy(
        update={"mqtt_url": mqtt_url, "mqtt_prefix": topic_prefix}
    )
    topic = f"{topic_prefix}/tele/sensor/AQ-AUD-01"

    def seen(minute: float):
        def check() -> bool:
            with read_session(engine) as session:
                sensor = session.get(Sensor, "AQ-AUD-01")
                cursor = rules_engine._cursor(engine)
                return (
                    sensor is not None
                    and sensor.last_seen_at is not None
                    and json.loads(sensor.last_values)
                    .get("ts", "")
                    .startswith((T0 + dt.timedelta(minutes=minute)).isoformat()[:16])
                    and cursor >= events.latest_id(engine)
                )

        return check

    async def scenario() -> None:
        async with running_worker(worker_settings, engine), mqtt_client(mqtt_url) as device:
            # The relay subscribes as the worker starts: the first reading is sent until it arrives.
            async def first() -> bool:
                for _ in range(100):
                    await device.publish(topic, json.dumps(_reading(0, 60)), qos=1)
                    try:
                        await _until(seen(0), timeout=0.5)
                        return True
                    except AssertionError:
                        continue
                return False

            assert await first()
            for minute, value in ((5, 62), (11, 65), (12, 70)):
                await device.publish(topic, json.dumps(_reading(minute, value)), qos=1)
                await _until(seen(minute))
            raised = _alarms(engine)
            assert [(a.rule_id, a.state, a.count) for a in raised] == [(rule_id, "open", 2)]
            assert raised[0].first_seen == T0 + dt.timedelta(minutes=11)
            assert raised[0].commune_insee == AUDUN and raised[0].severity == "major"
            await device.publish(topic, json.dumps(_reading(13, 20)), qos=1)
            await _until(seen(13))

    run_async(scenario(), timeout=90)
    (alarm,) = _alarms(engine)
    assert alarm.state == "cleared" and alarm.cleared_why == "ended"
    assert alarm.cleared_at == T0 + dt.timedelta(minutes=13)


def _feed(engine, *readings: tuple[float, float]) -> None:
    items = [
        Inbound("tele_sensor", "AQ-AUD-01", _reading(m, v), T0 + dt.timedelta(minutes=m))
        for m, v in readings
    ]
    for item in items:  # one message after the other, as the relay receives them
        ingest(engine, [item], now=item.received_at)
        rules_engine.drain(engine, now=item.received_at)


def test_flapping_readings_inside_the_duration_raise_nothing(engine):
    _sensor(engine)
    _rule(engine, **PM25)
    _feed(engine, (0, 60), (4, 20), (6, 61), (9, 30), (12, 70), (15, 10), (18, 55), (27, 12))
    assert _alarms(engine) == []
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(MaintenanceCondition)) == 0


def test_an_ongoing_condition_is_never_raised_twice_and_the_quiet_period_holds_back_the_next(
    engine,
):
    _sensor(engine)
    _rule(engine, **{**PM25, "duration_min": 0, "quiet_min": 60})
    _feed(engine, (0, 60), (1, 61), (2, 62), (3, 10), (10, 70), (80, 75))
    alarms = _alarms(engine)
    # the first run raised one alarm seen three times; the second, 7 min after it cleared, was
    # inside the quiet period; the third, 77 min after, raised a new one
    assert [(a.state, a.count) for a in alarms] == [("cleared", 3), ("open", 1)]
    assert alarms[1].first_seen == T0 + dt.timedelta(minutes=80)


def test_a_rule_scoped_to_another_commune_ignores_the_sensor(engine):
    _sensor(engine)
    _rule(engine, **{**PM25, "duration_min": 0, "commune_insee": "57041"})
    _feed(engine, (0, 90), (1, 90))
    assert _alarms(engine) == []


def _report(engine, reporter_id, lat: float, lon: float, category: str = "bulky_items") -> int:
    created = intake.create_report(
        engine,
        intake.NewReport(
            category=category, lat=lat, lon=lon, reporter_id=reporter_id, description="Dépôt"
        ),
        media_dir=None,
    )
    rules_engine.drain(engine)
    return created.report.id


CLUSTER = dict(name="Dépôts répétés", kind="cluster", count=3, radius_m=200, days=7)


def test_a_report_cluster_rule_fires_on_the_third_report_within_200_m(engine, resident, personas):
    _rule(engine, **CLUSTER, severity="major")
    neighbour = personas["other_resident"]
    _report(engine, resident.id, 49.4720, 5.9550)
    _report(engine, neighbour.id, 49.4725, 5.9552)  # about 60 m away
    _report(engine, resident.id, 49.4900, 5.9550)  # 2 km away: not in the cluster
    _report(engine, neighbour.id, 49.4721, 5.9540, category="rubble")  # another category
    assert _alarms(engine) == []
    third = _report(engine, resident.id, 49.4718, 5.9556)
    (alarm,) = _alarms(engine)
    assert (alarm.source, alarm.state, alarm.count, alarm.severity) == (
        "reports",
        "open",
        3,
        "major",
    )
    assert alarm.feature_id == str(third) and alarm.commune_insee is not None
    _report(engine, neighbour.id, 49.4722, 5.9551)  # a fourth one grows the same alarm
    (alarm,) = _alarms(engine)
    assert alarm.count == 4


def test_a_rule_never_sends_an_alert_by_itself_it_only_prepares_one_for_staff(engine, resident):
    _sensor(engine)
    _rule(
        engine,
        **{**PM25, "duration_min": 0},
        prepare_alert=True,
        alert_title="Pic de particules fines",
    )
    _feed(engine, (0, 95), (1, 96))
    (alarm,) = _alarms(engine)
    assert alarm.alert_title == "Pic de particules fines" and "Particules fines" in alarm.alert_body
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        kinds = set(session.scalars(select(Job.kind)))
    assert not kinds & {"push.alert", "push.send", "alerts.fanout", "notify.user"}, kinds


def test_a_lighting_fault_raises_an_alarm_that_clears_with_the_repair(engine):
    from tests.lighting_helpers import seed_lights

    seed_lights(engine, 1)
    _rule(engine, name="Panne d'éclairage", kind="status", measure="fault", severity="major")
    with read_session(engine) as session:
        from app.models.lighting import Streetlight

        light = session.scalars(select(Streetlight)).first()
    assert light is not None

    def tele(minute: int, status: str) -> Inbound:
        at = T0 + dt.timedelta(minutes=minute)
        payload = {"ts": at.isoformat(), "level": 80, "power_w": 40.0, "status": status}
        return Inbound("tele_light", light.device_id, payload, at)

    for minute, status in ((0, "ok"), (1, "defectiveLamp"), (2, "defectiveLamp")):
        ingest(engine, [tele(minute, status)], now=T0 + dt.timedelta(minutes=minute))
        rules_engine.drain(engine)
    (alarm,) = _alarms(engine)
    assert (alarm.source, alarm.state, alarm.value) == ("lights", "open", "defectiveLamp")
    ingest(engine, [tele(3, "ok")], now=T0 + dt.timedelta(minutes=3))
    rules_engine.drain(engine)
    (alarm,) = _alarms(engine)
    assert alarm.state == "cleared"


def test_two_workers_evaluating_at_once_raise_one_alarm(engine):
    _sensor(engine)
    _rule(engine, **{**PM25, "duration_min": 0})
    ingest(
        engine,
        [Inbound("tele_sensor", "AQ-AUD-01", _reading(0, 80), T0)],
        now=T0,
    )

    async def both() -> None:
        await asyncio.gather(
            asyncio.to_thread(rules_engine.drain, engine),
            asyncio.to_thread(rules_engine.drain, engine),
        )

    asyncio.run(both())
    (alarm,) = _alarms(engine)
    assert alarm.count == 1


def _edit_form(**fields) -> dict:
    form = {
        "name": "Particules fines",
        "kind": "measure",
        "layer": "sensors",
        "subject": "air_quality",
        "measure": "pm25",
        "op": ">=",
        "threshold": "50",
        "duration_min": "0",
        "severity": "major",
        "quiet_min": "60",
    }
    return {**form, **fields}


def test_editing_a_rule_in_its_form_clears_the_alarms_of_the_old_condition_and_evaluates_the_new(
    engine, staff
):
    _sensor(engine)
    rule_id = _rule(engine, **{**PM25, "duration_min": 0, "quiet_min": 60})
    _feed(engine, (0, 60), (1, 61))
    (alarm,) = _alarms(engine)
    assert alarm.state == "open"

    # the same form, filled with the rule
    page = staff.client.get(f"/staff/rules/{rule_id}")
    assert page.status_code == 200
    assert f'action="/staff/rules/{rule_id}"' in page.text and 'value="pm25"' in page.text
    assert staff.client.get("/staff/rules/999999").status_code == 404

    # bad input: said under the field, nothing changes
    bad = staff.client.post_form(f"/staff/rules/{rule_id}", _edit_form(threshold="beaucoup"))
    assert bad.status_code == 400 and "Un nombre est attendu" in bad.text
    (alarm,) = _alarms(engine)
    assert alarm.state == "open"

    # a change that keeps the condition (name, severity) keeps the alarm open, with the new severity
    same = staff.client.post_form(
        f"/staff/rules/{rule_id}", _edit_form(name="Particules fines (PM2.5)", severity="critical")
    )
    assert same.status_code == 303
    (alarm,) = _alarms(engine)
    assert (alarm.state, alarm.severity) == ("open", "critical")

    # a new threshold: the alarm raised under the old one is cleared, the timing forgotten
    moved = staff.client.post_form(f"/staff/rules/{rule_id}", _edit_form(threshold="80"))
    assert moved.status_code == 303 and "cleared=1" in moved.headers["location"]
    (alarm,) = _alarms(engine)
    assert (alarm.state, alarm.cleared_why) == ("cleared", "rule_edited")
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(MaintenanceCondition)) == 0
    assert "1 alarme levée" in staff.client.get(moved.headers["location"]).text

    # re-evaluated from the next reading: 65 no longer holds, 90 does (no quiet period after an edit)
    _feed(engine, (2, 65))
    assert [a.state for a in _alarms(engine)] == ["cleared"]
    _feed(engine, (3, 90))
    first, second = _alarms(engine)
    assert (second.state, second.value, second.first_seen) == (
        "open",
        "pm25 = 90",
        T0 + dt.timedelta(minutes=3),
    )


def test_staff_open_a_prepared_alert_in_the_alert_form_filled_for_review_and_the_rule_never_sends_it(
    engine, staff
):
    import html
    import re

    _sensor(engine)
    _rule(
        engine,
        **{**PM25, "duration_min": 0, "severity": "critical"},
        prepare_alert=True,
        alert_title="Pic de particules fines",
    )
    _feed(engine, (0, 95))
    (alarm,) = _alarms(engine)
    page = staff.client.get(f"/staff/alarms/{alarm.id}")
    link = html.unescape(re.search(r'id="prepared-alert-link" href="([^"]+)"', page.text).group(1))
    assert link.startswith("/staff/alerts/new?")
    form = staff.client.get(link)
    assert form.status_code == 200
    text = html.unescape(form.text)
    assert (
        'id="title" name="title" type="text" maxlength="120" required value="Pic de particules fines"'
        in text
    )
    assert re.search(r'<textarea id="body"[^>]*>Particules fines · Station Audun</textarea>', text)
    checked = re.findall(r'name="communes" value="(\d+)" checked', text)
    assert checked == [AUDUN]  # the alert's area: the alarm's commune
    assert '<option value="high" selected>' in text  # critical → urgent
    assert 'id="prepared-notice"' in text
    # opening it sent nothing: staff review and send it themselves
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 0
        assert not set(session.scalars(select(Job.kind))) & {"push.alert"}
    fields = dict(re.findall(r'name="(title|topic|urgency)"[^>]*value="([^"]*)"', text))
    sent = staff.client.post_form(
        "/staff/alerts/new",
        {
            "title": "Pic de particules fines",
            "body": "Évitez les efforts en plein air à Audun-le-Tiche.",
            "topic": "general",
            "urgency": "high",
            "communes": AUDUN,
            "do": "send",
        },
    )
    assert sent.status_code == 303, fields
    with read_session(engine) as session:
        (published,) = session.scalars(select(Alert)).all()
    assert published.title == "Pic de particules fines"
