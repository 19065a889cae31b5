"""Notification choices belong to the account: they work with no device, devices follow them, and an
e-mail channel (immediate or a daily digest) reaches people without push."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text, update

from app import push
from app.alerts import publish as alerts
from app.db import make_engine, utcnow, write_session
from app.migrate import upgrade
from app.models.jobs import Job
from app.models.push import NotificationDigestItem, NotificationPreferences, PushSubscription
from app.models.sensors import Sensor
from app.sensors import measures as sensors
from tests.conftest import fresh_database_url
from tests.test_push_subscriptions import browser_subscription
from workers import runner

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

VAPID_PRIVATE, _VAPID_PUBLIC = push.generate_vapid_keys()


@pytest.fixture
def push_settings(settings: Any) -> Any:
    settings.vapid_private_key = VAPID_PRIVATE
    settings.vapid_subject = "mailto:exploitation@eclor.fr"
    return settings


def drain(settings: Any, engine: Any) -> None:
    """Run every due job (the worker, once), twice: jobs that queue other jobs."""
    for _ in range(3):
        asyncio.run(runner.run(settings, engine, once=True, services=False, install_signals=False))


def mails(settings: Any) -> list[email.message.EmailMessage]:
    folder = Path(settings.mail_dir)
    out = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        out.append(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    return out


def body_of(message: Any) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def save(persona: Any, **fields: Any) -> Any:
    data = {
        "topics": ["traffic"],
        "communes": [],
        "quiet_start": "",
        "quiet_end": "",
        "email_mode": "off",
    }
    data.update(fields)
    return persona.client.post_form("/me/push", data)


def test_a_resident_without_any_device_saves_topics_communes_quiet_hours_and_email(
    resident, engine
):
    r = save(
        resident,
        topics=["weather", "traffic"],
        communes=["57038"],
        quiet_start="22:00",
        quiet_end="07:00",
        email_mode="daily",
    )
    assert r.status_code == 303 and r.headers["location"] == "/me/push?saved=1"
    with write_session(engine) as session:
        row = session.get(NotificationPreferences, resident.id)
        assert session.scalars(select(PushSubscription)).all() == []
    assert (row.topics, row.communes, row.quiet_start, row.quiet_end, row.email_mode) == (
        ",traffic,weather,",
        ",57038,",
        22 * 60,
        7 * 60,
        "daily",
    )
    page = resident.client.get("/me/push?saved=1").text
    assert "Vos choix sont enregistrés" in page and "Aucun appareil" in page
    assert (
        'value="daily" checked' in page
        and 'value="57038" checked' in page
        and 'value="22:00"' in page
    )


def test_bad_choices_are_refused_in_french_and_nothing_is_saved(resident, engine):
    for fields in ({"email_mode": "fax"}, {"topics": []}, {"quiet_start": "22:00"}):
        r = save(resident, **fields)
        assert r.status_code == 400 and 'class="field-error"' in r.text
    with write_session(engine) as session:
        assert session.get(NotificationPreferences, resident.id) is None


def test_a_device_subscribed_later_follows_the_account_and_saving_updates_every_device(
    resident, engine
):
    save(resident, topics=["weather"], communes=["54580"], quiet_start="21:30", quiet_end="06:00")
    r = resident.client.post_json("/push/subscriptions", browser_subscription())
    assert (
        r.status_code == 201
        and r.json()["topics"] == ["weather"]
        and r.json()["communes"] == ["54580"]
    )
    with write_session(engine) as session:
        (device,) = session.scalars(select(PushSubscription)).all()
        assert (device.quiet_start, device.quiet_end) == (21 * 60 + 30, 6 * 60)
    save(resident, topics=["traffic", "general"])
    with write_session(engine) as session:
        (device,) = session.scalars(select(PushSubscription)).all()
        assert (device.topics, device.communes, device.quiet_start) == (
            ",general,traffic,",
            ",",
            None,
        )


def test_a_device_that_brings_its_own_choices_sets_them_for_the_account(resident, engine):
    resident.client.post_json("/push/subscriptions", browser_subscription(topics=["traffic"]))
    resident.client.post_json(
        "/push/subscriptions", browser_subscription(topics=["road_safety"], communes=["57602"])
    )
    with write_session(engine) as session:
        prefs = session.get(NotificationPreferences, resident.id)
        topics = {d.topics for d in session.scalars(select(PushSubscription)).all()}
    assert (prefs.topics, prefs.communes) == (",road_safety,", ",57602,")
    assert topics == {",road_safety,"}


def test_an_alert_reaches_by_email_those_who_chose_immediate_email_and_only_them(
    push_settings, engine, resident, personas
):
    save(resident, topics=["traffic"], communes=["57038"], email_mode="immediate")
    save(personas["other_resident"], topics=["traffic"], email_mode="off")
    save(personas["merchant"], topics=["weather"], email_mode="immediate")
    with write_session(engine) as session:
        data = alerts.clean_input(
            session,
            title="Frontière saturée à Audun",
            body="Bouchon de 3 km vers Esch.",
            topic="traffic",
            communes=["57038"],
            ttl_s=3600,
        )
        alert_id = alerts.publish(session, data, source="staff", sender="eclor@test").id
    drain(push_settings, engine)
    got = mails(push_settings)
    assert [m["To"] for m in got] == ["resident@eclor.test"]
    assert got[0]["Subject"] == "Alerte Eclor : Frontière saturée à Audun"
    assert "Bouchon de 3 km vers Esch." in body_of(got[0]) and f"/alerts/{alert_id}" in body_of(
        got[0]
    )
    drain(push_settings, engine)  # a second pass sends nothing twice
    assert len(mails(push_settings)) == 1


def test_the_daily_digest_collects_the_days_alerts_in_one_email(push_settings, engine, resident):
    save(resident, topics=["traffic", "weather"], email_mode="daily")
    with write_session(engine) as session:
        for title, topic in (("Route fermée à Thil", "traffic"), ("Orages en soirée", "weather")):
            data = alerts.clean_input(
                session, title=title, body="Détails.", topic=topic, communes=[], ttl_s=3600
            )
            alerts.publish(session, data, source="staff", sender="eclor@test")
    drain(push_settings, engine)
    assert mails(push_settings) == []  # not before the evening
    with write_session(engine) as session:
        assert len(session.scalars(select(NotificationDigestItem)).all()) == 2
        digest_jobs = session.scalars(select(Job).where(Job.kind == "notify.digest")).all()
        assert len(digest_jobs) == 1
        assert digest_jobs[0].run_at.astimezone(PARIS).hour == 18
        session.execute(update(Job).where(Job.kind == "notify.digest").values(run_at=utcnow()))
    drain(push_settings, engine)
    (digest,) = mails(push_settings)
    assert digest["Subject"] == "Eclor : votre résumé du jour"
    assert "Route fermée à Thil" in body_of(digest) and "Orages en soirée" in body_of(digest)
    with write_session(engine) as session:
        assert all(
            i.sent_at is not None for i in session.scalars(select(NotificationDigestItem)).all()
        )


def test_the_waste_centre_watch_reaches_a_resident_without_any_device_by_email(
    push_settings, engine, resident
):
    with write_session(engine) as session:
        session.add(
            Sensor(
                id="WC-AUD-01",
                kind="waste_centre",
                name="Déchèterie d'Audun-le-Tiche",
                lat=49.46,
                lon=5.96,
                reporting_period_s=60,
                meta=json.dumps({"bays": 12, "dwell_min": 15}),
            )
        )
    assert resident.client.post_form("/waste-centre/watch", {"threshold": "10"}).status_code == 303
    with write_session(engine) as session:
        assert (
            sensors.notify_watchers(session, session.get(Sensor, "WC-AUD-01"), 4.0, utcnow()) == 1
        )
    drain(push_settings, engine)
    (mail,) = mails(push_settings)
    assert mail["To"] == "resident@eclor.test" and "l'attente est de 4 min" in mail["Subject"]


def test_the_migration_carries_each_accounts_latest_device_choices_over(tmp_path):
    url = fresh_database_url(tmp_path)
    upgrade(url, "0004_push")
    upgrade(url, "accounts@head")
    engine = make_engine(url)
    old, new = utcnow() - dt.timedelta(days=3), utcnow()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, role, display_name, locale, is_active, created_at) "
                "VALUES (1, 'a@eclor.test', 'resident', '', 'fr', true, :t)"
            ),
            {"t": old},
        )
        for n, (topics, quiet, at) in enumerate(
            ((",weather,", None, old), (",traffic,", 1320, new))
        ):
            conn.execute(
                text(
                    "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, topics, communes, "
                    "quiet_start, quiet_end, device, created_at, updated_at) VALUES (1, :e, 'k', 'a', :t, "
                    "',57038,', :q, :qe, '', :at, :at)"
                ),
                {
                    "e": f"https://push.example/{n}",
                    "t": topics,
                    "q": quiet,
                    "qe": 420 if quiet else None,
                    "at": at,
                },
            )
    upgrade(url)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT user_id, topics, communes, quiet_start, quiet_end, email_mode "
                "FROM notification_preferences"
            )
        ).one()
    engine.dispose()
    assert tuple(row) == (1, ",traffic,", ",57038,", 1320, 420, "off")
