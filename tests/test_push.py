"""Web Push: encryption, headers, VAPID and outcomes, against a real local push service.

The push service is ``tests/pushreceiver.py``: an HTTP server in its own
process that verifies the VAPID token and decrypts every message with the
subscription's private key, as a browser's push service and user agent would.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app import push
from app.push import (
    MAX_PLAINTEXT_BYTES,
    InvalidSubscription,
    InvalidTopic,
    InvalidVapidConfig,
    Outcome,
    PayloadTooLarge,
    PushOutcome,
    PushResult,
    PushSender,
    PushSubscriptionInfo,
)

try:
    from tests.pushreceiver import PushReceiver
except ModuleNotFoundError:  # tests/ itself is on sys.path (pytest rootdir insertion)
    from pushreceiver import PushReceiver

SUBJECT = "mailto:exploitation@eclor.fr"
VAPID_PRIVATE_KEY, VAPID_PUBLIC_KEY = push.generate_vapid_keys()
ALERT = {"title": "Coupure d'eau", "body": "Rue de la Gare, Villerupt, de 9 h à 12 h", "n": 1}


@pytest.fixture(scope="module")
def receiver() -> Iterator[PushReceiver]:
    """One local push service process for the module; tests use their own subscriptions."""
    with PushReceiver(mode="full") as running:
        yield running


def subscribe(
    receiver: PushReceiver, application_server_key: str | None = None
) -> tuple[str, PushSubscriptionInfo]:
    """A fresh subscription on the receiver: its name and validated info."""
    name = uuid.uuid4().hex[:12]
    subscription_json, _ = receiver.make_subscription(name, application_server_key)
    return name, PushSubscriptionInfo.from_json(subscription_json, allow_insecure_loopback=True)


def send_many(
    subscriptions: list[PushSubscriptionInfo],
    payload: Any = ALERT,
    *,
    vapid_private_key: str = VAPID_PRIVATE_KEY,
    ttl: int = 600,
    urgency: push.Urgency = "normal",
    topic: str | None = None,
    **sender_options: Any,
) -> dict[str, PushOutcome]:
    """Send one message to each subscription; outcomes by endpoint."""

    async def run() -> list[PushResult]:
        async with PushSender(vapid_private_key, SUBJECT, **sender_options) as sender:
            return await sender.send_many(
                subscriptions, payload, ttl=ttl, urgency=urgency, topic=topic
            )

    results = asyncio.run(run())
    assert len(results) == len(subscriptions)
    return {result.subscription.endpoint: result.outcome for result in results}


def send_one(
    subscription: PushSubscriptionInfo, payload: Any = ALERT, **options: Any
) -> PushOutcome:
    """Send one message to one subscription."""
    return send_many([subscription], payload, **options)[subscription.endpoint]


def free_port() -> int:
    """A local TCP port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --------------------------------------------------------------------------- delivery


def test_the_receiver_decrypts_exactly_the_json_that_was_sent(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)
    payload = {"title": "Alerte crue", "body": "Alzette : vigilance orange à Audun-le-Tiche 🌊"}

    outcome = send_one(subscription, payload)

    assert outcome == PushOutcome(Outcome.DELIVERED, 201)
    (record,) = receiver.received(name)
    assert record["payload"] == payload
    assert record["headers"]["Content-Encoding"] == "aes128gcm"


def test_every_message_carries_the_ttl_and_urgency_given(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)

    send_one(subscription, ttl=86400, urgency="high")
    send_one(subscription, ttl=0, urgency="very-low")

    sent = [record["headers"] for record in receiver.received(name)]
    assert [(h["TTL"], h["Urgency"]) for h in sent] == [("86400", "high"), ("0", "very-low")]
    assert all("Topic" not in h for h in sent)


def test_a_topic_is_sent_when_given(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)

    send_one(subscription, topic="attente-dechetterie")

    (record,) = receiver.received(name)
    assert record["headers"]["Topic"] == "attente-dechetterie"


@pytest.mark.parametrize("topic", ["", "a" * 33, "attente déchetterie", "a/b", "a=b"])
def test_an_invalid_topic_is_refused_before_anything_is_sent(
    receiver: PushReceiver, topic: str
) -> None:
    name, subscription = subscribe(receiver)

    with pytest.raises(InvalidTopic):
        send_one(subscription, topic=topic)

    assert receiver.received(name) == []


def test_a_bad_ttl_or_urgency_is_refused_before_anything_is_sent(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)

    with pytest.raises(ValueError, match="TTL"):
        send_one(subscription, ttl=-1)
    with pytest.raises(ValueError, match="Urgency"):
        send_one(subscription, urgency="urgent")

    assert receiver.received(name) == []


def test_messages_to_an_async_stream_of_subscriptions_reach_each_one_once(
    receiver: PushReceiver,
) -> None:
    subscriptions = dict(subscribe(receiver) for _ in range(30))

    async def stream() -> AsyncIterator[PushSubscriptionInfo]:
        for subscription in subscriptions.values():
            await asyncio.sleep(0)
            yield subscription

    async def run() -> list[PushResult]:
        async with PushSender(VAPID_PRIVATE_KEY, SUBJECT, max_in_flight=8) as sender:
            return [
                result async for result in sender.iter_send(stream(), ALERT, ttl=60, concurrency=4)
            ]

    results = asyncio.run(run())

    assert sorted(r.subscription.endpoint for r in results) == sorted(
        s.endpoint for s in subscriptions.values()
    )
    assert {r.outcome.kind for r in results} == {Outcome.DELIVERED}
    assert all(len(receiver.received(name)) == 1 for name in subscriptions)


def test_messages_to_one_push_service_reuse_a_kept_alive_connection(
    receiver: PushReceiver,
) -> None:
    subscriptions = [subscribe(receiver) for _ in range(12)]

    async def run() -> None:
        async with PushSender(VAPID_PRIVATE_KEY, SUBJECT, max_in_flight=2) as sender:
            for _, subscription in subscriptions:
                assert (
                    await sender.send_one(subscription, ALERT, ttl=60)
                ).kind is Outcome.DELIVERED

    asyncio.run(run())

    ports = {receiver.received(name)[0]["client_port"] for name, _ in subscriptions}
    assert len(ports) == 1


def test_closing_a_fan_out_early_stops_sending_to_the_rest(receiver: PushReceiver) -> None:
    subscriptions = [subscribe(receiver) for _ in range(40)]

    async def run() -> PushResult:
        async with PushSender(VAPID_PRIVATE_KEY, SUBJECT) as sender:
            results = sender.iter_send([s for _, s in subscriptions], ALERT, ttl=60, concurrency=1)
            async with contextlib.aclosing(results) as stream:
                first = await anext(stream)
            await asyncio.sleep(0.5)  # the sender stays open: nothing more may go out
            assert asyncio.all_tasks() == {asyncio.current_task()}  # no fan-out task left
            return first

    first = asyncio.run(run())

    assert first.outcome.kind is Outcome.DELIVERED
    reached = sum(len(receiver.received(name)) for name, _ in subscriptions)
    assert 1 <= reached <= 4  # the first, what the bounded queue held, the one in flight


# --------------------------------------------------------------------------- VAPID


def test_the_receiver_verifies_the_vapid_token_for_its_origin(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver, application_server_key=VAPID_PUBLIC_KEY)
    before = time.time()

    assert send_one(subscription).kind is Outcome.DELIVERED

    (record,) = receiver.received(name)
    claims = record["claims"]
    assert claims["aud"] == receiver.origin
    assert claims["sub"] == SUBJECT
    assert before + 11 * 3600 < claims["exp"] <= time.time() + 12 * 3600
    assert record["headers"]["Authorization"].endswith(f",k={VAPID_PUBLIC_KEY}")


def test_a_message_signed_with_another_vapid_key_is_rejected(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver, application_server_key=VAPID_PUBLIC_KEY)
    other_private_key, _ = push.generate_vapid_keys()

    outcome = send_one(subscription, vapid_private_key=other_private_key)

    assert (outcome.kind, outcome.status) == (Outcome.REJECTED, 403)
    assert "applicationServerKey" in receiver.received(name)[0]["error"]


def _raw_push(
    receiver: PushReceiver, name: str, subscription: PushSubscriptionInfo, auth: str
) -> int:
    body = push.encrypt_payload(subscription, b'{"n":1}')
    request = urllib.request.Request(
        receiver.endpoint(name),
        data=body,
        method="POST",
        headers={"TTL": "60", "Content-Encoding": "aes128gcm", "Authorization": auth},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_receiver_refuses_a_forged_or_misaddressed_vapid_token(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)
    key = push.load_vapid(VAPID_PRIVATE_KEY)
    exp = int(time.time()) + 3600
    good = key.sign(audience=receiver.origin, subject=SUBJECT, expires_at=exp)
    token, public = good.removeprefix("vapid t=").split(",k=")
    header, _claims, signature = token.split(".")
    forged_claims = (
        base64.urlsafe_b64encode(
            json.dumps({"aud": receiver.origin, "exp": exp, "sub": "mailto:x@eclor.fr"}).encode()
        )
        .rstrip(b"=")
        .decode()
    )

    assert _raw_push(receiver, name, subscription, good) == 201
    assert (
        _raw_push(
            receiver, name, subscription, f"vapid t={header}.{forged_claims}.{signature},k={public}"
        )
        == 401
    )
    assert (
        _raw_push(
            receiver,
            name,
            subscription,
            key.sign(audience="https://fcm.googleapis.com", subject=SUBJECT, expires_at=exp),
        )
        == 401
    )
    assert (
        _raw_push(
            receiver,
            name,
            subscription,
            key.sign(audience=receiver.origin, subject=SUBJECT, expires_at=int(time.time()) - 5),
        )
        == 401
    )


def test_the_vapid_token_is_signed_once_per_origin_and_renewed_before_it_expires() -> None:
    now = [1_800_000_000.0]
    authorizer = push.VapidAuthorizer(
        push.load_vapid(VAPID_PRIVATE_KEY), SUBJECT, clock=lambda: now[0]
    )

    first = authorizer.header_for("https://fcm.googleapis.com")
    other_origin = authorizer.header_for("https://updates.push.services.mozilla.com")
    now[0] += 10 * 3600
    still_cached = authorizer.header_for("https://fcm.googleapis.com")
    now[0] += 1 * 3600 + 1  # less than the 1 h margin left before exp
    renewed = authorizer.header_for("https://fcm.googleapis.com")

    assert still_cached == first
    assert other_origin != first
    assert renewed != first
    claims = json.loads(base64.urlsafe_b64decode(renewed.split(".")[1] + "==").decode())
    assert claims["exp"] == int(now[0]) + 12 * 3600


def test_a_fan_out_uses_one_vapid_token_for_the_push_service(receiver: PushReceiver) -> None:
    names_and_subscriptions = [subscribe(receiver) for _ in range(20)]

    send_many([s for _, s in names_and_subscriptions])

    tokens = {
        receiver.received(name)[0]["headers"]["Authorization"]
        for name, _ in names_and_subscriptions
    }
    assert len(tokens) == 1


@pytest.mark.parametrize(
    "subject",
    [
        "",
        "exploitation@eclor.fr",
        "mailto:",
        "mailto:admin@localhost",
        "mailto:contact@example.com",
        "mailto:ops@eclor.test",
        "http://eclor.fr",
        "https://localhost",
        "https://eclor",
    ],
)
def test_a_vapid_subject_must_be_a_real_mailto_or_https_uri(subject: str) -> None:
    with pytest.raises(InvalidVapidConfig, match="VAPID"):
        push.validate_vapid_subject(subject)
    with pytest.raises(InvalidVapidConfig, match="VAPID"):
        PushSender(VAPID_PRIVATE_KEY, subject)


@pytest.mark.parametrize(
    "subject", ["mailto:exploitation@eclor.fr", "https://eclor.fr", "https://eclor.fr/contact"]
)
def test_real_vapid_subjects_are_accepted(subject: str) -> None:
    assert push.validate_vapid_subject(subject) == subject


def test_generated_vapid_keys_load_back_in_every_accepted_form() -> None:
    private_b64, public_b64 = push.generate_vapid_keys()
    key = push.load_vapid(private_b64)
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    der_b64 = base64.b64encode(
        key.private_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    ).decode()

    assert push.application_server_key(private_b64) == public_b64
    assert push.load_vapid(pem).public_key_b64 == public_b64
    assert push.load_vapid(der_b64).public_key_b64 == public_b64
    assert len(base64.urlsafe_b64decode(public_b64 + "=")) == 65
    with pytest.raises(InvalidVapidConfig):
        push.load_vapid("pas-une-clé")
    rsa_like = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InvalidVapidConfig, match="P-256"):
        push.load_vapid(rsa_like.decode())


# --------------------------------------------------------------------------- outcomes


def test_a_410_yields_gone_for_that_subscription_only(receiver: PushReceiver) -> None:
    subscriptions = [subscribe(receiver) for _ in range(5)]
    gone_name, gone = subscriptions[2]
    receiver.script(gone_name, 410)

    outcomes = send_many([s for _, s in subscriptions])

    assert outcomes.pop(gone.endpoint) == PushOutcome(Outcome.GONE, 410)
    assert [o.kind for o in outcomes.values()] == [Outcome.DELIVERED] * 4


def test_a_404_also_yields_gone(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)
    receiver.script(name, 404)

    assert send_one(subscription).kind is Outcome.GONE


def test_a_429_yields_rate_limited_with_the_delay_then_the_retry_is_delivered(
    receiver: PushReceiver,
) -> None:
    name, subscription = subscribe(receiver)
    receiver.script(name, (429, {"Retry-After": "120"}))

    limited = send_one(subscription)
    retried = send_one(subscription)

    assert (limited.kind, limited.status, limited.retry_after) == (Outcome.RATE_LIMITED, 429, 120.0)
    assert limited.should_retry
    assert push.retry_delay(limited, attempt=3) == 120.0
    assert retried.kind is Outcome.DELIVERED


def test_a_429_with_an_http_date_gives_the_delay_until_that_date(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)
    receiver.script(name, (429, {"Retry-After": formatdate(time.time() + 300, usegmt=True)}))

    outcome = send_one(subscription)

    assert outcome.kind is Outcome.RATE_LIMITED
    assert outcome.retry_after is not None and 290 <= outcome.retry_after <= 300


def test_retry_after_is_parsed_from_seconds_or_an_http_date() -> None:
    now = 1_800_000_000.0
    assert push.parse_retry_after("30", now=now) == 30.0
    assert push.parse_retry_after(formatdate(now + 90, usegmt=True), now=now) == 90.0
    assert push.parse_retry_after(formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert push.parse_retry_after("bientôt", now=now) is None
    assert push.parse_retry_after(None, now=now) is None


def test_a_413_yields_too_large_and_no_retry(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)
    receiver.script(name, 413)

    outcome = send_one(subscription)

    assert outcome.kind is Outcome.TOO_LARGE
    assert not outcome.should_retry


def test_a_500_yields_retry_then_the_next_attempt_is_delivered(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)
    receiver.script(name, 500)

    first = send_one(subscription)
    second = send_one(subscription)

    assert (first.kind, first.status) == (Outcome.RETRY, 500)
    assert 0 <= push.retry_delay(first, attempt=2, base=10) <= 40
    assert second.kind is Outcome.DELIVERED
    assert [r["status"] for r in receiver.received(name)] == [500, 201]


def test_another_4xx_yields_rejected_without_retry(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)
    receiver.script(name, 400)

    outcome = send_one(subscription)

    assert (outcome.kind, outcome.status, outcome.should_retry) == (Outcome.REJECTED, 400, False)


def test_a_refused_connection_yields_retry() -> None:
    subscription = PushSubscriptionInfo(
        f"http://127.0.0.1:{free_port()}/push/nobody",
        *_fresh_keys(),
        allow_insecure_loopback=True,
    )

    outcome = send_one(subscription)

    assert outcome.kind is Outcome.RETRY
    assert outcome.status is None
    assert "Connect" in outcome.detail


def test_a_push_service_that_never_answers_yields_retry_after_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts connections, never answers
        port = silent.getsockname()[1]
        subscription = PushSubscriptionInfo(
            f"http://127.0.0.1:{port}/push/slow", *_fresh_keys(), allow_insecure_loopback=True
        )
        started = time.monotonic()

        outcome = send_one(subscription, timeout=0.5)

    assert outcome.kind is Outcome.RETRY
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- payload size


def test_a_plaintext_over_3993_bytes_is_refused_before_any_request(receiver: PushReceiver) -> None:
    name, subscription = subscribe(receiver)
    too_big = {"body": "x" * (MAX_PLAINTEXT_BYTES - len('{"body":""}') + 1)}
    assert len(json.dumps(too_big, separators=(",", ":"))) == MAX_PLAINTEXT_BYTES + 1
    requests_before = receiver.stats()["requests"]

    with pytest.raises(PayloadTooLarge) as refused:
        send_one(subscription, too_big)
    with pytest.raises(PayloadTooLarge):
        send_one(subscription, b"x" * 3994)

    assert refused.value.size == 3994
    assert receiver.stats()["requests"] == requests_before
    assert receiver.received(name) == []


def test_a_plaintext_of_exactly_3993_bytes_fits_in_4096_encrypted_bytes(
    receiver: PushReceiver,
) -> None:
    name, subscription = subscribe(receiver)
    room = MAX_PLAINTEXT_BYTES - len('{"body":""}')
    largest = {"body": "é" * (room // 2) + "x" * (room % 2)}  # é is 2 bytes in UTF-8
    assert len(push.encode_payload(largest)) == 3993

    assert send_one(subscription, largest).kind is Outcome.DELIVERED

    (record,) = receiver.received(name)
    assert record["body_length"] == 4096
    assert record["payload"] == largest


# --------------------------------------------------------------------------- subscriptions


def _fresh_keys() -> tuple[str, str]:
    private_key = ec.generate_private_key(ec.SECP256R1())
    point = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64(point), _b64(bytes(range(16)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _subscription_json(
    endpoint: str = "https://fcm.googleapis.com/fcm/send/abc", **keys: Any
) -> dict[str, Any]:
    p256dh, auth = _fresh_keys()
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": p256dh, "auth": auth, **keys},
    }


def test_a_browser_subscription_json_is_accepted_and_keeps_its_keys() -> None:
    data = _subscription_json()

    subscription = PushSubscriptionInfo.from_json(json.dumps(data))

    assert subscription.to_json() == {"endpoint": data["endpoint"], "keys": data["keys"]}
    assert subscription.origin == "https://fcm.googleapis.com"
    assert len(subscription.auth_secret) == 16


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"p256dh": _b64(b"\x04" + bytes(63))}, "65 octets"),
        ({"p256dh": _b64(b"\x02" + bytes(64))}, "65 octets"),
        ({"p256dh": _b64(b"\x04" + bytes(64))}, "courbe P-256"),
        ({"p256dh": "pas+du/base64url!"}, "base64url"),
        ({"auth": _b64(bytes(15))}, "16 octets"),
        ({"auth": _b64(bytes(32))}, "16 octets"),
        ({"auth": None}, "obligatoires"),
    ],
)
def test_a_subscription_with_bad_keys_is_refused_in_french(
    keys: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidSubscription, match=message) as refused:
        PushSubscriptionInfo.from_json(_subscription_json(**keys))

    assert str(refused.value).startswith("Abonnement refusé")


@pytest.mark.parametrize(
    "data",
    [
        {"keys": {}},
        {"endpoint": "https://fcm.googleapis.com/fcm/send/abc"},
        [],
        "{pas du json",
    ],
)
def test_a_subscription_json_missing_its_parts_is_refused(data: Any) -> None:
    with pytest.raises(InvalidSubscription, match="Abonnement refusé"):
        PushSubscriptionInfo.from_json(data)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example.net/send/abc",
        "http://10.0.0.5/push/abc",
        "ftp://fcm.googleapis.com/abc",
        "https://user:pass@fcm.googleapis.com/abc",
        "https:///abc",
        "https://fcm.googleapis.com/a b",
    ],
)
def test_an_endpoint_that_is_not_https_or_is_malformed_is_refused(endpoint: str) -> None:
    with pytest.raises(InvalidSubscription, match="Abonnement refusé"):
        PushSubscriptionInfo.from_json(_subscription_json(endpoint), allow_insecure_loopback=True)


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:8080/push/a", "http://localhost/push/a", "http://[::1]:9/p"]
)
def test_http_on_loopback_is_accepted_only_when_allowed(endpoint: str) -> None:
    with pytest.raises(InvalidSubscription, match="https"):
        PushSubscriptionInfo.from_json(_subscription_json(endpoint))

    allowed = PushSubscriptionInfo.from_json(
        _subscription_json(endpoint), allow_insecure_loopback=True
    )

    assert allowed.endpoint == endpoint
