"""Web Push for Eclor: VAPID keys, subscriptions, payload encryption and delivery.

This is the one module over ``pywebpush`` (RFC 8291 ``aes128gcm`` payload
encryption with ``WebPusher.encode``) and ``py_vapid`` (VAPID keys and JWT
signing); nothing else in Eclor imports them. The HTTP side uses one pooled
``aiohttp`` client.

What it does differently from ``pywebpush.webpush()`` (measured by
``bench/push_fanout.py``):

* the VAPID private key is parsed once (:func:`load_vapid`), not on every call;
* the VAPID JWT is signed once per push-service origin and reused until well
  before its ``exp`` (:class:`VapidAuthorizer`); no shared claims dict is ever
  mutated;
* each subscription's keys are base64-decoded and validated once, when the
  :class:`PushSubscriptionInfo` is built (``pywebpush`` deep-copies the
  subscription and decodes its keys in a new ``WebPusher`` for every message);
* connections are pooled per origin (HTTP/1.1 keep-alive), every request has a
  timeout, concurrency is bounded, and every response becomes a
  :class:`PushOutcome` instead of an exception.

Typical use by the worker::

    async with PushSender(settings.vapid_private_key, settings.vapid_subject) as sender:
        async for subscription, outcome in sender.iter_send(
            subscriptions, {"title": ..., "body": ...}, ttl=3600, urgency="high"
        ):
            record(subscription, outcome)   # delete on GONE, reschedule on RETRY...
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import InitVar, dataclass, field
from typing import Any, NamedTuple, Self
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPusher
from app import outbound
from app.push_keys import (
    InvalidSubscription,
    InvalidTopic,
    InvalidVapidConfig,
    MAX_PLAINTEXT_BYTES,
    MAX_TTL_SECONDS,
    PayloadTooLarge,
    PushError,
    Urgency,
    VapidAuthorizer,
    VapidKey,
    _MAX_ENDPOINT_LENGTH,
    _TOPIC_RE,
    _URGENCIES,
    _b64url_decode,
    _b64url_encode,
    application_server_key,
    generate_vapid_keys,
    load_vapid,
    validate_vapid_subject,
)
from app.push_outcomes import (
    Outcome,
    PushOutcome,
    classify_response,
    parse_retry_after,
    retry_delay,
)

__all__ = [
    "MAX_PLAINTEXT_BYTES",
    "InvalidSubscription",
    "InvalidTopic",
    "InvalidVapidConfig",
    "Outcome",
    "PayloadTooLarge",
    "PushError",
    "PushOutcome",
    "PushResult",
    "PushSender",
    "PushSubscriptionInfo",
    "Urgency",
    "VapidAuthorizer",
    "VapidKey",
    "application_server_key",
    "check_payload_size",
    "classify_response",
    "encode_payload",
    "encrypt_payload",
    "generate_vapid_keys",
    "load_vapid",
    "parse_retry_after",
    "retry_delay",
    "validate_topic",
    "validate_ttl",
    "validate_urgency",
    "validate_vapid_subject",
]

logger = logging.getLogger("eclor.push")


# --------------------------------------------------------------------------- subscriptions


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class PushSubscriptionInfo:
    """A validated browser ``PushSubscription``: endpoint and keys (base64url, unpadded).

    Building one validates everything: an ``https`` endpoint (``http`` only on
    loopback with ``allow_insecure_loopback=True``, for tests and local
    development), a ``p256dh`` that is a 65-byte uncompressed P-256 point on
    the curve and a 16-byte ``auth`` secret. The decoded bytes are kept so
    that encrypting does no base64 work. The parsed key object is not kept: it
    weighs about 2 KiB in OpenSSL against 65 bytes for the point, and parsing
    it again costs about 5 µs of the ~85 µs an encryption takes, so 50,000
    subscriptions held in memory for a fan-out stay near 15 MiB instead of 120.
    """

    endpoint: str
    p256dh: str
    auth: str
    allow_insecure_loopback: InitVar[bool] = False
    #: ``scheme://host[:port]`` of the endpoint: the VAPID ``aud``.
    origin: str = field(init=False, repr=False, compare=False)
    #: The 65-byte uncompressed P-256 point decoded from ``p256dh``.
    public_point: bytes = field(init=False, repr=False, compare=False)
    #: The 16-byte secret decoded from ``auth``.
    auth_secret: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self, allow_insecure_loopback: bool) -> None:
        origin = _check_endpoint(self.endpoint, allow_insecure_loopback)
        p256dh, point = _check_p256dh(self.p256dh)
        auth, secret = _check_auth(self.auth)
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError as exc:
            raise InvalidSubscription(
                "Abonnement refusé : la clé « p256dh » n'est pas un point de la courbe P-256."
            ) from exc
        object.__setattr__(self, "p256dh", p256dh)
        object.__setattr__(self, "auth", auth)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "public_point", point)
        object.__setattr__(self, "auth_secret", secret)

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any] | str | bytes, *, allow_insecure_loopback: bool = False
    ) -> PushSubscriptionInfo:
        """Validate the JSON of a browser ``PushSubscription``.

        ``data`` is ``{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}``
        (a dict or its JSON text); other members (``expirationTime``...) are
        ignored. Raises :class:`InvalidSubscription` with a French message.
        """
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise InvalidSubscription("Abonnement refusé : le JSON est illisible.") from exc
        if not isinstance(data, Mapping):
            raise InvalidSubscription("Abonnement refusé : un objet JSON est attendu.")
        endpoint = data.get("endpoint")
        keys = data.get("keys")
        if not isinstance(endpoint, str):
            raise InvalidSubscription("Abonnement refusé : « endpoint » manquant.")
        if not isinstance(keys, Mapping):
            raise InvalidSubscription(
                "Abonnement refusé : « keys » manquant (le navigateur doit fournir p256dh et auth)."
            )
        p256dh, auth = keys.get("p256dh"), keys.get("auth")
        if not isinstance(p256dh, str) or not isinstance(auth, str):
            raise InvalidSubscription(
                "Abonnement refusé : les clés « p256dh » et « auth » sont obligatoires."
            )
        return cls(endpoint, p256dh, auth, allow_insecure_loopback)

    def to_json(self) -> dict[str, Any]:
        """The browser ``PushSubscription`` JSON shape, for storage or display."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _check_endpoint(endpoint: str, allow_insecure_loopback: bool) -> str:
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidSubscription("Abonnement refusé : « endpoint » manquant.")
    if len(endpoint) > _MAX_ENDPOINT_LENGTH:
        raise InvalidSubscription("Abonnement refusé : l'adresse « endpoint » est trop longue.")
    if any(ch.isspace() or ord(ch) < 0x21 or ord(ch) > 0x7E for ch in endpoint):
        raise InvalidSubscription(
            "Abonnement refusé : l'adresse « endpoint » contient des caractères interdits."
        )
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:
        raise InvalidSubscription(
            "Abonnement refusé : l'adresse « endpoint » est invalide."
        ) from exc
    host = (parts.hostname or "").lower()
    if not host or parts.username is not None or parts.password is not None:
        raise InvalidSubscription("Abonnement refusé : l'adresse « endpoint » est invalide.")
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not (allow_insecure_loopback and _is_loopback(host)):
            raise InvalidSubscription(
                "Abonnement refusé : le service de notification doit être joint en https."
            )
    elif scheme != "https":
        raise InvalidSubscription(
            "Abonnement refusé : le service de notification doit être joint en https."
        )
    try:  # public Internet only (app.outbound); checked again at connect time
        outbound.check_host(host, allow_loopback=allow_insecure_loopback)
    except outbound.NotPublic as exc:
        raise InvalidSubscription(f"Abonnement refusé : {exc}") from None
    netloc = f"[{host}]" if ":" in host else host
    default_port = 443 if scheme == "https" else 80
    if port is not None and port != default_port:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def _check_p256dh(value: str) -> tuple[str, bytes]:
    try:
        raw = _b64url_decode(value)
    except ValueError as exc:
        raise InvalidSubscription(
            "Abonnement refusé : la clé « p256dh » n'est pas en base64url."
        ) from exc
    if len(raw) != 65 or raw[0] != 0x04:
        raise InvalidSubscription(
            "Abonnement refusé : la clé « p256dh » doit être un point P-256 non compressé "
            f"de 65 octets (reçu {len(raw)} octets)."
        )
    return _b64url_encode(raw), raw


def _check_auth(value: str) -> tuple[str, bytes]:
    try:
        raw = _b64url_decode(value)
    except ValueError as exc:
        raise InvalidSubscription(
            "Abonnement refusé : le secret « auth » n'est pas en base64url."
        ) from exc
    if len(raw) != 16:
        raise InvalidSubscription(
            f"Abonnement refusé : le secret « auth » doit faire 16 octets (reçu {len(raw)})."
        )
    return _b64url_encode(raw), raw


# --------------------------------------------------------------------------- payloads


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Serialize ``payload`` as compact UTF-8 JSON, refusing it if too large."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return check_payload_size(body)


def check_payload_size(plaintext: bytes) -> bytes:
    """Return ``plaintext`` or raise :class:`PayloadTooLarge` above 3993 bytes."""
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise PayloadTooLarge(len(plaintext))
    return plaintext


def encrypt_payload(subscription: PushSubscriptionInfo, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` for one subscription (RFC 8291, ``aes128gcm``).

    A fresh ephemeral ECDH key and a random salt are used for every message;
    the subscriber's key and secret come already decoded from ``subscription``.
    """
    if not plaintext:
        raise ValueError("a push message needs a body")
    pusher = WebPusher(
        {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
    )
    return bytes(pusher.encode(check_payload_size(plaintext), content_encoding="aes128gcm")["body"])


def validate_topic(topic: str | None) -> str | None:
    """Return ``topic`` if it is ``None`` or 1 to 32 base64url characters."""
    if topic is None:
        return None
    if not isinstance(topic, str) or not _TOPIC_RE.match(topic):
        raise InvalidTopic(
            f"Sujet (Topic) invalide {topic!r} : 1 à 32 caractères parmi A-Z a-z 0-9 - _."
        )
    return topic


def validate_urgency(urgency: str) -> str:
    """Return ``urgency`` if it is one of very-low, low, normal, high."""
    if urgency not in _URGENCIES:
        raise ValueError(f"Urgency must be one of {sorted(_URGENCIES)}, not {urgency!r}")
    return urgency


def validate_ttl(ttl: int) -> int:
    """Return ``ttl`` if it is an int of seconds between 0 and 28 days."""
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL_SECONDS:
        raise ValueError(f"TTL must be an int of seconds in [0, {MAX_TTL_SECONDS}], not {ttl!r}")
    return ttl


# --------------------------------------------------------------------------- sending


class PushResult(NamedTuple):
    """A subscription and what happened to the message sent to it."""

    subscription: PushSubscriptionInfo
    outcome: PushOutcome


class _Finished(NamedTuple):
    error: Exception | None


class PushSender:
    """Sends Web Push messages over one pooled HTTP client.

    Use as ``async with PushSender(...) as sender``; keep one sender for the
    life of the worker so connections and VAPID tokens are reused. Calls from
    several tasks share ``max_in_flight`` (a semaphore) and the pool.

    ``timeout`` bounds a whole request (connect, send, answer);
    ``connect_timeout`` the connection alone.
    """

    def __init__(
        self,
        vapid_private_key: VapidKey | str,
        subject: str,
        *,
        max_in_flight: int = 64,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        allow_loopback: bool = False,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        key = (
            vapid_private_key
            if isinstance(vapid_private_key, VapidKey)
            else load_vapid(vapid_private_key)
        )
        self.vapid = VapidAuthorizer(key, subject, clock=clock)
        self.max_in_flight = max_in_flight
        self.allow_loopback = allow_loopback
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._semaphore: asyncio.Semaphore | None = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Create the pooled client (called by ``async with``)."""
        if self._session is not None:
            return
        connector = outbound.connector(  # public addresses only, checked when connecting
            allow_loopback=self.allow_loopback,
            limit=self.max_in_flight,
            limit_per_host=self.max_in_flight,
            keepalive_timeout=60,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=False,
            headers={"User-Agent": "Eclor-push/1"},
        )
        self._semaphore = asyncio.Semaphore(self.max_in_flight)

    async def aclose(self) -> None:
        """Close the pooled connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._semaphore = None

    @staticmethod
    def _prepare(
        payload: bytes | Mapping[str, Any], ttl: int, urgency: str, topic: str | None
    ) -> tuple[bytes, dict[str, str]]:
        """Validate everything about a message before any request is made."""
        if isinstance(payload, (bytes, bytearray)):
            plaintext = check_payload_size(bytes(payload))
        else:
            plaintext = encode_payload(payload)
        if not plaintext:
            raise ValueError("a push message needs a body")
        headers = {
            "TTL": str(validate_ttl(ttl)),
            "Urgency": validate_urgency(urgency),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        if (checked_topic := validate_topic(topic)) is not None:
            headers["Topic"] = checked_topic
        return plaintext, headers

    async def _deliver(
        self, subscription: PushSubscriptionInfo, plaintext: bytes, headers: dict[str, str]
    ) -> PushOutcome:
        session, semaphore = self._session, self._semaphore
        if session is None or semaphore is None:
            raise RuntimeError("PushSender is not open: use `async with PushSender(...)`")
        async with semaphore:  # also bounds how many encrypted bodies wait in memory
            body = encrypt_payload(subscription, plaintext)
            request_headers = dict(headers)
            request_headers["Authorization"] = self.vapid.header_for(subscription.origin)
            try:
                async with session.post(
                    subscription.endpoint,
                    data=body,
                    headers=request_headers,
                    allow_redirects=False,
                ) as response:
                    answer = await outbound.read_capped(response)
                    outcome = classify_response(response.status, response.headers, answer)
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                outcome = PushOutcome(Outcome.RETRY, None, detail=f"{type(exc).__name__}: {exc}")
        if outcome.kind is Outcome.REJECTED:
            logger.warning(
                "push rejected by %s: %s %s", subscription.origin, outcome.status, outcome.detail
            )
        elif outcome.kind is not Outcome.DELIVERED:
            logger.info(
                "push %s for %s: %s %s",
                outcome.kind.value,
                subscription.origin,
                outcome.status,
                outcome.detail,
            )
        return outcome

    async def send_one(
        self,
        subscription: PushSubscriptionInfo,
        payload: bytes | Mapping[str, Any],
        *,
        ttl: int,
        urgency: Urgency = "normal",
        topic: str | None = None,
    ) -> PushOutcome:
        """Encrypt and send one message; never raises for what the service answers.

        Raises :class:`PayloadTooLarge`, :class:`InvalidTopic` or ``ValueError``
        (bad TTL or urgency) before any request is made.
        """
        plaintext, headers = self._prepare(payload, ttl, urgency, topic)
        return await self._deliver(subscription, plaintext, headers)

    def iter_send(
        self,
        subscriptions: Iterable[PushSubscriptionInfo] | AsyncIterable[PushSubscriptionInfo],
        payload: bytes | Mapping[str, Any],
        *,
        ttl: int,
        urgency: Urgency = "normal",
        topic: str | None = None,
        concurrency: int | None = None,
    ) -> AsyncIterator[PushResult]:
        """Send the same message to each subscription; yield results as they come.

        The message is validated here, before anything is sent (so
        :class:`PayloadTooLarge` and :class:`InvalidTopic` are raised by this
        call, not while iterating). ``concurrency`` tasks (default
        ``max_in_flight``) pull subscriptions from the iterable one at a time,
        so a long (or async, streamed from the database) iterable is never
        held in memory at once. Results come in completion order; each
        subscription given is sent exactly once. To stop early, iterate under
        ``contextlib.aclosing(...)``: closing the iterator cancels what is in
        flight (a cancelled message may or may not have reached the service).
        """
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        plaintext, headers = self._prepare(payload, ttl, urgency, topic)
        workers = min(concurrency or self.max_in_flight, self.max_in_flight)
        return self._fan_out(subscriptions, plaintext, headers, workers)

    async def send_many(
        self,
        subscriptions: Iterable[PushSubscriptionInfo] | AsyncIterable[PushSubscriptionInfo],
        payload: bytes | Mapping[str, Any],
        *,
        ttl: int,
        urgency: Urgency = "normal",
        topic: str | None = None,
        concurrency: int | None = None,
    ) -> list[PushResult]:
        """Like :meth:`iter_send`, collected into a list (completion order)."""
        iterator = self.iter_send(
            subscriptions, payload, ttl=ttl, urgency=urgency, topic=topic, concurrency=concurrency
        )
        return [result async for result in iterator]

    async def _fan_out(
        self,
        subscriptions: Iterable[PushSubscriptionInfo] | AsyncIterable[PushSubscriptionInfo],
        plaintext: bytes,
        headers: dict[str, str],
        workers: int,
    ) -> AsyncIterator[PushResult]:
        queue: asyncio.Queue[PushResult | _Finished] = asyncio.Queue(maxsize=workers * 2)
        next_subscription = _shared_cursor(subscriptions)

        async def worker() -> None:
            error: Exception | None = None
            try:
                while (subscription := await next_subscription()) is not None:
                    outcome = await self._deliver(subscription, plaintext, headers)
                    await queue.put(PushResult(subscription, outcome))
            except Exception as exc:  # noqa: BLE001 - re-raised by the consumer below
                error = exc
            await queue.put(_Finished(error))

        tasks = [asyncio.create_task(worker()) for _ in range(workers)]
        running = workers
        try:
            while running:
                item = await queue.get()
                if isinstance(item, _Finished):
                    running -= 1
                    if item.error is not None:
                        raise item.error
                    continue
                yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _shared_cursor(
    subscriptions: Iterable[PushSubscriptionInfo] | AsyncIterable[PushSubscriptionInfo],
) -> Callable[[], Any]:
    """One ``await next()`` shared by all fan-out tasks; ``None`` once exhausted."""
    if isinstance(subscriptions, AsyncIterable):
        iterator = aiter(subscriptions)
        lock = asyncio.Lock()

        async def next_async() -> PushSubscriptionInfo | None:
            async with lock:
                try:
                    return await anext(iterator)
                except StopAsyncIteration:
                    return None

        return next_async

    sync_iterator = iter(subscriptions)

    async def next_sync() -> PushSubscriptionInfo | None:
        return next(sync_iterator, None)

    return next_sync
