"""What each staff member hears about: communes, severities, sources, categories and teams they
follow, by push and/or e-mail, at each alarm or in one digest a day; the on-call person gets critical
alarms at any hour, through their quiet hours. Pushes go through the real worker to the local push
service (``tests/pushreceiver.py``); e-mails are read back from the mail directory."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from app.db import read_session, utcnow, write_session
from app.interfaces import Place
from app.jobs import enqueue
from app.maintenance import alarms, watches
from app.maintenance.rules import RuleForm, save
from app.models.jobs import Job
from app.models.maintenance import MaintenanceAlarm
from app.models.push import NotificationDigestItem, PushDelivery
from app.notify import DIGEST_HOUR
from tests.test_accounts import mails
from tests.test_fanout import (  # noqa: F401  (fixtures)
    push_settings,
    receiver,
    run_worker,
    subscribe,
)

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

AUDUN, VILLERUPT = "57038", "57041"


def _watch(engine, user_id: int, **choices: Any) -> None:
    form = watches.WatchForm(**{"push": True, "email": True, **choices})
    with write_session(engine) as session:
        watches.save(session, user_id, form, {AUDUN, VILLERUPT}, {"bulky_items", "rubble"})


def _raise(
    engine,
    *,
    commune: str = AUDUN,
    kind: str = "air_quality",
    team: str = "",
    severity: str = "major",
    subject: str = "s1",
) -> int:
    with write_session(engine) as session:
        rule = save(
            session,
            RuleForm(
                name=f"Règle {subject}",
                kind="measure",
                layer="sensors",
                measure="pm25",
                severity=severity,
                team=team,
            ),
            actor_id=None,
        )
        alarm = alarms.raise_or_touch(
            session,
            rule,
            subject,
            source="sensors",
            feature_id=subject.upper(),
            place=Place(f"Capteur {subject}", commune, 49.47, 5.95, kind),
            at=utcnow(),
            value="pm25 = 80",
            title=f"Particules · {subject}",
        )
        assert alarm is not None
        return int(alarm.id or 0)


def _work(settings, engine) -> None:
    """Run the jobs that are due (the worker's own loop, a few rounds: a job may queue another)."""
    for _ in range(3):
        run_worker(settings, engine)


def _told(engine, user_id: int) -> list[str]:
    """The alarm pages a person was (or will be) told about at once."""
    with read_session(engine) as session:
        payloads = [
            json.loads(p)
            for p in session.scalars(select(Job.payload).where(Job.kind == "notify.user"))
        ]
    return sorted(p["url"] for p in payloads if p["user_id"] == user_id and p["topic"] == "alarms")


def test_each_staff_member_hears_only_of_the_communes_categories_severities_and_teams_they_chose(
    engine, staff, admin
):
    # staff: Audun-le-Tiche, air quality, the roads team; admin: everything (nothing ticked)
    _watch(
        engine,
        staff.id,
        communes=[AUDUN],
        categories=["air_quality"],
        teams=["voirie"],
        severities=["major", "critical"],
    )
    _watch(engine, admin.id)
    mine = _raise(engine, team="voirie", subject="a")
    other_commune = _raise(engine, commune=VILLERUPT, team="voirie", subject="b")
    other_kind = _raise(engine, kind="waste_centre", team="voirie", subject="c")
    other_team = _raise(engine, team="eclairage", subject="d")
    no_team = _raise(engine, subject="e")
    minor = _raise(engine, team="voirie", severity="minor", subject="f")
    with read_session(engine) as session:
        alarm = session.get(MaintenanceAlarm, mine)
        assert (alarm.category, alarm.team) == ("air_quality", "voirie")
    assert _told(engine, staff.id) == [f"/staff/alarms/{mine}"]
    every = (mine, other_commune, other_kind, other_team, no_team, minor)
    assert _told(engine, admin.id) == sorted(f"/staff/alarms/{i}" for i in every)


def test_the_watch_form_takes_categories_teams_channels_and_refuses_what_does_not_exist(
    engine, staff
):
    page = staff.client.get("/staff/alarms/watch")
    assert page.status_code == 200
    for field in (
        'name="categories"',
        'name="teams"',
        'name="push"',
        'name="email"',
        'value="digest"',
    ):
        assert field in page.text, field
    good = {
        "_csrf_token": staff.client.csrf_token(),
        "communes": [AUDUN],
        "categories": ["bulky_items", "light"],
        "teams": ["dechets"],
        "email": "on",
        "delivery": "digest",
    }
    assert (
        staff.client.post("/staff/alarms/watch", data=good, follow_redirects=False).status_code
        == 303
    )
    with read_session(engine) as session:
        watch = watches.watch_of(session, staff.id)
        assert (watch.categories, watch.teams, watch.push, watch.email, watch.digest) == (
            "bulky_items,light",
            "dechets",
            False,
            True,
            True,
        )
    for changed, message in (
        ({"categories": ["volcano"]}, "Catégorie inconnue"),
        ({"teams": ["plomberie"]}, "Équipe inconnue"),
        ({"email": ""}, "au moins un moyen"),
    ):
        answer = staff.client.post(
            "/staff/alarms/watch", data={**good, **changed}, follow_redirects=False
        )
        assert answer.status_code == 400 and message in answer.text, (changed, answer.status_code)
    with read_session(engine) as session:
        assert watches.watch_of(session, staff.id).categories == "bulky_items,light"


def test_the_digest_collects_the_days_alarms_and_sends_them_once_a_day(settings, engine, staff):
    _watch(engine, staff.id, push=False, digest=True)
    first = _raise(engine, subject="a")
    second = _raise(engine, commune=VILLERUPT, subject="b")
    assert _told(engine, staff.id) == []  # nothing at once
    with read_session(engine) as session:
        lines = session.scalars(
            select(NotificationDigestItem.url).where(NotificationDigestItem.user_id == staff.id)
        ).all()
        (job,) = session.scalars(select(Job).where(Job.kind == "notify.digest")).all()
    assert sorted(lines) == sorted([f"/staff/alarms/{first}", f"/staff/alarms/{second}"])
    at = job.run_at.astimezone(PARIS)
    assert (at.hour, at.minute) == (DIGEST_HOUR, 0) and job.run_at > utcnow()
    assert job.run_at - utcnow() <= dt.timedelta(days=1)

    _work(settings, engine)  # the digest waits for its hour
    assert [m for m in mails(settings) if m["To"] == staff.email] == []
    with write_session(engine) as session:
        session.execute(update(Job).where(Job.id == job.id).values(run_at=utcnow()))
    _work(settings, engine)
    (digest,) = [m for m in mails(settings) if m["To"] == staff.email]
    text = digest.get_content()
    assert "Particules · a" in text and "Particules · b" in text
    # the next alarm waits for the next digest; running the worker again sends nothing twice
    third = _raise(engine, subject="c")
    _work(settings, engine)
    assert len([m for m in mails(settings) if m["To"] == staff.email]) == 1
    with read_session(engine) as session:
        pending = session.scalars(
            select(NotificationDigestItem.url).where(
                NotificationDigestItem.user_id == staff.id,
                NotificationDigestItem.sent_at.is_(None),
            )
        ).all()
    assert pending == [f"/staff/alarms/{third}"]
    with write_session(engine) as session:  # the next day's digest job comes due
        enqueue(session, "notify.digest", {"user_id": staff.id})
    _work(settings, engine)
    sent = [m.get_content() for m in mails(settings) if m["To"] == staff.email]
    (later,) = [text for text in sent if "Particules · c" in text]  # files are not in sent order
    assert len(sent) == 2 and "Particules · a" not in later and "Particules · b" not in later


def test_the_on_call_person_gets_a_critical_alarm_in_their_quiet_hours_and_the_others_wait(
    push_settings, engine, receiver, staff, admin
):
    now = utcnow().astimezone(PARIS)
    minute = now.hour * 60 + now.minute
    night = ((minute - 60) % 1440, (minute + 60) % 1440)  # "now" is inside both people's night
    ((on_call_device, _a),) = subscribe(engine, receiver, admin.id, topics=(), quiet=night)
    ((sleeper_device, sleeper_sub),) = subscribe(engine, receiver, staff.id, topics=(), quiet=night)
    _watch(engine, admin.id, on_call=True, email=False, severities=["info"])
    _watch(engine, staff.id, email=False)
    critical = _raise(engine, severity="critical", subject="n")
    for _ in range(50):  # the worker runs the jobs that are due (the sleeper's push waits)
        run_worker(push_settings, engine)
        if receiver.received(on_call_device):
            break
    run_worker(push_settings, engine)
    got = receiver.received(on_call_device)
    assert [m["payload"]["url"] for m in got] == [f"/staff/alarms/{critical}"]
    assert got[0]["headers"]["Urgency"] == "high"
    assert receiver.received(sleeper_device) == []
    with read_session(engine) as session:
        held = session.scalars(
            select(PushDelivery).where(PushDelivery.subscription_id == sleeper_sub)
        ).one()
    assert held.status == "held"
    # neither chose e-mail and both have a device: no e-mail
    assert [m for m in mails(push_settings) if m["To"] in (admin.email, staff.email)] == []
