"""Subscribing a device (POST /push/subscriptions), unsubscribing, the settings page, VAPID keys, GDPR."""

from __future__ import annotations

import argparse
import base64
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app import push
from app.alerts import fanout, subscriptions, topics
from app.alerts import publish as alerts
from app.db import write_session
from app.models.push import PushDelivery, PushSubscription
from app.privacy import erase_user, export_user

try:
    from tests.pushreceiver import make_keys
except ModuleNotFoundError:  # tests/ itself on sys.path
    from pushreceiver import make_keys


def browser_subscription(endpoint: str = "", **extra: Any) -> dict[str, Any]:
    """What ``PushSubscription.toJSON()`` gives in a browser, plus Eclor's fields."""
    _key, p256dh, auth = make_keys()
    token = base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("=")
    body: dict[str, Any] = {
        "endpoint": endpoint or f"https://fcm.googleapis.com/fcm/send/{token}",
        "expirationTime": None,
        "keys": {"p256dh": p256dh, "auth": auth},
    }
    body.update(extra)
    return body


def rows(engine: Any) -> list[PushSubscription]:
    with write_session(engine) as session:
        return list(session.scalars(select(PushSubscription).order_by(PushSubscription.id)).all())


def test_a_resident_subscribes_a_device_with_topics_and_communes(resident, engine):
    body = browser_subscription(topics=["traffic", "weather"], communes=["57038", "54580"])
    r = resident.client.post_json(
        "/push/subscriptions",
        body,
        headers={"user-agent": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["topics"] == ["traffic", "weather"] and r.json()["device"] == "Chrome · Android"
    (row,) = rows(engine)
    assert (row.user_id, row.endpoint, row.topics, row.communes) == (
        resident.id,
        body["endpoint"],
        ",traffic,weather,",
        ",54580,57038,",
    )


def test_subscribing_the_same_device_again_updates_its_row(resident, engine):
    body = browser_subscription(topics=["traffic"])
    assert resident.client.post_json("/push/subscriptions", body).status_code == 201
    body["topics"] = ["weather"]
    r = resident.client.post_json("/push/subscriptions", body)
    assert r.status_code == 200
    (row,) = rows(engine)
    assert row.topics == ",weather,"


def test_without_topics_a_subscription_gets_the_default_ones(resident, engine):
    assert (
        resident.client.post_json("/push/subscriptions", browser_subscription()).status_code == 201
    )
    assert topics.unpack(rows(engine)[0].topics) == sorted(topics.DEFAULT_TOPICS)


def test_it_refuses_bad_subscriptions_with_a_french_message_and_stores_nothing(resident, engine):
    cases = [
        (browser_subscription(endpoint="http://push.example.net/abc"), "https"),
        (
            {"endpoint": "https://fcm.googleapis.com/x", "keys": {"p256dh": "abc", "auth": "def"}},
            "p256dh",
        ),
        (browser_subscription(topics=["horoscope"]), "Sujet inconnu : horoscope"),
        (browser_subscription(topics=[]), "au moins un sujet"),
        (browser_subscription(communes=["75056"]), "Commune inconnue : 75056"),
        (browser_subscription(quiet_start="25:00", quiet_end="07:00"), "Heure invalide"),
        (["not", "an", "object"], "objet JSON"),
    ]
    for body, message in cases:
        r = resident.client.post_json("/push/subscriptions", body)
        assert r.status_code == 400, body
        assert message in r.json()["detail"], r.json()
    r = resident.client.post(
        "/push/subscriptions",
        content=b"{not json",
        headers={"x-csrftoken": resident.client.csrf_token(), "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert rows(engine) == []


def test_it_refuses_a_subscription_without_the_csrf_header_or_without_an_account(
    resident, client, engine
):
    r = resident.client.post("/push/subscriptions", json=browser_subscription())
    assert r.status_code == 403
    r = client.post_json("/push/subscriptions", browser_subscription())
    assert r.status_code == 401
    assert rows(engine) == []


def test_a_loopback_http_endpoint_is_accepted_outside_production(resident, engine):
    body = browser_subscription(endpoint="http://127.0.0.1:8123/push/abc")
    assert resident.client.post_json("/push/subscriptions", body).status_code == 201


def test_delete_removes_ones_own_subscription_only(resident, personas, engine):
    body = browser_subscription()
    assert resident.client.post_json("/push/subscriptions", body).status_code == 201
    stranger = personas["other_resident"]
    headers = {"x-csrftoken": stranger.client.csrf_token()}
    r = stranger.client.request(
        "DELETE", "/push/subscriptions", json={"endpoint": body["endpoint"]}, headers=headers
    )
    assert r.status_code == 404
    assert len(rows(engine)) == 1
    headers = {"x-csrftoken": resident.client.csrf_token()}
    r = resident.client.request(
        "DELETE", "/push/subscriptions", json={"endpoint": body["endpoint"]}, headers=headers
    )
    assert r.status_code == 204
    assert rows(engine) == []


def test_the_post_delete_route_works_for_json_and_for_the_no_javascript_form(resident, engine):
    one, two = browser_subscription(), browser_subscription()
    for body in (one, two):
        assert resident.client.post_json("/push/subscriptions", body).status_code == 201
    r = resident.client.post_json("/push/subscriptions/delete", {"endpoint": one["endpoint"]})
    assert r.status_code == 204
    (left,) = rows(engine)
    r = resident.client.post_form("/push/subscriptions/delete", {"id": str(left.id)})
    assert r.status_code == 303 and r.headers["location"] == "/me/push?removed=1"
    assert rows(engine) == []


def test_the_settings_page_lists_devices_and_gives_the_public_key_to_the_page(
    resident, settings, engine
):
    resident.client.post_json(
        "/push/subscriptions",
        browser_subscription(),
        headers={
            "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Version/17.4 Mobile/15E148 Safari/604.1"
        },
    )
    page = resident.client.get("/me/push")
    assert page.status_code == 200
    public = subscriptions.vapid_public_key(settings)
    assert public and f'data-vapid-key="{public}"' in page.text
    assert "Safari · iPhone" in page.text and "Désabonner" in page.text
    assert "<script>" not in page.text and 'src="/static/js/push.js' in page.text


def test_the_settings_page_saves_topics_communes_and_quiet_hours_for_every_device(resident, engine):
    for _ in range(2):
        resident.client.post_json("/push/subscriptions", browser_subscription(topics=["traffic"]))
    r = resident.client.post_form(
        "/me/push",
        {
            "topics": ["weather", "waste_centre"],
            "communes": ["57602"],
            "quiet_start": "22:00",
            "quiet_end": "06:30",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/me/push?saved=1"
    for row in rows(engine):
        assert (row.topics, row.communes, row.quiet_start, row.quiet_end) == (
            ",waste_centre,weather,",
            ",57602,",
            22 * 60,
            6 * 60 + 30,
        )
    assert "Vos choix sont enregistrés" in resident.client.get("/me/push?saved=1").text


def test_the_settings_page_refuses_bad_choices_and_changes_nothing(resident, engine):
    resident.client.post_json("/push/subscriptions", browser_subscription(topics=["traffic"]))
    for data in (
        {"topics": [], "communes": []},
        {"topics": ["traffic"], "quiet_start": "22:00"},
        {"topics": ["traffic"], "communes": ["99999"]},
        {"topics": ["traffic"], "quiet_start": "soir", "quiet_end": "06:00"},
    ):
        r = resident.client.post_form("/me/push", data)
        assert r.status_code == 400
        assert 'class="field-error"' in r.text
    (row,) = rows(engine)
    assert row.topics == ",traffic," and row.quiet_start is None


def test_saving_settings_without_any_device_is_accepted_for_the_account(resident):
    r = resident.client.post_form("/me/push", {"topics": ["traffic"]})
    assert r.status_code == 303 and r.headers["location"] == "/me/push?saved=1"


def test_a_person_keeps_at_most_twenty_devices(resident, engine):
    for _ in range(topics.MAX_DEVICES + 2):
        assert (
            resident.client.post_json("/push/subscriptions", browser_subscription()).status_code
            == 201
        )
    assert len(rows(engine)) == topics.MAX_DEVICES


def test_eclor_vapid_creates_the_key_pair_once_and_prints_the_public_key(settings, capsys):
    from app import domains

    (run,) = [c.run for c in domains.commands() if c.name == "vapid"]
    assert run(argparse.Namespace(), settings) == 0
    public = capsys.readouterr().out.strip()
    key_file = Path(settings.var_dir) / "vapid_private_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert push.application_server_key(key_file.read_text()) == public
    assert run(argparse.Namespace(), settings) == 0
    assert capsys.readouterr().out.strip() == public  # kept, not replaced
    settings.vapid_private_key, expected = push.generate_vapid_keys()
    assert run(argparse.Namespace(), settings) == 0
    assert capsys.readouterr().out.strip() == expected  # ECLOR_VAPID_PRIVATE_KEY wins


def test_export_and_erasure_cover_subscriptions_and_deliveries(resident, engine, settings):
    body = browser_subscription(topics=["traffic"])
    resident.client.post_json("/push/subscriptions", body)
    with write_session(engine) as session:
        data = alerts.clean_input(session, title="Test", body="", topic="traffic", communes=[])
        alert = alerts.publish(session, data, source="staff", sender="eclor@test")
        fanout._plan(session, f"alert:{alert.id}", fanout._matching(alert), alert.id)
    with write_session(engine) as session:
        exported, files = export_user(session, resident.id, settings.resolved_media_dir)
    subs = exported["push"]["subscriptions"]
    assert files == [] and subs[0]["endpoint"] == body["endpoint"]
    assert subs[0]["deliveries"][0]["status"] == "pending"
    with write_session(engine) as session:
        erase_user(session, resident.id, settings.resolved_media_dir)
    with write_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(PushSubscription)) == 0
        assert session.scalar(select(func.count()).select_from(PushDelivery)) == 0
