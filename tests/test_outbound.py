"""Outbound requests reach the public Internet only, read answers up to a cap, and a push
endpoint never moves to another account.

Push endpoints pointing inside (cloud metadata, private networks, the database's port on
loopback) used to pass validation in production, and the sender read whole answers (two
endpoints streaming 1.7 GB took the server from 639 MB to 2.5 GB).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app import push
from app.main import create_app
from app.models.push import PushSubscription
from app.settings import Settings, SettingsError
from app.db import read_session
from tests.conftest import make_persona
from tests.test_push_subscriptions import browser_subscription

VAPID_PRIVATE_KEY, _PUBLIC = push.generate_vapid_keys()

INSIDE = [
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "https://10.0.0.5:8443/push/x",  # private
    "https://127.0.0.1:5432/",  # loopback (the database's port)
    "https://[::1]/push/x",
    "https://[::ffff:10.0.0.5]/push/x",  # IPv4-mapped private address
    "https://192.168.1.1/push/x",
    "https://100.64.0.1/push/x",  # shared address space (carrier NAT)
    "https://224.0.0.1/push/x",  # multicast
    "https://240.0.0.1/push/x",  # reserved
    "https://0.0.0.0/push/x",
    "https://localhost/push/x",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://printer.local/push/x",
    "https://intranet/push/x",  # a single-label name
]


@pytest.fixture
def production_app(db_url: str, tmp_path, engine):
    settings = Settings(
        env="production",
        var_dir=tmp_path / "var-prod",
        database_url=db_url,
        secret_key="production-secret-key-" + "x" * 32,
        allowed_hosts=["testserver.local"],
        vapid_subject="mailto:contact@ccphva.com",
    ).prepare()
    return settings, create_app(settings, engine)


def test_push_endpoints_inside_the_network_are_refused_when_subscribing_in_production(
    production_app, engine
):
    settings, app = production_app
    resident = make_persona(app, engine, settings, "resident")
    try:
        for endpoint in INSIDE:
            r = resident.client.post_json("/push/subscriptions", browser_subscription(endpoint))
            assert r.status_code == 400, (endpoint, r.text)
            assert "Abonnement refusé" in r.json()["detail"]
        public = browser_subscription("https://fcm.googleapis.com/fcm/send/abc")
        assert resident.client.post_json("/push/subscriptions", public).status_code == 201
    finally:
        resident.client.__exit__(None, None, None)
    with read_session(engine) as s:
        assert [r.endpoint for r in s.scalars(select(PushSubscription)).all()] == [
            public["endpoint"]
        ]


def test_outside_production_only_loopback_is_allowed_for_a_local_push_service(resident):
    ok = resident.client.post_json(
        "/push/subscriptions", browser_subscription("http://127.0.0.1:8123/push/a")
    )
    assert ok.status_code == 201
    for endpoint in INSIDE[:2] + INSIDE[4:10]:
        r = resident.client.post_json("/push/subscriptions", browser_subscription(endpoint))
        assert r.status_code == 400, endpoint


def test_production_refuses_to_start_with_loopback_allowed(tmp_path):
    with pytest.raises(SettingsError, match="OUTBOUND_ALLOW_LOOPBACK"):
        Settings(
            env="production",
            var_dir=tmp_path / "var",
            database_url="sqlite:///x.db",
            secret_key="k" * 40,
            vapid_subject="mailto:contact@ccphva.com",
            outbound_allow_loopback=True,
        ).prepare()
    assert Settings(env="development").outbound_allows_loopback
    assert not Settings(env="production").outbound_allows_loopback


class Listener:
    """A real TCP server on 127.0.0.1 that records connections and answers with ``reply``."""

    def __init__(self, reply) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.sent = 0
        self.reply = reply
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while self.sock.fileno() != -1:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self.reply, args=(self, conn), daemon=True).start()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    def endless(server: Listener, conn: socket.socket) -> None:
        """Answers 400 with a body announced as 1 GB, streamed until the client hangs up."""
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 1000000000\r\n\r\n")
            chunk = b"x" * 65536
            while server.sent < 1_000_000_000:
                conn.sendall(chunk)
                server.sent += len(chunk)
        except OSError:
            pass
        finally:
            conn.close()

    server = Listener(endless)
    yield server
    server.close()


def _send(subscription: push.PushSubscriptionInfo, **options: object) -> push.PushOutcome:
    async def go() -> push.PushOutcome:
        async with push.PushSender(
            VAPID_PRIVATE_KEY, "mailto:contact@ccphva.com", timeout=30, **options
        ) as sender:
            return await sender.send_one(subscription, {"title": "Alerte"}, ttl=60)

    return asyncio.run(go())


def test_a_push_services_answer_is_read_up_to_a_cap_never_whole(listener: Listener):
    subscription = push.PushSubscriptionInfo.from_json(
        browser_subscription(f"http://127.0.0.1:{listener.port}/push/a"),
        allow_insecure_loopback=True,
    )
    started = time.monotonic()
    outcome = _send(subscription, allow_loopback=True)
    elapsed = time.monotonic() - started
    assert outcome.status == 400
    time.sleep(0.5)
    # Kernel buffers hold a few MB at most; reading the whole answer would take the 30 s time-out.
    assert listener.sent < 32 * 1024 * 1024, listener.sent
    assert elapsed < 10, elapsed


def test_a_name_that_resolves_inside_is_never_connected_to(listener: Listener):
    # "localhost" stands for a public-looking name rebound to an inside address after it was
    # accepted: the subscription passed (it is built as in development), the sender of a
    # production worker resolves it at connect time and refuses every address it gets.
    subscription = push.PushSubscriptionInfo.from_json(
        browser_subscription(f"https://localhost:{listener.port}/push/a"),
        allow_insecure_loopback=True,
    )
    outcome = _send(subscription, allow_loopback=False)
    assert outcome.kind is push.Outcome.RETRY and outcome.status is None
    assert "DNSError" in outcome.detail  # refused by the resolver: no address left
    assert listener.connections == 0


def test_re_posting_someone_elses_endpoint_does_not_move_their_subscription(personas, engine):
    victim, other = personas["resident"], personas["other_resident"]
    body = browser_subscription(topics=["traffic"])
    assert victim.client.post_json("/push/subscriptions", body).status_code == 201
    taken = other.client.post_json("/push/subscriptions", browser_subscription(body["endpoint"]))
    assert taken.status_code == 409
    assert "autre compte" in taken.json()["detail"]
    with read_session(engine) as s:
        (row,) = s.scalars(select(PushSubscription)).all()
        assert (row.user_id, row.p256dh) == (victim.id, body["keys"]["p256dh"])
    # The owner's own device re-subscribing still updates it.
    again = victim.client.post_json("/push/subscriptions", dict(body, topics=["weather"]))
    assert again.status_code == 200
