"""NGSI-LD subscriptions: the API (ETSI GS CIM 009 §6.10–6.11 request shapes), who may use it, and the
worker's notifications to a real local HTTP receiver, from telemetry stored by the relay's own ingest
(the MQTT path end to end is in test_ngsi_ld_notifications.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import aiohttp
import pytest
from sqlmodel import select

from app import outbound
from app.db import read_session, utcnow, write_session
from app.lighting.relay import ingest
from app.models.ngsi import NgsiNotification, NgsiSubscription
from app.sensors import ngsi_notifier
from app.sensors import ngsi_subscriptions as subs
from tests.lighting_helpers import seed_lights
from tests.ngsi_receiver import Receiver
from tests.test_telemetry import tele

PATH = "/ngsi-ld/v1/subscriptions"


@pytest.fixture
def keys(engine):
    with write_session(engine) as session:
        first = subs.issue_key(session, "Partenaire A")[1]
        second = subs.issue_key(session, "Partenaire B")[1]
    return first, second


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def _sub(receiver, **extra) -> dict:
    body = {
        "type": "Subscription",
        "entities": [{"type": "Streetlight"}],
        "watchedAttributes": ["status"],
        "notification": {"endpoint": {"uri": f"{receiver.base}/notify"}},
    }
    body.update(extra)
    return body


def _create(client, key: str, body: dict, **headers):
    return client.post(PATH, json=body, headers={"x-api-key": key, **headers})


def test_a_partner_creates_reads_lists_updates_and_deletes_its_subscription(
    client, keys, receiver
) -> None:
    key, other = keys
    made = _create(client, key, _sub(receiver, subscriptionName="Pannes", throttling=5))
    assert made.status_code == 201, made.text
    sub_id = made.headers["location"].rsplit("/", 1)[1]
    assert sub_id.startswith("urn:ngsi-ld:Subscription:")
    got = client.get(f"{PATH}/{sub_id}", headers={"x-api-key": key})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["id"] == sub_id and body["type"] == "Subscription"
    assert body["subscriptionName"] == "Pannes" and body["throttling"] == 5
    assert body["status"] == "active" and body["isActive"] is True
    assert body["notification"]["timesSent"] == 0
    assert body["notification"]["endpoint"]["accept"] == "application/json"
    assert body["watchedAttributes"] == ["status"]
    listed = client.get(f"{PATH}?count=true", headers={"authorization": f"Bearer {key}"})
    assert [s["id"] for s in listed.json()] == [sub_id]
    assert listed.headers["ngsild-results-count"] == "1"
    # Another partner sees nothing of it.
    assert client.get(PATH, headers={"x-api-key": other}).json() == []
    assert client.get(f"{PATH}/{sub_id}", headers={"x-api-key": other}).status_code == 404
    assert client.delete(f"{PATH}/{sub_id}", headers={"x-api-key": other}).status_code == 404
    # Paused, then a new expiry.
    later = (utcnow() + dt.timedelta(days=2)).isoformat().replace("+00:00", "Z")
    patched = client.patch(
        f"{PATH}/{sub_id}",
        json={"isActive": False, "expiresAt": later},
        headers={"x-api-key": key},
    )
    assert patched.status_code == 204, patched.text
    body = client.get(f"{PATH}/{sub_id}", headers={"x-api-key": key}).json()
    assert body["status"] == "paused" and body["expiresAt"].startswith(later[:16])
    assert client.delete(f"{PATH}/{sub_id}", headers={"x-api-key": key}).status_code == 204
    assert client.get(f"{PATH}/{sub_id}", headers={"x-api-key": key}).status_code == 404


def test_without_a_valid_key_or_staff_nothing_is_read_or_written(
    client, keys, receiver, resident, staff
) -> None:
    assert client.get(PATH).status_code == 401
    assert client.get(PATH, headers={"x-api-key": "ngsi_wrong"}).status_code == 401
    assert client.post(PATH, json=_sub(receiver)).status_code == 401
    assert resident.client.get(PATH).status_code == 401
    assert resident.client.post_json(PATH, _sub(receiver)).status_code == 401
    # Staff see every partner's subscription and may create their own (with the CSRF header).
    assert _create(client, keys[0], _sub(receiver)).status_code == 201
    assert len(staff.client.get(PATH).json()) == 1
    assert staff.client.post(PATH, json=_sub(receiver)).status_code == 403  # no CSRF header
    assert staff.client.post_json(PATH, _sub(receiver)).status_code == 201
    assert len(staff.client.get(PATH).json()) == 2
    assert len(client.get(PATH, headers={"x-api-key": keys[0]}).json()) == 1


@pytest.mark.parametrize(
    ("change", "status", "kind"),
    [
        ({"notification": None}, 400, "BadRequestData"),
        ({"entities": None, "watchedAttributes": None}, 400, "BadRequestData"),
        ({"timeInterval": 60}, 400, "OperationNotSupported"),
        ({"csf": "x"}, 400, "OperationNotSupported"),
        ({"whatever": 1}, 400, "BadRequestData"),
        ({"type": "Entity"}, 400, "BadRequestData"),
        ({"q": 'status=="broken'}, 400, None),
        ({"geoQ": {"georel": "near;maxDistance==100", "geometry": "Point"}}, 400, None),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, 400, "BadRequestData"),
        ({"throttling": -1}, 400, "BadRequestData"),
        ({"id": "not a uri"}, 400, "BadRequestData"),
        ({"entities": [{"type": "Streetlight", "id": "SL-1"}]}, 400, "BadRequestData"),
        ({"notificationTrigger": ["entityDeleted"]}, 400, "OperationNotSupported"),
    ],
)
def test_a_subscription_eclor_cannot_honour_is_refused_never_half_kept(
    client, keys, receiver, change, status, kind
) -> None:
    body = _sub(receiver)
    for name, value in change.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    answer = _create(client, keys[0], body)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")
    if kind:
        assert problem["type"].endswith(kind), problem
    assert client.get(PATH, headers={"x-api-key": keys[0]}).json() == []


def test_endpoints_inside_the_network_and_other_schemes_are_refused(client, keys) -> None:
    for uri in ("http://169.254.169.254/latest", "http://10.0.0.5:8443/x", "mqtt://broker/x"):
        body = {
            "type": "Subscription",
            "entities": [{"type": "Streetlight"}],
            "notification": {"endpoint": {"uri": uri}},
        }
        assert _create(client, keys[0], body).status_code == 400, uri


def test_an_id_already_taken_is_409_and_the_body_must_be_json(client, keys, receiver) -> None:
    body = _sub(receiver, id="urn:ngsi-ld:Subscription:pannes")
    assert _create(client, keys[0], body).status_code == 201
    again = _create(client, keys[0], body)
    assert again.status_code == 409 and again.json()["type"].endswith("AlreadyExists")
    text = client.post(
        PATH, content=b"x", headers={"x-api-key": keys[0], "content-type": "text/plain"}
    )
    assert text.status_code == 415


def test_application_ld_json_takes_the_context_from_the_body(client, keys, receiver) -> None:
    context = receiver.serve(
        "/ctx.jsonld",
        {
            "@context": {
                "Lampadaire": "https://smartdatamodels.org/dataModel.Streetlighting/Streetlight"
            }
        },
    )
    body = {
        **_sub(receiver),
        "entities": [{"type": "Lampadaire"}],
        "@context": [context, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"],
    }
    made = client.post(
        PATH,
        content=json.dumps(body),
        headers={"x-api-key": keys[0], "content-type": "application/ld+json"},
    )
    assert made.status_code == 201, made.text
    with read_session(client.app.state.engine) as session:
        spec = json.loads(session.scalars(select(NgsiSubscription)).one().spec)
    assert spec["entities"] == [{"type": "Streetlight"}]
    assert spec["context"] == context and spec["names"]["Streetlight"] == "Lampadaire"
    linked = client.post(
        PATH,
        content=json.dumps(body),
        headers={
            "x-api-key": keys[0],
            "content-type": "application/ld+json",
            "link": f'<{context}>; rel="http://www.w3.org/ns/json-ld#context"',
        },
    )
    assert linked.status_code == 400


# --------------------------------------------------------------------------- the worker


def _send(engine, settings) -> int:
    async def go() -> int:
        connector = outbound.connector(allow_loopback=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            return await ngsi_notifier.send_due(engine, "test-worker", settings, http)

    return asyncio.run(go())


T = dt.datetime(2026, 12, 6, 20, 0, tzinfo=dt.UTC)


def _reading(engine, light: str, minute: int, status: str = "ok", level: int = 50) -> None:
    ingest(engine, [tele(light, T + dt.timedelta(minutes=minute), level, 10.0 + minute, status)])


def test_a_change_of_a_watched_attribute_is_notified_once_to_the_endpoint(
    client, engine, settings, keys, receiver
) -> None:
    lights = seed_lights(engine, 3)
    for k, light in enumerate(lights):
        _reading(engine, light, 0)
    body = _sub(
        receiver,
        q='status!="ok"',
        notification={
            "attributes": ["status", "illuminanceLevel"],
            "format": "keyValues",
            "endpoint": {
                "uri": f"{receiver.base}/notify",
                "receiverInfo": [{"key": "X-Partner-Token", "value": "abc"}],
            },
        },
    )
    sub_id = _create(client, keys[0], body).headers["location"].rsplit("/", 1)[1]
    assert ngsi_notifier.detect(engine, "test-worker") == 0  # the first look is the baseline
    _reading(engine, lights[0], 1, level=80)  # not watched, and status ok: nothing
    assert ngsi_notifier.detect(engine, "test-worker") == 0
    _reading(engine, lights[1], 1, status="defectiveLamp")
    assert ngsi_notifier.detect(engine, "test-worker") == 1
    assert ngsi_notifier.detect(engine, "test-worker") == 0  # told once
    assert _send(engine, settings) == 1
    [got] = receiver.received("/notify")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-partner-token"] == "abc"
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in got.headers["link"]
    assert got.body["type"] == "Notification" and got.body["subscriptionId"] == sub_id
    assert got.body["id"].startswith("urn:ngsi-ld:Notification:")
    assert got.body["data"] == [
        {
            "id": f"urn:ngsi-ld:Streetlight:{lights[1]}",
            "type": "Streetlight",
            "status": "defectiveLamp",
            "illuminanceLevel": 0.5,
        }
    ]
    state = client.get(f"{PATH}/{sub_id}", headers={"x-api-key": keys[0]}).json()
    assert state["notification"]["timesSent"] == 1
    assert state["notification"]["status"] == "ok"
    assert "lastSuccess" in state["notification"] and "lastNotification" in state["notification"]
    # Repaired: status back to ok no longer matches q, so nothing is sent.
    _reading(engine, lights[1], 2, status="ok")
    assert ngsi_notifier.detect(engine, "test-worker") == 0


def test_a_failing_endpoint_is_retried_with_backoff_then_a_4xx_is_given_up(
    client, engine, settings, keys, receiver
) -> None:
    lights = seed_lights(engine, 1)
    _reading(engine, lights[0], 0)
    _create(client, keys[0], _sub(receiver, watchedAttributes=["illuminanceLevel"]))
    ngsi_notifier.detect(engine, "w")
    _reading(engine, lights[0], 1, level=70)
    assert ngsi_notifier.detect(engine, "w") == 1
    receiver.script(503)
    assert _send(engine, settings) == 1
    assert _send(engine, settings) == 0  # not due yet: backoff
    time.sleep(1.1)
    assert _send(engine, settings) == 1
    assert len(receiver.received()) == 2
    with read_session(engine) as session:
        row = session.scalars(select(NgsiSubscription)).one()
        assert (row.times_sent, row.times_failed) == (2, 1)
        note = session.scalars(select(NgsiNotification)).one()
        assert note.done and note.sent_at is not None and note.attempts == 2
    _reading(engine, lights[0], 2, level=20)
    assert ngsi_notifier.detect(engine, "w") == 1
    receiver.script(404)
    assert _send(engine, settings) == 1
    time.sleep(1.1)
    assert _send(engine, settings) == 0  # 404: given up, not retried
    state = client.get(PATH, headers={"x-api-key": keys[0]}).json()[0]["notification"]
    assert state["status"] == "failed" and state["timesFailed"] == 2


def test_throttling_holds_changes_back_and_expiry_stops_the_subscription(
    client, engine, settings, keys, receiver
) -> None:
    lights = seed_lights(engine, 2)
    for light in lights:
        _reading(engine, light, 0)
    _create(client, keys[0], _sub(receiver, watchedAttributes=["illuminanceLevel"], throttling=60))
    ngsi_notifier.detect(engine, "w")
    _reading(engine, lights[0], 1, level=70)
    assert ngsi_notifier.detect(engine, "w") == 1
    _reading(engine, lights[1], 1, level=70)
    assert ngsi_notifier.detect(engine, "w") == 0  # throttled: kept for later
    later = utcnow() + dt.timedelta(seconds=61)
    assert ngsi_notifier.detect(engine, "w", now=later) == 1
    with read_session(engine) as session:
        bodies = [json.loads(n.body) for n in session.scalars(select(NgsiNotification))]
    assert [[e["id"] for e in b["data"]] for b in bodies] == [
        [f"urn:ngsi-ld:Streetlight:{lights[0]}"],
        [f"urn:ngsi-ld:Streetlight:{lights[1]}"],
    ]
    with write_session(engine) as session:
        row = session.scalars(select(NgsiSubscription)).one()
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
    _reading(engine, lights[0], 2, level=10)
    assert ngsi_notifier.detect(engine, "w", now=later + dt.timedelta(seconds=120)) == 0
    state = client.get(PATH, headers={"x-api-key": keys[0]}).json()[0]
    assert state["status"] == "expired"


def test_geo_q_and_ld_json_notifications(client, engine, settings, keys, receiver) -> None:
    lights = seed_lights(engine, 3)
    for light in lights:
        _reading(engine, light, 0)
    with read_session(engine) as session:
        from app.models.lighting import Streetlight

        first = session.get(Streetlight, lights[0])
        assert first is not None
        centre = [first.lon, first.lat]
    body = _sub(
        receiver,
        watchedAttributes=["illuminanceLevel"],
        geoQ={"georel": "near;maxDistance==1", "geometry": "Point", "coordinates": centre},
        notification={"endpoint": {"uri": f"{receiver.base}/ld", "accept": "application/ld+json"}},
    )
    assert _create(client, keys[0], body).status_code == 201
    ngsi_notifier.detect(engine, "w")
    for light in lights:
        _reading(engine, light, 1, level=90)
    assert ngsi_notifier.detect(engine, "w") == 1
    _send(engine, settings)
    [got] = receiver.received("/ld")
    assert got.headers["content-type"] == "application/ld+json"
    assert got.body["@context"].endswith("/ngsi-ld/v1/context.jsonld")
    assert [e["id"] for e in got.body["data"]] == [f"urn:ngsi-ld:Streetlight:{lights[0]}"]
    assert got.body["data"][0]["illuminanceLevel"]["value"] == 0.9
