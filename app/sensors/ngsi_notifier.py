"""The worker's side of NGSI-LD subscriptions: notice changes of the twin, queue and send notifications.

Changes are read from the event outbox (``app.events``: every light and
sensor reading publishes one, in the transaction of the change), after each
subscription's own cursor; the entity types that publish no events (groups,
cabinets, the contributed types) are compared in full every
:data:`SCAN_S` seconds, and groups and cabinets also whenever their lights
changed. An entity is notified when it matches the subscription (type, id or
idPattern, ``q``, ``geoQ``) and the digest of its watched attributes (their
values, not their ``observedAt``) differs from the one last notified; the
first look at a subscription records the digests without notifying.

A notification is a row (``ngsi_notifications``) in the same transaction as
the digests and the cursor, then POSTed to the partner's endpoint through the
outbound guard (public addresses only, timeout, capped answer), oldest first
per subscription. A 2xx ends it; a timeout, 408, 429 or 5xx is retried after
:data:`BACKOFF_S` (``Retry-After`` honoured), up to :data:`MAX_ATTEMPTS`; any
other 4xx is given up at once. ``throttling`` spaces a subscription's
notifications (changes wait, none is lost); ``expiresAt`` and ``isActive``
stop the detection. Leases on subscriptions and notifications let several
workers share the work without sending anything twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import ngsi_query as nq
from app import outbound, territories
from app.db import read_session, table_of, utcnow, write_session
from app.models.events import Event
from app.models.ngsi import NgsiNotification, NgsiSubscription, NgsiSubscriptionSeen
from app.models.sensors import Sensor
from app.ngsi import time_text
from app.sensors import ngsi_ld

log = logging.getLogger("eclor.ngsi")

POLL_S: Final = 0.2
SCAN_S: Final = 10.0
LEASE_S: Final = 30.0
EVENTS_PER_LOOK: Final = 5000
MAX_ATTEMPTS: Final = 6
BACKOFF_S: Final = (1.0, 2.0, 5.0, 15.0, 60.0)
TIMEOUT_S: Final = 10.0
SEND_BATCH: Final = 50
_EVENTED = {"Streetlight", *ngsi_ld.KIND_OF_TYPE}
_FROM_LIGHTS = {"StreetlightGroup", "StreetlightControlCabinet"}


# --------------------------------------------------------------------------- matching


def _filters(spec: dict[str, Any]) -> tuple[Any, nq.GeoQuery | None]:
    q = None
    if "q" in spec:
        terms = spec.get("qTerms", {})

        def rename(node: Any) -> Any:
            if isinstance(node, nq.Term):
                path = (terms.get(node.path[0], node.path[0]),) + node.path[1:]
                return nq.Term(path, node.members, node.op, node.value)
            return nq.Bool(node.op, tuple(rename(p) for p in node.parts))

        q = rename(nq.parse_q(spec["q"]))
    geo = None
    if "geoQ" in spec:
        g = spec["geoQ"]
        geo = nq.parse_geo(
            g["georel"], g["geometry"], json.dumps(g["coordinates"]), g["geoproperty"]
        )
    return q, geo


def _infos(spec: dict[str, Any]) -> list[dict[str, str]]:
    return spec.get("entities") or [{"type": t} for t in ngsi_ld.all_types()]


def _matches(entity: dict[str, Any], info: dict[str, str], q: Any, geo: Any) -> bool:
    if "id" in info and entity["id"] != info["id"]:
        return False
    pattern = nq.parse_id_pattern(info.get("idPattern"))
    if pattern is not None and not pattern.search(entity["id"]):
        return False
    if q is not None and not nq.q_matches(entity, q):
        return False
    return geo is None or nq.geo_matches(entity, geo)


def digest(entity: dict[str, Any], watched: list[str] | None) -> str:
    """The digest of the watched attributes' values (all attributes when none is named)."""
    names = watched if watched is not None else sorted(set(entity) - {"id", "type"})
    part = {}
    for name in names:
        value = entity.get(name)
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "observedAt"}
        part[name] = value
    return hashlib.sha1(json.dumps(part, sort_keys=True, default=str).encode()).hexdigest()


def _candidates(
    session: Session, spec: dict[str, Any], touched: dict[str, set[str]] | None, full: set[str]
) -> Iterator[tuple[dict[str, Any], bool]]:
    """(entity, matches) for the entities to look at: the touched ones, and every one of ``full``."""
    q, geo = _filters(spec)
    for info in _infos(spec):
        entity_type = info["type"]
        if entity_type not in ngsi_ld.all_types():
            continue
        local: list[str] | None
        if touched is None or entity_type in full:
            local = None
        elif entity_type in touched:
            local = sorted(touched[entity_type])
        else:
            continue
        if "id" in info:
            wanted = info["id"].rsplit(":", 1)[-1]
            if local is not None and wanted not in local:
                continue
            local = [wanted]
        for entity in ngsi_ld.entities_of(session, entity_type, local):
            yield entity, _matches(entity, info, q, geo)


# --------------------------------------------------------------------------- detecting


def _touched(session: Session, after: int) -> tuple[dict[str, set[str]], int]:
    # The newest id first: events are read up to it only, so one committed while reading is
    # left for the next look, never skipped (ids grow in commit order, app.events).
    top = int(session.scalar(sa.select(sa.func.max(col(Event.id)))) or 0)
    rows = session.execute(
        sa.select(col(Event.id), col(Event.layer), col(Event.feature_id))
        .where(
            col(Event.id) > after,
            col(Event.id) <= top,
            col(Event.layer).in_(("lights", "sensors")),
        )
        .order_by(col(Event.id))
        .limit(EVENTS_PER_LOOK)
    ).all()
    touched: dict[str, set[str]] = {}
    sensors: set[str] = set()
    for row in rows:
        if row.layer == "lights":
            touched.setdefault("Streetlight", set()).add(row.feature_id)
        else:
            sensors.add(row.feature_id)
    # Every event up to ``top`` was looked at, unless the page was full.
    last = rows[-1].id if len(rows) == EVENTS_PER_LOOK else max(top, after)
    if sensors:
        for sensor_id, kind in session.execute(
            sa.select(col(Sensor.id), col(Sensor.kind)).where(col(Sensor.id).in_(sensors))
        ):
            entity_type = ngsi_ld.SENSOR_TYPES.get(kind)
            if entity_type:
                touched.setdefault(entity_type, set()).add(sensor_id)
    return touched, last


def _notification(
    row: NgsiSubscription, spec: dict[str, Any], entities: list[dict[str, Any]], now: dt.datetime
) -> dict[str, Any]:
    note = spec["notification"]
    names: dict[str, str] = spec.get("names", {})
    data = []
    for entity in entities:
        if "attributes" in note:
            entity = {
                k: v for k, v in entity.items() if k in ("id", "type") or k in note["attributes"]
            }
        if note.get("format") == "keyValues":
            entity = ngsi_ld.simplified(entity)
        out: dict[str, Any] = {}
        for key, value in entity.items():
            if key == "type":
                out[key] = names.get(value, value)
            else:
                out[names.get(key, key)] = value
        data.append(out)
    return {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": row.id,
        "notifiedAt": time_text(now),
        "data": data,
    }


def _look(session: Session, row: NgsiSubscription, now: dt.datetime) -> int:
    """Look at one subscription's changes; the notifications queued (0 or 1)."""
    spec = json.loads(row.spec)
    watched = spec.get("watchedAttributes")
    seen_table = table_of(NgsiSubscriptionSeen)
    types = {info["type"] for info in _infos(spec)}
    if row.event_cursor is None:  # first look: what is there now is the baseline
        latest = int(session.scalar(sa.select(sa.func.max(col(Event.id)))) or 0)
        rows = [
            {"subscription_id": row.id, "entity_id": e["id"], "digest": digest(e, watched)}
            for e, ok in _candidates(session, spec, None, set())
            if ok
        ]
        session.exec(seen_table.delete().where(seen_table.c.subscription_id == row.id))
        if rows:
            session.exec(seen_table.insert(), params=rows)
        row.event_cursor, row.scanned_at = latest, now
        return 0
    touched, cursor = _touched(session, row.event_cursor)
    full = set()
    if row.scanned_at is None or (now - row.scanned_at).total_seconds() >= SCAN_S:
        full = types - _EVENTED
    if "Streetlight" in touched:
        full |= types & _FROM_LIGHTS
    if not touched and not full:
        row.event_cursor = cursor
        return 0
    seen = dict(
        session.execute(
            sa.select(seen_table.c.entity_id, seen_table.c.digest).where(
                seen_table.c.subscription_id == row.id
            )
        ).all()
    )
    changed: list[dict[str, Any]] = []
    digests: dict[str, str] = {}
    gone: list[str] = []
    for entity, ok in _candidates(session, spec, touched, full):
        if not ok:
            if entity["id"] in seen:
                gone.append(entity["id"])
            continue
        value = digest(entity, watched)
        if seen.get(entity["id"]) != value and entity["id"] not in digests:
            changed.append(entity)
            digests[entity["id"]] = value
    if changed and row.throttling_s:
        last = session.scalar(
            sa.select(sa.func.max(col(NgsiNotification.created_at))).where(
                col(NgsiNotification.subscription_id) == row.id
            )
        )
        if last is not None and (now - last).total_seconds() < row.throttling_s:
            return 0  # throttled: the same changes are looked at again later, none is lost
    if gone:
        session.exec(
            seen_table.delete().where(
                seen_table.c.subscription_id == row.id, seen_table.c.entity_id.in_(gone)
            )
        )
    if digests:
        session.exec(
            seen_table.delete().where(
                seen_table.c.subscription_id == row.id,
                seen_table.c.entity_id.in_(list(digests)),
            )
        )
        session.exec(
            seen_table.insert(),
            params=[
                {"subscription_id": row.id, "entity_id": k, "digest": v} for k, v in digests.items()
            ],
        )
    row.event_cursor = cursor
    if full:
        row.scanned_at = now
    if not changed:
        return 0
    body = _notification(row, spec, changed, now)
    session.add(
        NgsiNotification(
            subscription_id=row.id,
            body=json.dumps(body, ensure_ascii=False),
            created_at=now,
            next_attempt_at=now,
        )
    )
    return 1


def _lease(session: Session, model: Any, row_id: Any, worker: str, now: dt.datetime) -> bool:
    table = table_of(model)
    free = sa.or_(
        table.c.lease_until.is_(None), table.c.lease_until < now, table.c.lease_by == worker
    )
    taken = session.exec(
        table.update()
        .where(table.c.id == row_id, free)
        .values(lease_by=worker, lease_until=now + dt.timedelta(seconds=LEASE_S))
    )
    return bool(taken.rowcount)


def detect(engine: Engine, worker: str, now: dt.datetime | None = None) -> int:
    """One look at every active subscription; how many notifications were queued."""
    now = now or utcnow()
    with read_session(engine) as session:
        directory = territories.read(session)
        by_id = {t.id: t for t in directory.by_slug.values()}
        ids = list(
            session.scalars(
                select(NgsiSubscription.id).where(
                    col(NgsiSubscription.is_active).is_(True),
                    sa.or_(
                        col(NgsiSubscription.expires_at).is_(None),
                        col(NgsiSubscription.expires_at) > now,
                    ),
                )
            )
        )
    queued = 0
    for sub_id in ids:
        with write_session(engine) as session:
            if not _lease(session, NgsiSubscription, sub_id, worker, now):
                continue
            row = session.get(NgsiSubscription, sub_id)
            if row is None:
                continue
            # It sees the entities of the territory it was made on only (app.ngsi.territory_of).
            territories.bind(session, by_id.get(row.territory_id or 0, directory.default))
            try:
                queued += _look(session, row, now)
            except Exception:  # one broken subscription never stops the others
                log.exception("subscription look failed", extra={"subscription": sub_id})
                row.lease_until = now + dt.timedelta(seconds=SCAN_S)
                continue
            row.lease_until = None
    return queued


# --------------------------------------------------------------------------- sending


def claim_due(engine: Engine, worker: str, now: dt.datetime) -> list[tuple[int, str, str]]:
    """The oldest pending notification of each subscription, when it is due: (id, body, spec)."""
    out: list[tuple[int, str, str]] = []
    with write_session(engine) as session:
        pending = session.execute(
            sa.select(
                col(NgsiNotification.id),
                col(NgsiNotification.subscription_id),
                col(NgsiNotification.next_attempt_at),
                col(NgsiNotification.body),
                col(NgsiSubscription.spec),
            )
            .join(NgsiSubscription, col(NgsiSubscription.id) == NgsiNotification.subscription_id)
            .where(col(NgsiNotification.done).is_(False))
            .order_by(col(NgsiNotification.id))
            .limit(SEND_BATCH * 4)
        ).all()
        first: set[str] = set()
        for row in pending:
            if row.subscription_id in first:
                continue
            first.add(row.subscription_id)
            if row.next_attempt_at > now:
                continue
            if _lease(session, NgsiNotification, row.id, worker, now):
                out.append((row.id, row.body, row.spec))
            if len(out) >= SEND_BATCH:
                break
    return out


def record(
    engine: Engine, notification_id: int, ok: bool, error: str, retry_after: float | None
) -> None:
    now = utcnow()
    with write_session(engine) as session:
        note = session.get(NgsiNotification, notification_id)
        if note is None:
            return
        row = session.get(NgsiSubscription, note.subscription_id)
        note.attempts += 1
        note.lease_by = note.lease_until = None
        if row is not None:
            row.times_sent += 1
            row.last_notification = now
        if ok:
            note.done, note.sent_at, note.error = True, now, ""
            if row is not None:
                row.last_success = now
            return
        note.error = error[:300]
        if row is not None:
            row.times_failed += 1
            row.last_failure = now
        if retry_after is None or note.attempts >= MAX_ATTEMPTS:
            note.done = True  # given up
            return
        delay = max(retry_after, BACKOFF_S[min(note.attempts, len(BACKOFF_S)) - 1])
        note.next_attempt_at = now + dt.timedelta(seconds=min(delay, 300.0))


def _headers(spec: dict[str, Any], base_url: str) -> dict[str, str]:
    endpoint = spec["notification"]["endpoint"]
    accept = endpoint["accept"]
    headers = {i["key"]: i["value"] for i in endpoint.get("receiverInfo", [])}
    headers["content-type"] = accept
    if accept != "application/ld+json":
        context = spec.get("context") or base_url.rstrip("/") + ngsi_ld.CONTEXT_PATH
        headers["link"] = (
            f'<{context}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        )
    return headers


def payload(body_text: str, spec: dict[str, Any], base_url: str) -> bytes:
    """The bytes posted: the notification, with ``@context`` for JSON-LD, as features for GeoJSON."""
    body = json.loads(body_text)
    accept = spec["notification"]["endpoint"]["accept"]
    if accept == "application/ld+json":
        body["@context"] = spec.get("context") or base_url.rstrip("/") + ngsi_ld.CONTEXT_PATH
    elif accept == "application/geo+json":
        geoproperty = spec.get("geoQ", {}).get("geoproperty", "location")
        features = []
        for entity in body["data"]:
            place = entity.get(geoproperty)
            geometry = place.get("value") if isinstance(place, dict) and "type" in place else place
            properties = {k: v for k, v in entity.items() if k != "id"}
            features.append(
                {
                    "id": entity["id"],
                    "type": "Feature",
                    "geometry": geometry,
                    "properties": properties,
                }
            )
        body["data"] = {"type": "FeatureCollection", "features": features}
    return json.dumps(body, ensure_ascii=False).encode()


async def _post(
    http: aiohttp.ClientSession, uri: str, data: bytes, headers: dict[str, str]
) -> tuple[bool, str, float | None]:
    """(delivered, error, retry after seconds — None when not to be retried)."""
    try:
        async with http.post(uri, data=data, headers=headers, allow_redirects=False) as answer:
            await outbound.read_capped(answer, 4096)
            if 200 <= answer.status < 300:
                return True, "", None
            error = f"HTTP {answer.status}"
            if answer.status in (408, 429) or answer.status >= 500:
                retry = answer.headers.get("retry-after", "")
                return False, error, float(retry) if retry.isdigit() else 0.0
            return False, error, None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return False, f"{type(exc).__name__}: {exc}", 0.0


async def send_due(engine: Engine, worker: str, settings: Any, http: aiohttp.ClientSession) -> int:
    """Send the notifications that are due; how many were attempted."""
    due = await asyncio.to_thread(claim_due, engine, worker, utcnow())

    async def one(notification_id: int, body: str, spec_text: str) -> None:
        spec = json.loads(spec_text)
        uri = spec["notification"]["endpoint"]["uri"]
        try:
            host = urlsplit(uri).hostname or ""
            outbound.check_host(host, allow_loopback=settings.outbound_allows_loopback)
        except (outbound.NotPublic, ValueError) as exc:
            await asyncio.to_thread(record, engine, notification_id, False, str(exc), None)
            return
        data = payload(body, spec, settings.base_url)
        ok, error, retry = await _post(http, uri, data, _headers(spec, settings.base_url))
        if not ok:
            log.info("notification not delivered", extra={"uri": uri[:200], "error": error})
        await asyncio.to_thread(record, engine, notification_id, ok, error, retry)

    await asyncio.gather(*(one(*item) for item in due))
    return len(due)


async def notifier_service(rt: Any) -> None:
    """The worker's loop: look for changes, send what is due, every :data:`POLL_S` seconds."""
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    connector = outbound.connector(allow_loopback=rt.settings.outbound_allows_loopback, limit=20)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        while not rt.stop.is_set():
            await asyncio.to_thread(detect, rt.engine, rt.worker_id)
            await send_due(rt.engine, rt.worker_id, rt.settings, http)
            try:
                await asyncio.wait_for(rt.stop.wait(), timeout=POLL_S)
            except TimeoutError:
                pass
