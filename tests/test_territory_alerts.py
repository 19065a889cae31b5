"""Alerts on an install of several territories: an alert belongs to the territory whose host its
staff published it on, reaches only the devices subscribed on that territory's host (through the
real fan-out, encrypted push and all), and is shown, exported as CAP and managed only there."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from app import territories
from app.db import read_session, write_session
from app.models.accounts import User
from app.models.push import Alert, PushSubscription
from app.models.territory import Territory
from tests.test_alerts import SENDER, cap_document
from tests.test_fanout import VAPID_PUBLIC, drain, push_settings, receiver  # noqa: F401 (fixtures)
from tests.test_territories import ESCH, add_minett

MINETT_ALERT = {
    "title": "Crue de l’Alzette à Esch",
    "body": "Routes fermées le long de l’Alzette.",
    "topic": "weather",
    "communes": [],
    "urgency": "high",
    "expires": "",
    "link": "",
    "do": "send",
}


@pytest.fixture
def minett_staff(engine, personas):
    """A staff member of the Minett (staff belong to a territory; another's host refuses them)."""
    add_minett(engine)
    persona = personas["elected"]  # made staff of the Minett below
    minett = _territory_ids(engine)["minett"]
    with write_session(engine) as session:
        user = session.get(User, persona.id)
        assert user is not None
        user.role, user.territory_id = "staff", minett
    return persona


def _territory_ids(engine: Any) -> dict[str, int]:
    with read_session(engine) as session:
        return {t.slug: int(t.id) for t in session.scalars(select(Territory)).all()}


def _subscribe(persona: Any, subscription: dict[str, Any], **kwargs: Any) -> None:
    r = persona.client.post_json(
        "/push/subscriptions", {**subscription, "topics": ["weather"]}, **kwargs
    )
    assert r.status_code == 201, r.text


def test_an_alert_reaches_only_the_devices_subscribed_on_its_territory(
    personas,
    engine,
    minett_staff,
    push_settings,  # noqa: F811
    receiver,  # noqa: F811
):
    ids = _territory_ids(engine)
    commuter, neighbour, staff = personas["resident"], personas["merchant"], personas["staff"]
    names = [uuid.uuid4().hex[:16] for _ in range(3)]
    at_home, at_work, next_door = receiver.make_subscription_jsons(names, VAPID_PUBLIC)
    _subscribe(commuter, at_home)  # the commuter's phone on the Pays-Haut's host
    _subscribe(commuter, at_work, headers=ESCH)  # and the office computer on the Minett's
    _subscribe(neighbour, next_door)
    with write_session(engine) as session:
        territory_of = {
            s.endpoint: s.territory_id for s in session.scalars(select(PushSubscription))
        }
    assert territory_of == {
        at_home["endpoint"]: ids["phva"],
        at_work["endpoint"]: ids["minett"],
        next_door["endpoint"]: ids["phva"],
    }

    r = minett_staff.client.post_form("/staff/alerts/new", MINETT_ALERT, headers=ESCH)
    assert r.status_code == 303, r.text
    drain(push_settings, engine)
    assert [m["payload"]["title"] for m in receiver.received(names[1])] == [MINETT_ALERT["title"]]
    assert receiver.received(names[0]) == [] and receiver.received(names[2]) == []

    pays_haut = {**MINETT_ALERT, "title": "Neige sur le plateau", "body": "5 cm attendus."}
    assert staff.client.post_form("/staff/alerts/new", pays_haut).status_code == 303
    drain(push_settings, engine)
    assert [m["payload"]["title"] for m in receiver.received(names[0])] == ["Neige sur le plateau"]
    assert [m["payload"]["title"] for m in receiver.received(names[2])] == ["Neige sur le plateau"]
    assert len(receiver.received(names[1])) == 1  # nothing more on the Minett's side


def test_an_alert_is_shown_exported_and_managed_only_on_its_territorys_host(
    client, personas, engine, minett_staff
):
    staff = personas["staff"]  # the first territory's
    r = minett_staff.client.post_form("/staff/alerts/new", MINETT_ALERT, headers=ESCH)
    assert r.status_code == 303, r.text
    with write_session(engine) as session:
        alert = session.scalars(select(Alert)).one()
        alert_id, minett = alert.id, alert.territory_id
    assert minett == _territory_ids(engine)["minett"]
    title = "Crue de l’Alzette à Esch"

    # Its territory's pages show it.
    assert title in client.get("/alerts", headers=ESCH).text
    assert title in client.get("/", headers=ESCH).text  # the home panel
    assert client.get(f"/alerts/{alert_id}", headers=ESCH).status_code == 200
    assert client.get(f"/alerts/{alert_id}.cap", headers=ESCH).status_code == 200
    assert title in minett_staff.client.get("/staff/alerts", headers=ESCH).text
    # Another territory's host knows nothing of it.
    assert title not in client.get("/alerts").text
    assert title not in client.get("/").text
    assert client.get(f"/alerts/{alert_id}").status_code == 404
    assert client.get(f"/alerts/{alert_id}.cap").status_code == 404
    assert title not in staff.client.get("/staff/alerts").text
    for path in (f"/staff/alerts/{alert_id}", f"/staff/alerts/{alert_id}/update"):
        assert staff.client.get(path).status_code == 404, path
    cancel = staff.client.post_form(f"/staff/alerts/{alert_id}/cancel", {"note": "fin"})
    assert cancel.status_code == 404
    with write_session(engine) as session:
        assert session.get(Alert, alert_id).state == "active"  # untouched

    # Its update stays in its territory.
    update = {**MINETT_ALERT, "title": "Crue de l’Alzette : décrue", "do": "send"}
    r = minett_staff.client.post_form(f"/staff/alerts/{alert_id}/update", update, headers=ESCH)
    assert r.status_code == 303, r.text
    with write_session(engine) as session:
        assert {a.territory_id for a in session.scalars(select(Alert))} == {minett}


def test_an_alert_names_only_its_own_territorys_communes(personas, engine, minett_staff):
    staff = personas["staff"]
    # A Pays-Haut commune is unknown on the Minett's host, and nothing is written.
    r = minett_staff.client.post_form(
        "/staff/alerts/new", {**MINETT_ALERT, "communes": ["57038"]}, headers=ESCH
    )
    assert r.status_code == 400 and "Commune inconnue" in r.text
    form = minett_staff.client.get("/staff/alerts/new", headers=ESCH).text
    assert "Kayl" in form and "Audun-le-Tiche" not in form
    with write_session(engine) as session:
        assert session.scalars(select(Alert)).first() is None
    # A CAP warning for Aumetz and Boulange covers no commune of the Minett: refused there, taken on
    # the Pays-Haut's host.
    south = "49.36,5.92 49.43,5.92 49.43,5.97 49.36,5.97 49.36,5.92"
    document = cap_document(
        "fr-mf-2026-0001",
        area=f"<area><areaDesc>Aumetz, Boulange</areaDesc><polygon>{south}</polygon></area>",
    )
    refused = minett_staff.client.post_form(
        "/staff/alerts/import",
        {"xml": document.decode(), "topic": "auto", "do": "send"},
        headers=ESCH,
    )
    assert refused.status_code == 400 and "ne couvre aucune commune" in refused.text
    taken = staff.client.post_form(
        "/staff/alerts/import", {"xml": document.decode(), "topic": "auto", "do": "send"}
    )
    assert taken.status_code == 303, taken.text
    phva = _territory_ids(engine)["phva"]
    with write_session(engine) as session:
        (alert,) = session.scalars(select(Alert)).all()
        assert alert.sender == SENDER and alert.territory_id == phva
        assert alert.communes == ",57041,57097,"


def test_times_are_shown_in_the_timezone_of_the_territory_whose_host_is_asked(
    client, engine, minett_staff
):
    """An alert's time on its page is the territory's local time (its ``timezone``), whatever the
    install's: a territory across an ocean reads its own clock."""
    r = minett_staff.client.post_form("/staff/alerts/new", MINETT_ALERT, headers=ESCH)
    assert r.status_code == 303, r.text
    sent = dt.datetime(2026, 7, 14, 10, 30, tzinfo=dt.UTC)
    with write_session(engine) as session:
        alert = session.scalars(select(Alert)).one()
        alert.sent_at = sent
        alert_id = alert.id
        minett = session.get(Territory, alert.territory_id)
        minett.timezone = "America/Cayenne"  # UTC−3, no summer time
    territories.changed()
    page = client.get(f"/alerts/{alert_id}", headers=ESCH)
    assert page.status_code == 200
    assert "07:30" in page.text and "12:30" not in page.text
    with write_session(engine) as session:
        session.get(Territory, _territory_ids(engine)["minett"]).timezone = "Europe/Luxembourg"
    territories.changed()
    assert "12:30" in client.get(f"/alerts/{alert_id}", headers=ESCH).text  # summer time, UTC+2
