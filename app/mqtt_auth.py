"""Who may talk to the MQTT broker, and on which topics (DESIGN.md's contract under ``{p}``).

Three kinds of account, the same in the embedded broker and in Mosquitto
(``eclor mqtt files`` writes its password and ACL files from the same rules):

* the **relay** (``eclor-relay``, the worker): commands out, everything under ``{p}/`` in;
* a **device** (user name = its device id): publishes only its own
  ``{p}/ack/light/{id}``, ``{p}/tele/light/{id}``, ``{p}/tele/sensor/{id}`` and
  ``{p}/status/{id}``; reads only its own ``{p}/cmd/light/{id}``;
* a **gateway** (``gateway-{name}``, a cabinet's controller in front of its lamps, or
  the sensors' concentrator): the same rights for each device behind it, and its own status.

Passwords are derived from the instance secret (HMAC-SHA256 of the user name), so
they exist from the moment a device is in the inventory, every process that holds
the secret can check or hand them out, and none is stored; changing
``ECLOR_MQTT_SECRET`` (else the secret key) changes them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

RELAY_USERNAME = "eclor-relay"
GATEWAY_PREFIX = "gateway-"
DEVICE_PUBLISHES = ("ack/light", "tele/light", "tele/sensor", "status")
DEVICE_READS = ("cmd/light",)


def derived_password(key: str, username: str) -> str:
    """The password of ``username`` under ``key`` (32 URL-safe characters)."""
    digest = hmac.new(key.encode(), b"eclor-mqtt\0" + username.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def with_credentials(url: str, username: str, password: str) -> str:
    """``url`` with a user name and password, unless it already carries some."""
    parts = urlsplit(url)
    if parts.username or not parts.hostname:
        return url
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def filter_covers(rule: str, topic_filter: str) -> bool:
    """True when every topic ``topic_filter`` can match is matched by ``rule``."""
    rule_levels, levels = rule.split("/"), topic_filter.split("/")
    for index, level in enumerate(levels):
        if index >= len(rule_levels):
            return False
        allowed = rule_levels[index]
        if allowed == "#":
            return True
        if level == "#":
            return False
        if allowed == "+":
            continue
        if level == "+" or level != allowed:
            return False
    return len(rule_levels) == len(levels) or rule_levels[len(levels) :] == ["#"]


@dataclass(frozen=True)
class TopicRules:
    """An account's rights: topic filters it may publish to and subscribe to."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    # Set by __post_init__ from the rules above: literal topics, then the filters with wildcards.
    _publish_literal: frozenset[str] = field(init=False, repr=False, compare=False)
    _publish_wild: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _subscribe_literal: frozenset[str] = field(init=False, repr=False, compare=False)
    _subscribe_wild: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Literal rules are looked up in a set: a gateway has hundreds of them.
        for name in ("publish", "subscribe"):
            rules = getattr(self, name)
            literal = frozenset(r for r in rules if "+" not in r and "#" not in r)
            object.__setattr__(self, f"_{name}_literal", literal)
            object.__setattr__(self, f"_{name}_wild", tuple(r for r in rules if r not in literal))

    def may_publish(self, topic: str) -> bool:
        return topic in self._publish_literal or any(
            filter_covers(rule, topic) for rule in self._publish_wild
        )

    def may_subscribe(self, topic_filter: str) -> bool:
        return topic_filter in self._subscribe_literal or any(
            filter_covers(rule, topic_filter) for rule in self._subscribe_wild
        )


def instance_key(secret_key: str, mqtt_secret: str = "") -> str:
    """The key MQTT passwords derive from: ``ECLOR_MQTT_SECRET``, else one drawn from the secret key."""
    if mqtt_secret:
        return mqtt_secret
    return hmac.new(secret_key.encode(), b"eclor-mqtt-key", hashlib.sha256).hexdigest()


def relay_rules(prefix: str) -> TopicRules:
    return TopicRules(publish=(f"{prefix}/#",), subscribe=(f"{prefix}/#",))


def device_rules(prefix: str, device_ids: Iterable[str], own_id: str | None = None) -> TopicRules:
    """The rights of a device, or of a gateway for the devices behind it (and its own status)."""
    ids = list(device_ids)
    publish = [f"{prefix}/{kind}/{d}" for d in ids for kind in DEVICE_PUBLISHES]
    if own_id is not None and own_id not in ids:
        publish.append(f"{prefix}/status/{own_id}")
    return TopicRules(
        publish=tuple(publish),
        subscribe=tuple(f"{prefix}/{kind}/{d}" for d in ids for kind in DEVICE_READS),
    )


class Accounts:
    """The embedded broker's authenticator (see :class:`app.mqtt_broker.Authenticator`).

    ``gateway_devices(name)`` gives the device ids behind gateway ``name`` (None: no
    such gateway); it is asked once per gateway connection.
    """

    def __init__(
        self,
        key: str,
        prefix: str,
        gateway_devices: Callable[[str], Iterable[str] | None] = lambda name: None,
    ) -> None:
        self.key = key
        self.prefix = prefix.rstrip("/")
        self.gateway_devices = gateway_devices

    def password(self, username: str) -> str:
        return derived_password(self.key, username)

    def authenticate(
        self, client_id: str, username: str | None, password: bytes | None
    ) -> TopicRules | None:
        if not username or password is None:
            return None
        if not secrets.compare_digest(password, self.password(username).encode()):
            return None
        if username == RELAY_USERNAME:
            return relay_rules(self.prefix)
        if username.startswith(GATEWAY_PREFIX):
            devices = self.gateway_devices(username[len(GATEWAY_PREFIX) :])
            if devices is None:
                return None
            return device_rules(self.prefix, devices, own_id=username)
        return device_rules(self.prefix, [username])


def mosquitto_password_line(username: str, password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto 2 password-file line (``$7$``: PBKDF2-SHA512, as ``mosquitto_passwd`` writes)."""
    salt = salt or secrets.token_bytes(12)
    iterations = 101
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"{username}:$7${iterations}${encoded[0]}${encoded[1]}"


def mosquitto_acl(prefix: str, gateways: Mapping[str, Iterable[str]]) -> str:
    """The ACL file: the relay, every device by pattern (``%u``), then each gateway's devices."""
    lines = [
        "# Written by `eclor mqtt files`: Eclor's MQTT rights (see app/mqtt_auth.py).",
        "# Every device: its own topics only (its user name is its device id).",
    ]
    lines += [f"pattern write {prefix}/{kind}/%u" for kind in DEVICE_PUBLISHES]
    lines += [f"pattern read {prefix}/{kind}/%u" for kind in DEVICE_READS]
    lines += [
        "",
        "# The relay (the worker).",
        f"user {RELAY_USERNAME}",
        f"topic readwrite {prefix}/#",
    ]
    for name, devices in sorted(gateways.items()):
        rules = device_rules(prefix, devices, own_id=GATEWAY_PREFIX + name)
        lines += ["", f"user {GATEWAY_PREFIX}{name}"]
        lines += [f"topic write {rule}" for rule in rules.publish]
        lines += [f"topic read {rule}" for rule in rules.subscribe]
    return "\n".join(lines) + "\n"
