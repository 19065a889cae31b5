"""Web Push errors, limits, base64url and VAPID (RFC 8292): the subject, the key pair, the signed header.

Part of :mod:`app.push` (which re-exports every name): the sender signs with
:class:`VapidAuthorizer`; ``eclor vapid`` makes keys with :func:`generate_vapid_keys`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid.jwt import sign as _vapid_jwt_sign


logger = logging.getLogger("eclor.push")

#: A push message body is at most 4096 bytes once encrypted (RFC 8030 §7.2).
#: ``aes128gcm`` adds a 86-byte header (salt 16, record size 4, key id length 1,
#: sender key 65), a 16-byte tag and a 1-byte padding delimiter.
MAX_PLAINTEXT_BYTES = 4096 - 86 - 16 - 1  # 3993

#: Longest TTL accepted: 28 days, the largest value the major push services keep.
MAX_TTL_SECONDS = 28 * 24 * 3600

#: Lifetime written in the VAPID JWT ``exp`` claim (RFC 8292 allows up to 24 h).
VAPID_TOKEN_LIFETIME = 12 * 3600
#: A cached token is replaced this long before its ``exp``.
VAPID_REFRESH_MARGIN = 3600

_MAX_ENDPOINT_LENGTH = 2048
_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
_TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_MAILTO_RE = re.compile(r"^mailto:([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@([A-Za-z0-9.-]+)$")
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
# Names that can never receive mail or be a site: a push service (Apple's
# in particular) refuses a VAPID subject that uses them.
_RESERVED_TLDS = frozenset({"test", "example", "invalid", "localhost", "local", "internal"})
_RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})

Urgency = Literal["very-low", "low", "normal", "high"]
_URGENCIES: frozenset[str] = frozenset({"very-low", "low", "normal", "high"})


# --------------------------------------------------------------------------- errors


class PushError(Exception):
    """Base class of the errors raised by this module (all are caller errors)."""


class InvalidSubscription(PushError, ValueError):
    """A browser PushSubscription is malformed or unsafe; the message is in French."""


class InvalidVapidConfig(PushError, ValueError):
    """The VAPID private key or subject cannot be used; the message is in French."""


class InvalidTopic(PushError, ValueError):
    """A ``Topic`` header value is not 1 to 32 base64url characters."""


class PayloadTooLarge(PushError, ValueError):
    """The plaintext would not fit in a 4096-byte encrypted push message."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(
            f"Message trop long pour une notification : {size} octets "
            f"(au plus {MAX_PLAINTEXT_BYTES} octets avant chiffrement)."
        )


# --------------------------------------------------------------------------- base64url


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(value: str) -> bytes:
    """Decode unpadded or padded base64url; raise ``ValueError`` on anything else."""
    if not _B64URL_RE.match(value):
        raise ValueError("not base64url")
    stripped = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


# --------------------------------------------------------------------------- VAPID


def validate_vapid_subject(subject: str) -> str:
    """Return ``subject`` if it is a real ``mailto:`` address or ``https:`` URL.

    Push services (Apple's notably) reject placeholders, so reserved names
    (``example.com``, ``localhost``, ``.test``...) and bare host names are
    refused as well as any other scheme.
    """
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidVapidConfig(
            "Le sujet VAPID (ECLOR_VAPID_SUBJECT) est vide : indiquez une adresse "
            "« mailto:contact@votre-domaine.fr » ou une URL « https://votre-domaine.fr »."
        )
    subject = subject.strip()
    if subject.lower().startswith("mailto:"):
        match = _MAILTO_RE.match(subject)
        if not match:
            raise InvalidVapidConfig(
                f"Sujet VAPID invalide « {subject} » : l'adresse après « mailto: » "
                "doit être de la forme nom@domaine.fr."
            )
        host = match.group(2)
    elif subject.lower().startswith("https://"):
        parts = urlsplit(subject)
        if parts.username or parts.password or not parts.hostname:
            raise InvalidVapidConfig(
                f"Sujet VAPID invalide « {subject} » : l'URL https doit désigner un site "
                "public, sans identifiants."
            )
        host = parts.hostname
    else:
        raise InvalidVapidConfig(
            f"Sujet VAPID invalide « {subject} » : il doit commencer par « mailto: » "
            "ou « https:// »."
        )
    _check_public_host(host, subject)
    return subject


def _check_public_host(host: str, subject: str) -> None:
    host = host.lower().rstrip(".")
    if not _HOSTNAME_RE.match(host):
        raise InvalidVapidConfig(
            f"Sujet VAPID invalide « {subject} » : « {host} » n'est pas un nom de domaine public."
        )
    tld = host.rsplit(".", 1)[-1]
    registered = ".".join(host.split(".")[-2:])
    if tld in _RESERVED_TLDS or registered in _RESERVED_DOMAINS:
        raise InvalidVapidConfig(
            f"Sujet VAPID invalide « {subject} » : « {host} » est un nom réservé aux "
            "exemples ou aux tests ; les services de notification le refusent."
        )


@dataclass(frozen=True, slots=True)
class VapidKey:
    """A parsed VAPID (P-256) private key, ready to sign tokens."""

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    #: The public key as the browser's ``applicationServerKey``: base64url of
    #: the 65-byte uncompressed point.
    public_key_b64: str

    @classmethod
    def from_private_key(cls, private_key: ec.EllipticCurvePrivateKey) -> VapidKey:
        """Wrap a ``cryptography`` P-256 private key."""
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise InvalidVapidConfig("La clé privée VAPID doit être une clé EC P-256.")
        point = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return cls(private_key, _b64url_encode(point))

    def sign(self, *, audience: str, subject: str, expires_at: int) -> str:
        """Return an ``Authorization: vapid t=...,k=...`` value for these claims.

        A fresh claims dict is built for each call, so no caller-held dict is
        ever modified. The token is an ES256 JWT (RFC 8292 §2) signed by
        ``py_vapid``; the subject is checked by :func:`validate_vapid_subject`
        beforehand, which is stricter than ``py_vapid``'s own check and, unlike
        it, accepts an ``https:`` subject with a path.
        """
        claims = {"aud": audience, "exp": int(expires_at), "sub": subject}
        token = _vapid_jwt_sign(claims, self.private_key)
        return f"vapid t={token},k={self.public_key_b64}"


def generate_vapid_keys() -> tuple[str, str]:
    """Create a VAPID key pair.

    Returns ``(private_key, application_server_key)``: the private key as the
    base64url of its 32-byte scalar (one line, fit for ``ECLOR_VAPID_PRIVATE_KEY``)
    and the public key as base64url of the uncompressed point.
    """
    private_key = ec.generate_private_key(ec.SECP256R1())
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url_encode(scalar), VapidKey.from_private_key(private_key).public_key_b64


def load_vapid(private_key: str) -> VapidKey:
    """Parse a VAPID private key given as PEM, or base64url of a raw scalar or DER.

    Accepted forms: a PEM block (PKCS#8 or SEC1), base64url of the 32-byte
    private scalar (what :func:`generate_vapid_keys` and most Web Push tools
    produce) or base64/base64url of a DER key. Raises :class:`InvalidVapidConfig`.
    """
    if not isinstance(private_key, str) or not private_key.strip():
        raise InvalidVapidConfig(
            "Clé privée VAPID absente (ECLOR_VAPID_PRIVATE_KEY) : créez-la avec « eclor vapid »."
        )
    text = private_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        else:
            compact = "".join(text.split()).replace("+", "-").replace("/", "_")
            raw = _b64url_decode(compact)
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidVapidConfig(
            "Clé privée VAPID illisible : attendu un bloc PEM ou la clé en base64url "
            "(32 octets bruts ou DER)."
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidVapidConfig("La clé privée VAPID doit être une clé EC P-256.")
    return VapidKey.from_private_key(key)


def application_server_key(vapid: VapidKey | str) -> str:
    """The ``applicationServerKey`` to give ``pushManager.subscribe()``.

    ``vapid`` is a loaded key or a private key string accepted by :func:`load_vapid`.
    """
    key = vapid if isinstance(vapid, VapidKey) else load_vapid(vapid)
    return key.public_key_b64


class VapidAuthorizer:
    """Signs one VAPID token per push-service origin and reuses it.

    A token carries ``exp = now + lifetime`` and is replaced once fewer than
    ``refresh_margin`` seconds of validity remain, so a push service never sees
    a token about to expire, and a signature costs one ECDSA operation per
    origin every ``lifetime - refresh_margin`` seconds instead of one per message.
    """

    def __init__(
        self,
        key: VapidKey,
        subject: str,
        *,
        lifetime: int = VAPID_TOKEN_LIFETIME,
        refresh_margin: int = VAPID_REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < refresh_margin < lifetime <= 24 * 3600:
            raise ValueError("need 0 < refresh_margin < lifetime <= 24 h")
        self.key = key
        self.subject = validate_vapid_subject(subject)
        self.lifetime = lifetime
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}

    def header_for(self, origin: str) -> str:
        """The ``Authorization`` header value for requests to ``origin``."""
        now = self._clock()
        cached = self._cache.get(origin)
        if cached is not None and now < cached[1]:
            return cached[0]
        expires_at = int(now) + self.lifetime
        header = self.key.sign(audience=origin, subject=self.subject, expires_at=expires_at)
        self._cache[origin] = (header, expires_at - self.refresh_margin)
        return header
