"""Alert fan-out through the real job path: publish → push.alert job → worker → local push service.

The push service is ``tests/pushreceiver.py`` (its own process): it checks
the VAPID header and decrypts every message with the subscription's private
key, so what these tests read back is what a phone would show.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select, update

from app import push
from app.alerts import publish as alerts
from app.alerts import topics as alerts_topics
from app.db import utcnow, write_session
from app.models.jobs import Job
from app.models.push import Alert, PushDelivery, PushSubscription
from app.notify import notify
from app.pwa import NOTIFICATION_ICON, service_worker_js
from workers import runner

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

try:
    from tests.pushreceiver import PushReceiver
except ModuleNotFoundError:  # tests/ itself on sys.path
    from pushreceiver import PushReceiver

ROOT = Path(__file__).resolve().parent.parent
SUBJECT = "mailto:exploitation@eclor.fr"
VAPID_PRIVATE, VAPID_PUBLIC = push.generate_vapid_keys()


@pytest.fixture(scope="module")
def receiver() -> Iterator[PushReceiver]:
    with PushReceiver(mode="full") as running:
        yield running


@pytest.fixture
def push_settings(settings: Any) -> Any:
    settings.vapid_private_key = VAPID_PRIVATE
    settings.vapid_subject = SUBJECT
    return settings


def make_user(engine: Any, email: str) -> int:
    from app import auth

    with write_session(engine) as session:
        return int(auth.create_user(session, email).id)


def subscribe(
    engine: Any,
    receiver: PushReceiver,
    user_id: int,
    n: int = 1,
    *,
    topics: tuple[str, ...] = ("traffic",),
    communes: tuple[str, ...] = (),
    quiet: tuple[int, int] | None = None,
    public_key: str = VAPID_PUBLIC,
) -> list[tuple[str, int]]:
    """``n`` subscriptions on the receiver stored for ``user_id``: (receiver name, row id) each."""
    names = [uuid.uuid4().hex[:16] for _ in range(n)]
    made = receiver.make_subscription_jsons(names, public_key)
    rows = []
    with write_session(engine) as session:
        for name, sub in zip(names, made, strict=True):
            row = PushSubscription(
                user_id=user_id,
                endpoint=sub["endpoint"],
                p256dh=sub["keys"]["p256dh"],
                auth=sub["keys"]["auth"],
                topics=alerts_topics.pack(topics),
                communes=alerts_topics.pack(communes),
                quiet_start=quiet[0] if quiet else None,
                quiet_end=quiet[1] if quiet else None,
            )
            session.add(row)
            rows.append((name, row))
        session.flush()
        return [(name, int(row.id)) for name, row in rows]


def publish(
    engine: Any,
    *,
    title: str = "Frontière saturée à Audun",
    body: str = "Bouchon de 3 km vers Esch.",
    topic: str = "traffic",
    communes: tuple[str, ...] = (),
    urgency: str = "normal",
    ttl_s: int | None = 3600,
) -> int:
    with write_session(engine) as session:
        data = alerts.clean_input(
            session,
            title=title,
            body=body,
            topic=topic,
            communes=list(communes),
            urgency=urgency,
            ttl_s=ttl_s,
            link="/carpool",
        )
        return int(alerts.publish(session, data, source="staff", sender="eclor@test").id)


def run_worker(settings: Any, engine: Any) -> int:
    return asyncio.run(
        runner.run(settings, engine, once=True, services=False, install_signals=False)
    )


def drain(settings: Any, engine: Any, *, timeout: float = 20.0) -> None:
    """Run the worker until no job is queued or running (jobs deferred to later are waited for)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_worker(settings, engine)
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running")))
            ).scalar()
        if not left:
            return
        time.sleep(0.1)
    raise AssertionError("jobs still waiting after the timeout")


def deliveries(engine: Any, alert_id: int) -> dict[int | None, PushDelivery]:
    with write_session(engine) as session:
        rows = session.scalars(select(PushDelivery).where(PushDelivery.alert_id == alert_id)).all()
        return {row.subscription_id: row for row in rows}


def test_the_decrypted_message_is_what_was_sent_with_ttl_urgency_and_topic(
    push_settings, engine, receiver
):
    user = make_user(engine, "frontalier@eclor.test")
    ((name, sub_id),) = subscribe(engine, receiver, user, topics=("traffic",), communes=("57038",))
    alert_id = publish(engine, communes=("57038",), urgency="high", ttl_s=1800)
    drain(push_settings, engine)

    got = receiver.received(name)
    assert len(got) == 1
    message = got[0]
    assert message["status"] == 201
    assert message["payload"] == {
        "title": "Frontière saturée à Audun",
        "body": "Bouchon de 3 km vers Esch.",
        "url": f"/alerts/{alert_id}",
        "tag": f"alert-{alert_id}",
        "urgency": "high",
        "severity": "Severe",
        "icon": NOTIFICATION_ICON,
        "lang": "fr",
    }
    assert message["headers"]["Urgency"] == "high"
    assert 1700 <= int(message["headers"]["TTL"]) <= 1800
    assert message["headers"]["Topic"] == "traffic"  # a feed where only the latest matters
    assert message["claims"]["sub"] == SUBJECT
    row = deliveries(engine, alert_id)[sub_id]
    assert (row.status, row.http_status, row.attempts) == ("delivered", 201, 1)
    with write_session(engine) as session:
        assert session.get(PushSubscription, sub_id).last_success_at is not None
        assert session.get(Alert, alert_id).fanout_done_at is not None


def test_the_push_carries_what_the_phone_shows_without_a_network_request(
    push_settings, app, engine, receiver
):
    """The decrypted message holds everything the service worker shows (app/static/js/sw.js reads
    these fields), the icon is one the worker precached, the Topic lets the push service replace
    an undelivered message of the thread, and the page it opens is served from memory."""
    user = make_user(engine, "alerte@eclor.test")
    ((name, _sub_id),) = subscribe(engine, receiver, user, topics=("weather",), communes=("57038",))
    alert_id = publish(
        engine,
        title="Orages violents cet après-midi",
        body="Restez à l'abri, évitez les bords de l'Alzette.",
        topic="weather",
        communes=("57038",),
        urgency="high",
    )
    drain(push_settings, engine)

    (message,) = receiver.received(name)
    payload = message["payload"]
    assert payload == {
        "title": "Orages violents cet après-midi",
        "body": "Restez à l'abri, évitez les bords de l'Alzette.",
        "url": f"/alerts/{alert_id}",
        "tag": f"alert-{alert_id}",
        "urgency": "high",
        "severity": "Severe",
        "icon": NOTIFICATION_ICON,
        "lang": "fr",
    }
    # The push service keeps one message per Topic: the thread's, the same as the notification's tag.
    assert message["headers"]["Topic"] == payload["tag"]
    assert message["headers"]["Urgency"] == "high"
    worker = service_worker_js().decode()
    precache = json.loads(worker.split("const PRECACHE = ", 1)[1].split(";\n", 1)[0])
    assert payload["icon"] in precache and f"const ICON = {json.dumps(payload['icon'])};" in worker
    for field in ("title", "body", "tag", "icon", "lang", "url", "urgency", "severity"):
        assert f"data.{field}" in worker, f"the service worker does not read {field}"

    # The page the notification opens: the first visitor reads the alert, the crowd reads memory.
    from tests.conftest import EclorClient

    statements: list[str] = []
    with EclorClient(app=app) as client:
        first = client.get(payload["url"])
        assert first.status_code == 200 and "Orages violents" in first.text
        listen = lambda *a: statements.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listen)
        try:
            again = client.get(payload["url"])
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    assert again.status_code == 200 and "Orages violents" in again.text
    assert statements == [], statements


def test_only_subscriptions_that_chose_the_topic_and_commune_get_the_alert(
    push_settings, engine, receiver
):
    user = make_user(engine, "r@eclor.test")
    ((villerupt, _a),) = subscribe(engine, receiver, user, topics=("traffic",), communes=("54580",))
    ((audun, _b),) = subscribe(engine, receiver, user, topics=("traffic",), communes=("57038",))
    ((everywhere, _c),) = subscribe(engine, receiver, user, topics=("traffic", "weather"))
    ((weather_only, _d),) = subscribe(engine, receiver, user, topics=("weather",))
    publish(engine, communes=("57038",))
    drain(push_settings, engine)
    assert [len(receiver.received(n)) for n in (villerupt, audun, everywhere, weather_only)] == [
        0,
        1,
        1,
        0,
    ]


def test_a_410_removes_only_that_subscription(push_settings, engine, receiver):
    user = make_user(engine, "r@eclor.test")
    (gone, gone_id), (kept, kept_id) = subscribe(engine, receiver, user, 2)
    receiver.script(gone, 410)
    alert_id = publish(engine)
    drain(push_settings, engine)

    with write_session(engine) as session:
        assert session.get(PushSubscription, gone_id) is None
        assert session.get(PushSubscription, kept_id) is not None
        statuses = sorted(
            (d.status, d.http_status)
            for d in session.scalars(
                select(PushDelivery).where(PushDelivery.alert_id == alert_id)
            ).all()
        )
    assert statuses == [("delivered", 201), ("gone", 410)]
    assert len(receiver.received(kept)) == 1


def test_a_429_is_retried_after_its_retry_after(push_settings, engine, receiver):
    user = make_user(engine, "r@eclor.test")
    ((name, sub_id),) = subscribe(engine, receiver, user)
    receiver.script(name, (429, {"Retry-After": "2"}))
    alert_id = publish(engine)
    drain(push_settings, engine)

    got = receiver.received(name)
    assert [m["status"] for m in got] == [429, 201]
    row = deliveries(engine, alert_id)[sub_id]
    assert (row.status, row.attempts) == ("delivered", 2)
    assert (row.finished_at - row.created_at) >= timedelta(seconds=2)
    assert got[0]["payload"] == got[1]["payload"]


def test_a_5xx_is_retried_and_a_413_or_400_is_not(push_settings, engine, receiver):
    user = make_user(engine, "r@eclor.test")
    (flaky, flaky_id), (big, big_id), (bad, bad_id) = subscribe(engine, receiver, user, 3)
    receiver.script(flaky, (503, {"Retry-After": "1"}))
    receiver.script(big, 413)
    receiver.script(bad, 400)
    alert_id = publish(engine)
    drain(push_settings, engine)

    rows = deliveries(engine, alert_id)
    assert (rows[flaky_id].status, rows[flaky_id].attempts) == ("delivered", 2)
    assert (rows[big_id].status, rows[big_id].attempts) == ("too_large", 1)
    assert (rows[bad_id].status, rows[bad_id].attempts) == ("rejected", 1)
    assert [len(receiver.received(n)) for n in (flaky, big, bad)] == [2, 1, 1]


def test_a_plaintext_over_3993_bytes_is_refused_before_anything_is_sent(
    push_settings, engine, receiver
):
    user = make_user(engine, "r@eclor.test")
    ((name, sub_id),) = subscribe(engine, receiver, user)
    with write_session(engine) as session:
        # The form and the CLI refuse such a text (see test_alerts); a row written another way is
        # still stopped by the worker before any request.
        alert = alerts.publish(
            session,
            alerts.AlertInput(title="Long", body="é" * 2100, topic="traffic", communes=[]),
            source="staff",
            sender="eclor@test",
        )
        alert_id = alert.id
    drain(push_settings, engine)
    assert receiver.received(name) == []
    row = deliveries(engine, alert_id)[sub_id]
    assert row.status == "too_large" and row.attempts == 0 and "3993" in row.detail


def test_quiet_hours_hold_a_normal_alert_and_let_a_high_one_through(
    push_settings, engine, receiver
):
    now = utcnow().astimezone(PARIS)
    minute = now.hour * 60 + now.minute
    quiet = ((minute - 60) % 1440, (minute + 60) % 1440)
    user = make_user(engine, "r@eclor.test")
    ((name, sub_id),) = subscribe(engine, receiver, user, quiet=quiet)
    normal_id = publish(engine, title="Déchèterie calme", urgency="normal")
    high_id = publish(engine, title="Accident sur la N4", urgency="high")
    run_worker(push_settings, engine)

    assert [m["payload"]["title"] for m in receiver.received(name)] == ["Accident sur la N4"]
    held = deliveries(engine, normal_id)[sub_id]
    assert held.status == "held"
    assert timedelta(minutes=58) < held.next_at - utcnow() <= timedelta(minutes=61)
    assert deliveries(engine, high_id)[sub_id].status == "delivered"
    with write_session(engine) as session:
        job = session.scalars(select(Job).where(Job.dedupe_key == f"push.alert:{normal_id}")).one()
        assert job.status == "queued" and job.run_at >= held.next_at - timedelta(seconds=1)
        # Morning comes: the job and the held row are due (and the quiet hours are over).
        session.execute(update(Job).where(Job.id == job.id).values(run_at=utcnow()))
        session.execute(
            update(PushDelivery).where(PushDelivery.id == held.id).values(next_at=utcnow())
        )
        session.execute(
            update(PushSubscription)
            .where(PushSubscription.id == sub_id)
            .values(quiet_start=None, quiet_end=None)
        )
    drain(push_settings, engine)
    assert [m["payload"]["title"] for m in receiver.received(name)] == [
        "Accident sur la N4",
        "Déchèterie calme",
    ]


def test_quiet_hours_end_in_the_morning_across_midnight_and_daylight_saving():
    from datetime import datetime

    tz = PARIS
    night = datetime(2026, 3, 29, 1, 30, tzinfo=tz)  # the night clocks go forward in France
    until = alerts_topics.quiet_until(night, 22 * 60, 7 * 60, tz)
    assert until is not None and until.astimezone(tz).hour == 7 and until.astimezone(tz).day == 29
    evening = datetime(2026, 11, 22, 23, 0, tzinfo=tz)
    assert alerts_topics.quiet_until(evening, 22 * 60, 7 * 60, tz).astimezone(tz).day == 23
    assert (
        alerts_topics.quiet_until(datetime(2026, 11, 22, 12, 0, tzinfo=tz), 22 * 60, 7 * 60, tz)
        is None
    )
    assert (
        alerts_topics.quiet_until(datetime(2026, 11, 22, 13, 0, tzinfo=tz), 12 * 60, 14 * 60, tz)
        is not None
    )


def test_an_update_and_a_cancel_reach_the_subscriptions_that_got_the_original(
    push_settings, engine, receiver
):
    user = make_user(engine, "r@eclor.test")
    ((first, first_id),) = subscribe(engine, receiver, user, topics=("weather",))
    alert_id = publish(engine, title="Neige sur l’A30", topic="weather")
    drain(push_settings, engine)
    # Who got the original changed their mind about the topic; a newcomer subscribed since.
    with write_session(engine) as session:
        session.execute(
            update(PushSubscription)
            .where(PushSubscription.id == first_id)
            .values(topics=",general,")
        )
    ((newcomer, _n),) = subscribe(engine, receiver, user, topics=("weather",))
    with write_session(engine) as session:
        original = session.get(Alert, alert_id)
        data = alerts.clean_input(
            session,
            title="Neige sur l’A30 : une voie rouverte",
            body="",
            topic="weather",
            communes=[],
            urgency="normal",
            ttl_s=3600,
        )
        update_id = alerts.amend(session, original, data, source="staff", sender="eclor@test").id
    drain(push_settings, engine)
    with write_session(engine) as session:
        alerts.amend(
            session,
            session.get(Alert, update_id),
            None,
            source="staff",
            sender="eclor@test",
            note="Routes dégagées.",
        )
    drain(push_settings, engine)

    titles = [m["payload"]["title"] for m in receiver.received(first)]
    assert titles == [
        "Neige sur l’A30",
        "Mise à jour : Neige sur l’A30 : une voie rouverte",
        "Fin d’alerte : Neige sur l’A30 : une voie rouverte",
    ]
    tags = {m["payload"]["tag"] for m in receiver.received(first)}
    assert tags == {
        f"alert-{alert_id}"
    }  # the phone replaces the notification instead of stacking them
    # The newcomer matches the update, and so got the update and its cancellation.
    assert [m["payload"]["title"][:11] for m in receiver.received(newcomer)] == [
        "Mise à jour",
        "Fin d’alert",
    ]


def test_a_personal_notification_reaches_the_persons_devices_that_chose_the_topic(
    push_settings, engine, receiver
):
    user = make_user(engine, "r@eclor.test")
    other = make_user(engine, "o@eclor.test")
    ((mine, _a),) = subscribe(engine, receiver, user, topics=("my_reports",))
    ((mine_no_topic, _b),) = subscribe(engine, receiver, user, topics=("weather",))
    ((theirs, _c),) = subscribe(engine, receiver, other, topics=("my_reports",))
    with write_session(engine) as session:
        notify(
            session,
            [user],
            topic="my_reports",
            title="Signalement n° 12 pris en charge",
            body="Une équipe passe demain.",
            url="/reports/12",
            email=False,
        )
    drain(push_settings, engine)
    got = receiver.received(mine)
    assert [m["payload"]["url"] for m in got] == ["/reports/12"]
    assert got[0]["payload"]["title"] == "Signalement n° 12 pris en charge"
    assert receiver.received(mine_no_topic) == [] and receiver.received(theirs) == []


def _worker_env(settings: Any) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ECLOR_ENV": "test",
            "ECLOR_DATABASE_URL": settings.database_url,
            "ECLOR_VAR_DIR": str(settings.var_dir),
            "ECLOR_SECRET_KEY": settings.secret_key,
            "ECLOR_VAPID_PRIVATE_KEY": VAPID_PRIVATE,
            "ECLOR_VAPID_SUBJECT": SUBJECT,
            "ECLOR_WORKER_LEASE_SECONDS": "2",
            "ECLOR_WORKER_POLL_SECONDS": "0.05",
            "LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD": "0",
        }
    )
    return env


def test_a_worker_killed_mid_fan_out_and_restarted_delivers_every_push_once_under_its_topic(
    push_settings, engine, receiver
):
    """SIGKILL a real `eclor worker` during a 1,500-device fan-out, start another: everyone gets it,
    nobody sees it twice.

    Rows marked ``sending`` when the worker died (their POST may or may not have
    reached the push service) are sent again under the message's ``Topic``: a
    push service replaces a message of the same Topic, so a device that got the
    first copy shows one notification. Every row ends ``delivered``.
    """
    total = 1500
    receiver.reset()
    user = make_user(engine, "r@eclor.test")
    subs = subscribe(engine, receiver, user, total)
    alert_id = publish(engine)
    env = _worker_env(push_settings)
    first = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while receiver.stats()["requests"] < 350:
            assert first.poll() is None, "the worker ended before it could be killed"
            assert time.monotonic() < deadline, "the fan-out did not start"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    at_kill = receiver.stats()["requests"]
    assert at_kill < total, "the fan-out finished before the kill: nothing was tested"

    time.sleep(2.5)  # the dead worker's lease runs out
    second = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert second.returncode == 0, second.stderr[-2000:]

    stats = receiver.stats()
    rows = deliveries(engine, alert_id)
    states: dict[str, int] = {}
    for row in rows.values():
        states[row.status] = states.get(row.status, 0) + 1
    assert states == {"delivered": total}  # none left unknown: each was sent again
    assert stats["errors"] == 0 and stats["verified"] == stats["requests"]
    assert stats["distinct_subscriptions"] == total  # nothing lost
    assert stats["max_shown_per_subscription"] == 1  # a second copy replaced the first (Topic)
    resent = stats["requests"] - total
    assert 0 <= resent <= 2 * alerts_topics.FANOUT_BATCH  # at most the two batches in flight
    with write_session(engine) as session:
        job = session.scalars(select(Job).where(Job.dedupe_key == f"push.alert:{alert_id}")).one()
        assert job.status == "done" and job.attempts == 2
    assert len(subs) == total
    print(
        json.dumps(
            {"received_at_kill": at_kill, "resent": resent, "delivered": states["delivered"]}
        )
    )
