"""NGSI-LD subscriptions (ETSI GS CIM 009 §5.2.12, §5.8, §6.10–6.11): checked, stored, served.

A subscription names entities (``entities``: type, and ``id`` or ``idPattern``),
``watchedAttributes``, a ``q`` and a ``geoQ``, and a ``notification``
(``attributes``, ``format`` normalized/keyValues, ``endpoint.uri`` with
``accept`` application/json, application/ld+json or application/geo+json and
``receiverInfo`` headers), with ``isActive``, ``expiresAt`` and ``throttling``.
Its names are expanded with the request's ``@context`` when it is accepted and
stored in Eclor's served terms (``spec``), with the names the partner's context
gives them (``names``) so notifications are compacted without fetching the
context again. What Eclor does not implement (periodic ``timeInterval``,
``csf``, ``scopeQ``, ``temporalQ``, ``lang``, ``showChanges``, ``sysAttrs``,
triggers on deletion, MQTT endpoints) is refused with 400, never ignored.

Partners authenticate with an NGSI-LD API key (``X-Api-Key`` or
``Authorization: Bearer``), issued by staff with ``eclor ngsi-keys``; only its
SHA-256 is stored, as for Open311 keys. Staff signed in may manage every
subscription.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from sqlmodel import Session, col, select

from app import ngsi_query as nq
from app import outbound
from app.db import utcnow
from app.models.ngsi import NgsiApiKey, NgsiSubscription
from app.ngsi import NgsiError, parse_urn, time_text
from app.ngsi_context import LdContext
from app.sensors import ngsi_ld, ngsi_search

MEDIA = ("application/json", "application/ld+json", "application/geo+json")
KNOWN = {
    "id",
    "type",
    "subscriptionName",
    "description",
    "entities",
    "watchedAttributes",
    "notificationTrigger",
    "q",
    "geoQ",
    "notification",
    "expiresAt",
    "isActive",
    "throttling",
    "@context",
    "status",  # read-only members a client may send back unchanged
}
UNSUPPORTED = ("timeInterval", "csf", "scopeQ", "temporalQ", "lang", "jsonldContext", "datasetId")
TRIGGERS = {"entityCreated", "entityUpdated", "attributeCreated", "attributeUpdated"}
MAX_PER_OWNER = 100


def _bad(detail: str) -> NgsiError:
    return NgsiError(400, "BadRequestData", "Invalid subscription", detail[:300])


def _unsupported(detail: str) -> NgsiError:
    return NgsiError(400, "OperationNotSupported", "Not supported", detail[:300])


# --------------------------------------------------------------------------- API keys


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(session: Session, name: str) -> tuple[NgsiApiKey, str]:
    """A new key for a partner: the row, and the key itself (shown once, never stored)."""
    key = "ngsi_" + secrets.token_urlsafe(32)
    row = NgsiApiKey(name=name[:120], key_hash=_key_hash(key), prefix=key[:12])
    session.add(row)
    session.flush()
    return row, key


def check_key(session: Session, key: str) -> NgsiApiKey | None:
    if not key or len(key) > 200:
        return None
    row = session.scalars(
        select(NgsiApiKey).where(col(NgsiApiKey.key_hash) == _key_hash(key))
    ).first()
    if row is None or row.revoked_at is not None:
        return None
    return row


def key_of(headers: Mapping[str, str]) -> str | None:
    """The API key a request carries (``X-Api-Key``, or ``Authorization: Bearer``)."""
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    auth = headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


# --------------------------------------------------------------------------- checking


def _moment(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise _bad(f"{name} must be a date-time")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"{name} is not an ISO 8601 date-time: {value[:40]}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _names(value: Any, name: str, ctx: LdContext) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _bad(f"{name} must be a non-empty list of attribute names")
    return [ngsi_search.served_term(v, ctx) for v in value]


def _entities(value: Any, ctx: LdContext) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise _bad("entities must be a non-empty list")
    out = []
    for info in value:
        if not isinstance(info, dict) or not isinstance(info.get("type"), str):
            raise _bad("each of entities needs a type")
        unknown = set(info) - {"type", "id", "idPattern"}
        if unknown:
            raise _unsupported(f"entities member {sorted(unknown)[0][:40]} is not supported")
        if any(c in info["type"] for c in ",;|()"):
            raise _unsupported("type expressions are not supported in a subscription")
        item = {"type": ngsi_search.served_term(info["type"], ctx)}
        if "id" in info:
            if not isinstance(info["id"], str):
                raise _bad("an entity id is a URN")
            parse_urn(info["id"])
            item["id"] = info["id"]
        if "idPattern" in info:
            if not isinstance(info["idPattern"], str):
                raise _bad("idPattern is a regular expression")
            nq.parse_id_pattern(info["idPattern"])
            item["idPattern"] = info["idPattern"]
        out.append(item)
    return out


def _q_terms(text: str, ctx: LdContext) -> dict[str, str]:
    """The served term of every attribute a ``q`` names (``q`` itself is kept as written)."""
    terms: dict[str, str] = {}

    def walk(node: Any) -> None:
        if isinstance(node, nq.Term):
            terms[node.path[0]] = ngsi_search.served_term(node.path[0], ctx)
        else:
            for part in node.parts:
                walk(part)

    walk(nq.parse_q(text))
    return terms


def _geo(value: Any, ctx: LdContext) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad("geoQ is an object")
    unknown = set(value) - {"georel", "geometry", "coordinates", "geoproperty"}
    if unknown:
        raise _unsupported(f"geoQ member {sorted(unknown)[0][:40]} is not supported")
    coordinates = value.get("coordinates")
    text = coordinates if isinstance(coordinates, str) else json.dumps(coordinates)
    geoproperty = value.get("geoproperty")
    query = nq.parse_geo(value.get("georel"), value.get("geometry"), text, geoproperty)
    if query is None:
        raise _bad("geoQ needs georel, geometry and coordinates")
    return {
        "georel": value.get("georel"),
        "geometry": value.get("geometry"),
        "coordinates": json.loads(text),
        "geoproperty": ngsi_search.served_term(geoproperty or "location", ctx),
    }


def _notification(value: Any, ctx: LdContext, allow_loopback: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad("notification is required: an object with an endpoint")
    unknown = (
        set(value)
        - {"attributes", "format", "endpoint", "showChanges", "sysAttrs"}
        - {
            "status",
            "timesSent",
            "timesFailed",
            "lastNotification",
            "lastSuccess",
            "lastFailure",
        }
    )
    if unknown:
        raise _unsupported(f"notification member {sorted(unknown)[0][:40]} is not supported")
    for flag in ("showChanges", "sysAttrs"):
        if value.get(flag) not in (None, False):
            raise _unsupported(f"notification.{flag} is not supported")
    out: dict[str, Any] = {}
    if "attributes" in value:
        out["attributes"] = _names(value["attributes"], "notification.attributes", ctx)
    fmt = value.get("format", "normalized")
    if fmt not in ("normalized", "keyValues", "simplified"):
        raise _bad("notification.format is normalized, keyValues or simplified")
    out["format"] = "keyValues" if fmt in ("keyValues", "simplified") else "normalized"
    endpoint = value.get("endpoint")
    if not isinstance(endpoint, dict) or not isinstance(endpoint.get("uri"), str):
        raise _bad("notification.endpoint.uri is required")
    unknown = set(endpoint) - {"uri", "accept", "receiverInfo"}
    if unknown:
        raise _unsupported(f"endpoint member {sorted(unknown)[0][:40]} is not supported")
    uri = endpoint["uri"]
    match = re.fullmatch(r"https?://([^/:?#\[\]]+|\[[0-9a-fA-F:.]+\])(:\d{1,5})?([/?#].*)?", uri)
    if match is None or len(uri) > 2000:
        raise _unsupported("only http(s) endpoints are supported (no MQTT notifications)")
    try:
        outbound.check_host(match.group(1), allow_loopback=allow_loopback)
    except outbound.NotPublic:
        raise _bad(f"endpoint {uri[:200]} is not a public address") from None
    accept = endpoint.get("accept", "application/json")
    if accept not in MEDIA:
        raise _bad(f"endpoint.accept is one of {', '.join(MEDIA)}")
    info = endpoint.get("receiverInfo") or []
    if not isinstance(info, list) or not all(
        isinstance(i, dict)
        and isinstance(i.get("key"), str)
        and isinstance(i.get("value"), str)
        and re.fullmatch(r"[A-Za-z0-9-]{1,64}", i["key"])
        and "\n" not in i["value"]
        and i["key"].lower() not in ("host", "content-length", "content-type", "link")
        for i in info
    ):
        raise _bad("receiverInfo is a list of {key, value} headers")
    out["endpoint"] = {"uri": uri, "accept": accept, "receiverInfo": info[:20]}
    return out


def check(
    body: Any, ctx: LdContext, *, allow_loopback: bool, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The subscription a request body describes (a whole one, or ``previous`` patched), in served terms."""
    if not isinstance(body, dict):
        raise _bad("the body is a JSON object")
    for name in UNSUPPORTED:
        if name in body:
            raise _unsupported(f"{name} is not supported")
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        raise _bad(f"unknown member {unknown[0][:40]}")
    if body.get("type", "Subscription") != "Subscription":
        raise _bad("type must be Subscription")
    spec: dict[str, Any] = dict(previous or {})
    for name in ("subscriptionName", "description"):
        if name in body:
            if not isinstance(body[name], str) or len(body[name]) > 500:
                raise _bad(f"{name} is a text of at most 500 characters")
            spec[name] = body[name]
    if "entities" in body:
        spec["entities"] = _entities(body["entities"], ctx)
    if "watchedAttributes" in body:
        spec["watchedAttributes"] = _names(body["watchedAttributes"], "watchedAttributes", ctx)
    if "notificationTrigger" in body:
        triggers = body["notificationTrigger"]
        if not isinstance(triggers, list) or not set(triggers) <= TRIGGERS:
            raise _unsupported(f"notificationTrigger: Eclor notifies {', '.join(sorted(TRIGGERS))}")
    if "q" in body:
        if not isinstance(body["q"], str):
            raise _bad("q is a text")
        spec["q"] = body["q"]
        spec["qTerms"] = _q_terms(body["q"], ctx)
    if "geoQ" in body:
        spec["geoQ"] = _geo(body["geoQ"], ctx)
    if "notification" in body:
        spec["notification"] = _notification(body["notification"], ctx, allow_loopback)
    if "throttling" in body:
        value = body["throttling"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise _bad("throttling is a number of seconds > 0")
        spec["throttling"] = float(value)
    if "isActive" in body:
        if not isinstance(body["isActive"], bool):
            raise _bad("isActive is true or false")
        spec["isActive"] = body["isActive"]
    if "expiresAt" in body:
        moment = _moment(body["expiresAt"], "expiresAt")
        if moment <= utcnow():
            raise _bad("expiresAt is in the past")
        spec["expiresAt"] = time_text(moment)
    if "entities" not in spec and "watchedAttributes" not in spec:
        raise _bad("a subscription needs entities or watchedAttributes")
    if "notification" not in spec:
        raise _bad("notification is required")
    if ctx.url is not None:
        spec["context"] = ctx.url
        spec["names"] = _names_in(ctx)
    return spec


def _names_in(ctx: LdContext) -> dict[str, str]:
    """How the partner's context names each served term that it names differently."""
    served = ngsi_ld.context()["@context"][0]
    out = {}
    for term in served:
        name = ngsi_search.name_in(ctx, term)
        if name != term:
            out[term] = name
    return out


# --------------------------------------------------------------------------- storing


def new_id(body: Any) -> str:
    given = body.get("id") if isinstance(body, dict) else None
    if given is None:
        return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    if not isinstance(given, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S{1,180}", given):
        raise _bad("id must be a URI")
    return given


def apply(row: NgsiSubscription, spec: dict[str, Any]) -> None:
    row.spec = json.dumps(spec, ensure_ascii=False)
    row.context_url = spec.get("context")
    row.is_active = spec.get("isActive", True)
    row.expires_at = _moment(spec["expiresAt"], "expiresAt") if "expiresAt" in spec else None
    row.throttling_s = spec.get("throttling", 0.0)
    row.modified_at = utcnow()


def owned(
    session: Session, key: NgsiApiKey | None, staff: bool, territory_id: int | None = None
) -> Iterator[NgsiSubscription]:
    """The subscriptions the caller may see: the key's (staff: all), of the territory when given."""
    query = select(NgsiSubscription).order_by(col(NgsiSubscription.created_at), NgsiSubscription.id)
    if territory_id is not None:
        query = query.where(col(NgsiSubscription.territory_id) == territory_id)
    if not staff:
        query = query.where(col(NgsiSubscription.api_key_id) == (key.id if key else -1))
    yield from session.scalars(query)


def count_owned(session: Session, key: NgsiApiKey | None) -> int:
    return sum(1 for _ in owned(session, key, staff=key is None))


def status(row: NgsiSubscription, now: dt.datetime) -> str:
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active" if row.is_active else "paused"


def as_json(row: NgsiSubscription, ctx: LdContext, now: dt.datetime) -> dict[str, Any]:
    """A subscription as NGSI-LD answers it, named in the request's context."""
    spec = json.loads(row.spec)

    def name(term: str) -> str:
        return ngsi_search.name_in(ctx, term)

    out: dict[str, Any] = {"id": row.id, "type": "Subscription"}
    for key in ("subscriptionName", "description"):
        if key in spec:
            out[key] = spec[key]
    if "entities" in spec:
        out["entities"] = [{**e, "type": name(e["type"])} for e in spec["entities"]]
    if "watchedAttributes" in spec:
        out["watchedAttributes"] = [name(a) for a in spec["watchedAttributes"]]
    if "q" in spec:
        out["q"] = spec["q"]
    if "geoQ" in spec:
        out["geoQ"] = {**spec["geoQ"], "geoproperty": name(spec["geoQ"]["geoproperty"])}
    note = dict(spec["notification"])
    if "attributes" in note:
        note["attributes"] = [name(a) for a in note["attributes"]]
    failing = row.last_failure is not None and (
        row.last_success is None or row.last_failure > row.last_success
    )
    note["status"] = "failed" if failing else "ok"
    note["timesSent"] = row.times_sent
    note["timesFailed"] = row.times_failed
    for key, value in (
        ("lastNotification", row.last_notification),
        ("lastSuccess", row.last_success),
        ("lastFailure", row.last_failure),
    ):
        if value is not None:
            note[key] = time_text(value)
    out["notification"] = note
    out["isActive"] = row.is_active
    if row.expires_at is not None:
        out["expiresAt"] = time_text(row.expires_at)
    if row.throttling_s:
        out["throttling"] = row.throttling_s
    out["status"] = status(row, now)
    if row.context_url:
        out["jsonldContext"] = row.context_url
    return out
