"""A local Web Push service for Eclor's tests and push benchmark.

It is a real HTTP server on 127.0.0.1, run in its own process (so in the
benchmark it uses the second core while the sender uses the first). For each
``POST /push/{name}`` it does what a push service does, independently of
``app.push``:

* checks ``Content-Encoding: aes128gcm``, ``TTL`` (digits), ``Urgency`` (one of
  very-low/low/normal/high, when present), ``Topic`` (1-32 base64url, when
  present) and a body of at most 4096 bytes;
* checks ``Authorization: vapid t=<JWT>,k=<key>``: the ES256 signature against
  ``k`` (``py_vapid``), ``aud`` equal to this receiver's origin, ``exp`` in the
  future and at most 24 h ahead, ``sub`` a ``mailto:``/``https:`` URI, and, when
  the subscription was made with an ``applicationServerKey``, ``k`` equal to it
  (403 otherwise, as RFC 8292 §4.2 asks);
* decrypts the body with ``http_ece.decrypt(..., version="aes128gcm")`` using
  the key pair made for that subscription, and parses the JSON;
* records what it got, then answers 201, or the next scripted answer for that
  subscription (410, 404, 413, 429 + Retry-After, 500...).

In ``full`` mode every request is kept (headers, claims, decrypted JSON) for
tests; in ``summary`` mode (benchmark) only counters and payload digests are
kept, so memory stays small while every message is still verified.

The parent process drives it through :class:`PushReceiver` (a context
manager usable from sync code): ``make_subscription(name)`` returns the
browser ``PushSubscription`` JSON and the private key, ``script(...)`` queues
answers, ``received(name)`` and ``stats()`` read what it saw.
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_vapid.jwt import decode as vapid_decode

_URGENCIES = {"very-low", "low", "normal", "high"}
_TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_MAX_ERRORS_KEPT = 50


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --------------------------------------------------------------------------- server side


@dataclass
class _Subscription:
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    application_server_key: str | None
    script: collections.deque[tuple[int, dict[str, str]]] = field(default_factory=collections.deque)


class _Rejection(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class ReceiverState:
    """Subscriptions, scripts and records of one receiver process."""

    def __init__(self, origin: str, mode: str) -> None:
        self.origin = origin
        self.mode = mode
        self.subscriptions: dict[str, _Subscription] = {}
        self.reset_records()

    def reset_records(self) -> None:
        """Forget what was received (subscriptions and scripts are kept)."""
        self.records: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        self.requests = 0
        self.verified = 0
        self.per_name: collections.Counter[str] = collections.Counter()
        # What each device shows: a message with a Topic replaces the earlier one of that Topic.
        self.shown: dict[str, set[str]] = collections.defaultdict(set)
        self.digests: collections.Counter[str] = collections.Counter()
        self.tokens: set[str] = set()
        self.errors: list[str] = []
        self.error_count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def register(self, item: dict[str, Any]) -> None:
        """Add a subscription from its private scalar and auth secret."""
        scalar = int.from_bytes(unb64url(item["private_key"]), "big")
        self.subscriptions[item["name"]] = _Subscription(
            private_key=ec.derive_private_key(scalar, ec.SECP256R1()),
            auth_secret=unb64url(item["auth"]),
            application_server_key=item.get("application_server_key"),
        )

    def check(
        self, subscription: _Subscription, headers: Any, body: bytes
    ) -> tuple[dict[str, Any], bytes]:
        """Validate one push request; return the VAPID claims and the plaintext."""
        if headers.get("Content-Encoding", "").lower() != "aes128gcm":
            raise _Rejection(400, "Content-Encoding is not aes128gcm")
        ttl = headers.get("TTL")
        if ttl is None or not ttl.isdigit():
            raise _Rejection(400, f"missing or bad TTL {ttl!r}")
        urgency = headers.get("Urgency")
        if urgency is not None and urgency not in _URGENCIES:
            raise _Rejection(400, f"bad Urgency {urgency!r}")
        topic = headers.get("Topic")
        if topic is not None and not _TOPIC_RE.match(topic):
            raise _Rejection(400, f"bad Topic {topic!r}")
        if len(body) > 4096:
            raise _Rejection(413, f"body of {len(body)} bytes")
        claims, key = self.check_vapid(headers.get("Authorization", ""))
        if subscription.application_server_key not in (None, key):
            raise _Rejection(403, "VAPID key differs from the subscription's applicationServerKey")
        try:
            plaintext = http_ece.decrypt(
                body,
                private_key=subscription.private_key,
                auth_secret=subscription.auth_secret,
                version="aes128gcm",
            )
        except Exception as exc:  # any failure to decrypt is a bad message
            raise _Rejection(400, f"decryption failed: {exc!r}") from exc
        return claims, plaintext

    def check_vapid(self, authorization: str) -> tuple[dict[str, Any], str]:
        """Verify a ``vapid t=...,k=...`` header; return the claims and the key."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise _Rejection(401, "Authorization is not a vapid header")
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        token, key = parts.get("t"), parts.get("k")
        if not token or not key:
            raise _Rejection(401, "vapid header without t= or k=")
        try:
            if len(unb64url(key)) != 65:
                raise _Rejection(401, "k is not an uncompressed P-256 point")
            claims = vapid_decode(token, key)
        except InvalidSignature as exc:
            raise _Rejection(401, "bad VAPID signature") from exc
        except (ValueError, TypeError) as exc:
            raise _Rejection(401, f"unreadable VAPID token: {exc}") from exc
        if claims.get("aud") != self.origin:
            raise _Rejection(401, f"aud {claims.get('aud')!r} is not {self.origin!r}")
        exp = claims.get("exp")
        now = time.time()
        if not isinstance(exp, int) or not now < exp <= now + 24 * 3600:
            raise _Rejection(401, f"exp {exp!r} not within the next 24 h")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
            raise _Rejection(401, f"sub {sub!r} is not a mailto: or https: URI")
        return claims, key

    def handle_push(
        self, name: str, headers: Any, body: bytes, client_port: int | None = None
    ) -> tuple[int, dict[str, str]]:
        """Process one push request; return the status and headers to answer.

        ``client_port`` (the sender's side of the TCP connection) is recorded
        so tests can tell whether connections are reused.
        """
        now = time.time()
        self.requests += 1
        self.first_at = self.first_at or now
        self.last_at = now
        subscription = self.subscriptions.get(name)
        if subscription is None:
            self._error(f"{name}: unknown subscription")
            return 404, {}
        status, answer_headers = subscription.script.popleft() if subscription.script else (201, {})
        record: dict[str, Any] = {
            "status": status,
            "headers": {
                h: headers[h]
                for h in ("TTL", "Urgency", "Topic", "Content-Encoding", "Authorization")
                if h in headers
            },
            "body_length": len(body),
            "client_port": client_port,
        }
        try:
            claims, plaintext = self.check(subscription, headers, body)
        except _Rejection as rejection:
            self._error(f"{name}: {rejection.status} {rejection.reason}")
            record.update(status=rejection.status, error=rejection.reason)
            if self.mode == "full":
                self.records[name].append(record)
            return rejection.status, {}
        self.verified += 1
        self.tokens.add(headers["Authorization"])
        self.per_name[name] += 1
        topic = headers.get("Topic")
        self.shown[name].add(f"topic:{topic}" if topic else f"message:{self.requests}")
        self.digests[hashlib.sha256(plaintext).hexdigest()] += 1
        if self.mode == "full":
            record.update(claims=claims, payload=json.loads(plaintext))
            self.records[name].append(record)
        if status == 201:
            answer_headers = {"Location": f"{self.origin}/message/{self.requests}"}
        return status, answer_headers

    def _error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < _MAX_ERRORS_KEPT:
            self.errors.append(message)

    def stats(self) -> dict[str, Any]:
        """Counters for the parent process."""
        names = self.per_name
        return {
            "requests": self.requests,
            "verified": self.verified,
            "errors": self.error_count,
            "error_samples": self.errors,
            "distinct_subscriptions": sum(1 for c in names.values() if c),
            "max_per_subscription": max(names.values(), default=0),
            "max_shown_per_subscription": max(map(len, self.shown.values()), default=0),
            "payload_digests": dict(self.digests),
            "distinct_vapid_tokens": len(self.tokens),
            "first_at": self.first_at,
            "last_at": self.last_at,
        }


def _build_app(state: ReceiverState) -> Any:
    from aiohttp import web

    async def push(request: web.Request) -> web.Response:
        body = await request.read()
        peer = request.transport.get_extra_info("peername") if request.transport else None
        status, headers = state.handle_push(
            request.match_info["name"], request.headers, body, peer[1] if peer else None
        )
        return web.Response(status=status, headers=headers)

    async def register(request: web.Request) -> web.Response:
        for item in await request.json():
            state.register(item)
        return web.json_response({"registered": len(state.subscriptions)})

    async def script(request: web.Request) -> web.Response:
        data = await request.json()
        subscription = state.subscriptions[data["name"]]
        for status, headers in data["responses"]:
            subscription.script.append((int(status), dict(headers)))
        return web.json_response({"queued": len(subscription.script)})

    async def received(request: web.Request) -> web.Response:
        return web.json_response(state.records.get(request.match_info["name"], []))

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(state.stats())

    async def reset(request: web.Request) -> web.Response:
        state.reset_records()
        return web.json_response({"ok": True})

    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.router.add_post("/push/{name}", push)
    app.router.add_post("/_control/register", register)
    app.router.add_post("/_control/script", script)
    app.router.add_get("/_control/received/{name}", received)
    app.router.add_get("/_control/stats", stats)
    app.router.add_post("/_control/reset", reset)
    return app


def serve(port: int, mode: str) -> None:
    """Run the receiver until terminated; print ``READY <port>`` once listening."""
    import asyncio

    from aiohttp import web

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the standard loop works, only slower
        pass

    async def main() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        bound = sock.getsockname()[1]
        state = ReceiverState(f"http://127.0.0.1:{bound}", mode)
        runner = web.AppRunner(_build_app(state), access_log=None, handle_signals=True)
        await runner.setup()
        await web.SockSite(runner, sock, backlog=1024).start()
        print(f"READY {bound}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# --------------------------------------------------------------------------- parent side


def make_keys() -> tuple[ec.EllipticCurvePrivateKey, str, str]:
    """A subscriber key pair and auth secret: ``(private key, p256dh, auth)``."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    p256dh = private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return private_key, b64url(p256dh), b64url(os.urandom(16))


class PushReceiver:
    """Starts the receiver process and talks to it. Use as a context manager."""

    def __init__(self, mode: str = "full", port: int = 0) -> None:
        if mode not in ("full", "summary"):
            raise ValueError("mode is 'full' or 'summary'")
        self.mode = mode
        self.port = port
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 20.0) -> None:
        """Spawn the server process and wait until it listens."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--port",
                str(self.port),
                "--mode",
                self.mode,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"push receiver did not start (got {line!r})")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        """Terminate the server process."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``: the VAPID ``aud`` this receiver expects."""
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self, name: str) -> str:
        """The push endpoint URL of subscription ``name``."""
        return f"{self.origin}/push/{name}"

    def _call(self, method: str, path: str, data: Any = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(
            self.origin + path,
            data=body,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def make_subscriptions(
        self, names: list[str], application_server_key: str | None = None
    ) -> list[tuple[dict[str, Any], ec.EllipticCurvePrivateKey]]:
        """Create and register subscriptions; return each JSON and private key."""
        return self._create(names, application_server_key, keep_keys=True)

    def make_subscription_jsons(
        self, names: list[str], application_server_key: str | None = None
    ) -> list[dict[str, Any]]:
        """Like :meth:`make_subscriptions`, without holding the private keys.

        For the benchmark: 50,000 private key objects would weigh ~100 MiB in
        the sending process and blur its memory figures.
        """
        return [json for json, _ in self._create(names, application_server_key, keep_keys=False)]

    def _create(
        self, names: list[str], application_server_key: str | None, *, keep_keys: bool
    ) -> list[tuple[dict[str, Any], ec.EllipticCurvePrivateKey | None]]:
        made: list[tuple[dict[str, Any], ec.EllipticCurvePrivateKey | None]] = []
        registrations = []
        for name in names:
            private_key, p256dh, auth = make_keys()
            scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
            registrations.append(
                {
                    "name": name,
                    "private_key": b64url(scalar),
                    "auth": auth,
                    "application_server_key": application_server_key,
                }
            )
            subscription = {
                "endpoint": self.endpoint(name),
                "expirationTime": None,
                "keys": {"p256dh": p256dh, "auth": auth},
            }
            made.append((subscription, private_key if keep_keys else None))
        self._call("POST", "/_control/register", registrations)
        return made

    def make_subscription(
        self, name: str, application_server_key: str | None = None
    ) -> tuple[dict[str, Any], ec.EllipticCurvePrivateKey]:
        """One subscription: the browser ``PushSubscription`` JSON and its private key.

        With ``application_server_key``, the receiver answers 403 to a message
        signed with any other VAPID key, like a real push service.
        """
        return self.make_subscriptions([name], application_server_key)[0]

    def script(self, name: str, *responses: tuple[int, dict[str, str]] | int) -> None:
        """Queue answers for ``name``, used in order before falling back to 201."""
        normalised = [(r, {}) if isinstance(r, int) else r for r in responses]
        self._call("POST", "/_control/script", {"name": name, "responses": normalised})

    def received(self, name: str) -> list[dict[str, Any]]:
        """Requests received for ``name`` (full mode): headers, claims, payload, status."""
        return self._call("GET", f"/_control/received/{name}")

    def stats(self) -> dict[str, Any]:
        """Counters: requests, verified, errors, distinct subscriptions, digests..."""
        return self._call("GET", "/_control/stats")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used by the receiver process so far."""
        if self.process is None:
            raise RuntimeError("receiver not running")
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset(self) -> None:
        """Forget what was received so far."""
        self._call("POST", "/_control/reset", {})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Local Web Push service for Eclor tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=("full", "summary"), default="full")
    arguments = parser.parse_args()
    serve(arguments.port, arguments.mode)
