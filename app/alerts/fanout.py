"""Alert fan-out: one delivery per matching subscription, sent in batches through Web Push.

The worker runs the ``push.alert`` job (:func:`deliver`): it plans one
``push_deliveries`` row per matching subscription, then sends them in batches
through :class:`app.push.PushSender` (one pooled client, bounded concurrency,
TTL, Urgency and Topic on every message).

Personal notifications (``app.notify.notify``) reach the person's devices
through the ``push`` channel (``app.alerts.subscriptions.push_channel``): it queues a ``push.user`` job
that goes through the same delivery code.

Exactly what a subscription gets, also across crashes (delivered once, or reported):

1. A batch of due rows is marked ``sending`` and committed *before* any of
   its POSTs (the next batch is claimed when the sender needs more).
2. The answers are recorded a batch at a time, in one transaction each.
3. A run that starts and finds ``sending`` rows knows their worker died
   between 1 and 2 (a job is held by one worker at a time; the lease is
   checked before every batch, so a worker that lost its job stops): the
   push service may or may not have received them, so they are sent again
   (``retry``). Every message carries a ``Topic`` (the alert's thread, or one
   drawn from the message key), so a second copy replaces the first at the
   push service and the notification's ``tag`` replaces it on the device:
   nothing is lost and nothing shows twice. A row whose tries are used up
   ends ``unknown`` (reported in the delivery counts). The window is at most
   two batches per crash (``2 × FANOUT_BATCH`` rows).

Answers: 201 → ``delivered``; 404/410 → ``gone`` and that subscription is
deleted (only that one); 413 → ``too_large``, not retried; 429 → ``retry``
after ``Retry-After``; 5xx or network error → ``retry`` with backoff (at most
``MAX_TRIES`` tries, then ``failed``); other 4xx → ``rejected`` and logged.
Low and normal urgency messages wait (``held``) while the subscriber is in
quiet hours; ``high`` goes through. The job re-queues itself (``RetryLater``)
for held and retried rows.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Integer, delete, exists, func, insert, literal, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app import push as webpush
from app.alerts import cap_areas, preferences
from app.alerts.cap import PUSH_URGENCIES, PushUrgency
from app.alerts.publish import alert_payload, ttl_for
from app.pwa import NOTIFICATION_ICON
from app.alerts.subscriptions import vapid_private_key
from app.alerts.topics import (
    BODY_MAX,
    DUE,
    FANOUT_BATCH,
    FANOUT_CONCURRENCY,
    LATEST_ONLY_TOPICS,
    MAX_TRIES,
    RETRY_BASE_S,
    TITLE_MAX,
    log,
    quiet_until,
    unpack,
)
from app.db import table_of, utcnow, write_session
from app.jobs import JobContext, RetryLater
from app.models.push import (
    Alert,
    PushDelivery,
    PushSubscription,
)
from app.territories import zones

# --- who gets a message -------------------------------------------------------------------------


def _matching(alert: Alert) -> Any:
    """SELECT of the subscription ids an alert's territory, topic and communes reach."""
    conditions: list[ColumnElement[bool]] = [
        col(PushSubscription.territory_id) == alert.territory_id,
        col(PushSubscription.topics).like(f"%,{alert.topic},%"),
    ]
    communes = unpack(alert.communes)
    if communes:
        conditions.append(
            or_(
                col(PushSubscription.communes) == ",",
                *[col(PushSubscription.communes).like(f"%,{c},%") for c in communes],
            )
        )
    return select(col(PushSubscription.id)).where(*conditions)


def _got_thread(alert: Alert) -> Any:
    """SELECT of the subscription ids that got (or may have got) an earlier message of the chain."""
    earlier = select(col(Alert.id)).where(
        col(Alert.thread_id) == alert.thread_id, col(Alert.id) != alert.id
    )
    return select(col(PushDelivery.subscription_id)).where(
        col(PushDelivery.alert_id).in_(earlier.scalar_subquery()),
        col(PushDelivery.status).in_(("delivered", "unknown", "sending")),
        col(PushDelivery.subscription_id).is_not(None),
    )


def _plan(session: Session, key: str, targets: Any, alert_id: int | None) -> int:
    """Insert one pending delivery per target subscription not planned yet for ``key``."""
    ids = targets.subquery()
    already = exists().where(
        col(PushDelivery.message_key) == key, col(PushDelivery.subscription_id) == ids.c[0]
    )
    now = utcnow()
    when = table_of(PushDelivery).c.next_at.type
    query = (
        sa.select(
            literal(key),
            literal(alert_id, type_=Integer()),
            ids.c[0],
            literal("pending"),
            literal(0),
            literal(now, type_=when),
            literal(""),
            literal(now, type_=when),
        )
        .where(~already)
        .distinct()
    )
    result = session.exec(
        insert(PushDelivery).from_select(
            [
                "message_key",
                "alert_id",
                "subscription_id",
                "status",
                "attempts",
                "next_at",
                "detail",
                "created_at",
            ],
            query,
        )
    )
    return int(result.rowcount or 0)


# --- delivery -----------------------------------------------------------------------------------


def push_urgency(value: object) -> PushUrgency:
    """The Web Push urgency ``value`` names ("normal" for anything else)."""
    return next((u for u in PUSH_URGENCIES if u == value), "normal")


@dataclass(frozen=True)
class Outgoing:
    """One message to fan out: its key in ``push_deliveries`` and how to send it."""

    key: str
    payload: dict[str, Any]
    ttl_s: int
    urgency: PushUrgency
    topic: str | None
    expires_at: datetime | None
    alert_id: int | None = None


@dataclass
class _Due:
    delivery_id: int
    subscription_id: int
    attempts: int
    endpoint: str
    p256dh: str
    auth: str


def message_topic(key: str) -> str:
    """The Web Push ``Topic`` of a message without one of its own: 32 base64url characters."""
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()).decode()[:32]


def _recover(engine: Engine, key: str) -> int:
    """Rows left ``sending`` (or ``unknown``) by a worker that died: sent again under their
    Topic while tries remain (the push service and the device replace a copy), else ``unknown``."""
    stopped = "worker stopped before the answer was recorded"
    left = (
        col(PushDelivery.message_key) == key,
        col(PushDelivery.status).in_(("sending", "unknown")),
    )
    with write_session(engine) as session:
        now = utcnow()
        n = session.exec(
            update(PushDelivery)
            .where(*left, col(PushDelivery.attempts) < MAX_TRIES)
            .values(status="retry", next_at=now, finished_at=None, detail=f"{stopped}: sent again")
        ).rowcount
        session.execute(
            update(PushDelivery)
            .where(*left, col(PushDelivery.finished_at).is_(None))
            .values(status="unknown", finished_at=now, detail=stopped)
        )
        session.execute(
            update(PushDelivery)
            .where(
                col(PushDelivery.message_key) == key,
                col(PushDelivery.status).in_(DUE),
                col(PushDelivery.subscription_id).is_(None),
            )
            .values(status="gone", finished_at=now, detail="subscription deleted")
        )
    if n:
        log.warning(
            "push deliveries of a dead worker sent again under their Topic",
            extra={"key": key, "count": n},
        )
    return int(n or 0)


def _claim(engine: Engine, out: Outgoing, limit: int) -> list[_Due] | None:
    """Mark up to ``limit`` due rows ``sending`` (or ``held``) and commit; None when nothing is due."""
    with write_session(engine) as session:
        now = utcnow()
        if out.expires_at is not None and now >= out.expires_at:
            session.execute(
                update(PushDelivery)
                .where(col(PushDelivery.message_key) == out.key, col(PushDelivery.status).in_(DUE))
                .values(status="expired", finished_at=now)
            )
            return None
        rows = session.execute(
            sa.select(
                col(PushDelivery.id),
                col(PushDelivery.subscription_id),
                col(PushDelivery.attempts),
                col(PushSubscription.endpoint),
                col(PushSubscription.p256dh),
                col(PushSubscription.auth),
                col(PushSubscription.quiet_start),
                col(PushSubscription.quiet_end),
                col(PushSubscription.territory_id),
            )
            .join(PushSubscription, col(PushSubscription.id) == col(PushDelivery.subscription_id))
            .where(
                col(PushDelivery.message_key) == out.key,
                col(PushDelivery.status).in_(DUE),
                col(PushDelivery.next_at) <= now,
            )
            .limit(limit)  # no ORDER BY: the index gives due rows without sorting every pending one
        ).all()
        if not rows:
            return None
        due: list[_Due] = []
        held: dict[datetime, list[int]] = {}
        zone_of = zones(session).of  # quiet hours on the clock of each subscription's territory
        for row in rows:
            until = (
                None
                if out.urgency == "high"
                else quiet_until(now, row.quiet_start, row.quiet_end, zone_of(row.territory_id))
            )
            if until is not None:
                held.setdefault(until, []).append(row.id)
            else:
                due.append(
                    _Due(
                        row.id,
                        row.subscription_id,
                        row.attempts + 1,
                        row.endpoint,
                        row.p256dh,
                        row.auth,
                    )
                )
        for until, ids in held.items():
            session.execute(
                update(PushDelivery)
                .where(col(PushDelivery.id).in_(ids))
                .values(status="held", next_at=until)
            )
        if due:
            session.execute(
                update(PushDelivery)
                .where(col(PushDelivery.id).in_([d.delivery_id for d in due]))
                .values(status="sending", attempts=col(PushDelivery.attempts) + 1, sent_at=now)
            )
        return due


def _record(engine: Engine, results: list[tuple[_Due, webpush.PushOutcome]]) -> None:
    """Write every answer of a batch in one transaction."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    gone: list[int] = []
    ok: list[int] = []
    failing: list[int] = []
    for due, outcome in results:
        kind = outcome.kind
        values: dict[str, Any] = {
            "id": due.delivery_id,
            "http_status": outcome.status,
            "detail": (outcome.detail or "")[:200],
            "finished_at": now,
        }
        if kind is webpush.Outcome.DELIVERED:
            values["status"] = "delivered"
            ok.append(due.subscription_id)
        elif kind is webpush.Outcome.GONE:
            values["status"] = "gone"
            gone.append(due.subscription_id)
        elif kind is webpush.Outcome.TOO_LARGE:
            values["status"] = "too_large"
        elif kind is webpush.Outcome.REJECTED:
            values["status"] = "rejected"
            failing.append(due.subscription_id)
        elif due.attempts >= MAX_TRIES:
            values["status"] = "failed"
            failing.append(due.subscription_id)
        else:
            delay = webpush.retry_delay(outcome, due.attempts - 1, base=RETRY_BASE_S)
            values.update(
                status="retry", finished_at=None, next_at=now + timedelta(seconds=max(0.0, delay))
            )
            failing.append(due.subscription_id)
        rows.append(values)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for values in rows:
        key = tuple(sorted((k, v) for k, v in values.items() if k != "id"))
        groups.setdefault(key, []).append(values["id"])
    with write_session(engine) as session:
        for (
            key,
            ids,
        ) in groups.items():  # one UPDATE per kind of answer (most of a batch: "delivered")
            session.execute(
                update(PushDelivery).where(col(PushDelivery.id).in_(ids)).values(dict(key))
            )
        if ok:
            session.execute(
                update(PushSubscription)
                .where(col(PushSubscription.id).in_(ok))
                .values(last_success_at=now)
            )
        if failing:
            session.execute(
                update(PushSubscription)
                .where(col(PushSubscription.id).in_(failing))
                .values(last_failure_at=now)
            )
        if gone:
            session.execute(delete(PushSubscription).where(col(PushSubscription.id).in_(gone)))
    if gone:
        log.info("push subscriptions gone and deleted", extra={"count": len(gone)})


def _refuse_all(engine: Engine, key: str, status: str, detail: str) -> None:
    with write_session(engine) as session:
        session.execute(
            update(PushDelivery)
            .where(col(PushDelivery.message_key) == key, col(PushDelivery.status).in_(DUE))
            .values(status=status, detail=detail[:200], finished_at=utcnow())
        )


def _next_due(engine: Engine, key: str) -> datetime | None:
    with Session(engine) as session:
        return session.scalar(
            select(func.min(col(PushDelivery.next_at))).where(
                col(PushDelivery.message_key) == key, col(PushDelivery.status).in_(DUE)
            )
        )


def _sender(settings: Any) -> webpush.PushSender:
    private = vapid_private_key(settings)
    if not private:
        raise RuntimeError("no VAPID key: run `eclor vapid` or set ECLOR_VAPID_PRIVATE_KEY")
    return webpush.PushSender(
        private,
        settings.vapid_subject,
        max_in_flight=FANOUT_CONCURRENCY,
        allow_loopback=settings.outbound_allows_loopback,
    )


async def send_outgoing(ctx: JobContext, out: Outgoing, *, batch: int = FANOUT_BATCH) -> None:
    """Send ``out`` to every planned delivery row that is due; re-queue the job for the rest.

    One pipeline: rows are claimed (marked ``sending``) a batch at a time as
    the sender asks for more subscriptions, so claiming, sending and
    recording overlap; answers are written a batch at a time.
    """
    engine = ctx.engine
    await asyncio.to_thread(_recover, engine, out.key)
    try:
        webpush.encode_payload(out.payload)
    except webpush.PayloadTooLarge as exc:
        log.error("push message refused before sending", extra={"key": out.key, "bytes": exc.size})
        await asyncio.to_thread(_refuse_all, engine, out.key, "too_large", str(exc))
        return
    first = await asyncio.to_thread(_next_due, engine, out.key)
    if first is not None and first <= utcnow():
        await _pipeline(ctx, out, batch)
    next_at = await asyncio.to_thread(_next_due, engine, out.key)
    if next_at is not None:
        delay = max(0.5, (next_at - utcnow()).total_seconds())
        raise RetryLater(delay, f"push {out.key}: deliveries waiting (quiet hours or retry)")


async def _pipeline(ctx: JobContext, out: Outgoing, batch: int) -> None:
    engine = ctx.engine
    allow_loopback = ctx.settings.outbound_allows_loopback
    by_endpoint: dict[str, _Due] = {}
    answers: list[tuple[_Due, webpush.PushOutcome]] = []

    async def due_subscriptions() -> Any:
        while True:
            if not await asyncio.to_thread(ctx.extend_lease):
                log.warning("fan-out stopped: another worker holds the job", extra={"key": out.key})
                return
            due = await asyncio.to_thread(_claim, engine, out, batch)
            if due is None:
                return
            for item in due:
                try:
                    info = webpush.PushSubscriptionInfo(
                        item.endpoint, item.p256dh, item.auth, allow_loopback
                    )
                except webpush.InvalidSubscription as exc:
                    answers.append(
                        (item, webpush.PushOutcome(webpush.Outcome.REJECTED, None, detail=str(exc)))
                    )
                    continue
                by_endpoint[info.endpoint] = item
                yield info

    async with _sender(ctx.settings) as sender:
        async for result in sender.iter_send(
            due_subscriptions(),
            out.payload,
            ttl=out.ttl_s,
            urgency=out.urgency,
            topic=out.topic or message_topic(out.key),
        ):
            answers.append((by_endpoint.pop(result.subscription.endpoint), result.outcome))
            if len(answers) >= batch:
                chunk = answers[:]
                answers.clear()
                await asyncio.to_thread(_record, engine, chunk)
    if answers:
        await asyncio.to_thread(_record, engine, answers)


def _alert_outgoing(engine: Engine, alert_id: int) -> tuple[Outgoing, bool] | None:
    """Plan the deliveries of an alert (once) and describe the message; None if nothing to send."""
    with write_session(engine) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            return None
        key = f"alert:{alert.id}"
        if alert.msg_type == "Cancel":
            targets = _got_thread(alert)
        elif alert.msg_type == "Update":
            targets = _matching(alert).union(_got_thread(alert))
        else:
            targets = _matching(alert)
        if alert.fanout_done_at is None and alert.state in ("active", "cancelled"):
            _plan(session, key, targets, alert.id)
        topic = f"alert-{alert.thread_id}" if alert.topic not in LATEST_ONLY_TOPICS else alert.topic
        out = Outgoing(
            key=key,
            payload=alert_payload(alert),
            ttl_s=alert.ttl_s,
            urgency=push_urgency(alert.push_urgency),
            topic=topic,
            expires_at=alert.expires_at,
            alert_id=alert.id,
        )
        return out, alert.fanout_done_at is not None


def _finish_alert(engine: Engine, alert_id: int) -> None:
    with write_session(engine) as session:
        session.execute(
            update(Alert)
            .where(col(Alert.id) == alert_id, col(Alert.fanout_done_at).is_(None))
            .values(fanout_done_at=utcnow())
        )


def _email_alert(ctx: JobContext, alert_id: int) -> None:
    """The e-mail channel of an alert (immediate or digest), for the accounts that chose it."""
    with write_session(ctx.engine) as session:
        alert = session.get(Alert, alert_id)
        if (
            alert is not None
            and alert.fanout_done_at is None
            and alert.state in ("active", "cancelled")
        ):
            preferences.email_alert(session, alert, ctx.settings.base_url)


async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Fan an alert out to its subscriptions (the ``push.alert`` job)."""
    planned = await asyncio.to_thread(_alert_outgoing, ctx.engine, int(payload["alert_id"]))
    if planned is None:
        return
    out, _done = planned
    await asyncio.to_thread(_email_alert, ctx, int(payload["alert_id"]))
    await send_outgoing(ctx, out)
    await asyncio.to_thread(_finish_alert, ctx.engine, int(payload["alert_id"]))


async def deliver_personal(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send a personal notification to the person's devices that chose its topic (``push.user``), or
    to all of them when the choice was made elsewhere (``any_device``: a staff member's alarms)."""
    key = f"user:{ctx.job.id}"
    user_id = int(payload["user_id"])
    topic = str(payload["topic"])

    def plan() -> None:
        with write_session(ctx.engine) as session:
            chose = (
                []
                if payload.get("any_device")
                else [col(PushSubscription.topics).like(f"%,{topic},%")]
            )
            targets = select(col(PushSubscription.id)).where(
                col(PushSubscription.user_id) == user_id, *chose
            )
            _plan(session, key, targets, None)

    await asyncio.to_thread(plan)
    now = utcnow()
    ttl = max(cap_areas.MIN_TTL, min(cap_areas.MAX_TTL, int(payload.get("ttl_s", 86_400))))
    body = str(payload.get("body", ""))
    if len(body) > BODY_MAX:
        body = body[: BODY_MAX - 1] + "…"
    message = {
        "title": str(payload.get("title", "Eclor"))[: TITLE_MAX * 2],
        "body": body,
        "url": str(payload.get("url", "/")),
        "tag": f"{topic}-{ctx.job.id}",
        "urgency": payload.get("urgency", "normal"),
        "icon": NOTIFICATION_ICON,
        "lang": "fr",
    }
    urgency = push_urgency(payload.get("urgency", "normal"))
    queued_at = datetime.fromisoformat(payload["queued_at"]) if payload.get("queued_at") else now
    expires_at = queued_at + timedelta(seconds=ttl)
    out = Outgoing(
        key=key,
        payload=message,
        ttl_s=ttl_for(expires_at, now),
        urgency=urgency,
        topic=None,
        expires_at=expires_at,
    )
    await send_outgoing(ctx, out)


def delivery_counts(session: Session, alert_id: int) -> dict[str, int]:
    rows = session.execute(
        select(col(PushDelivery.status), func.count())
        .where(col(PushDelivery.alert_id) == alert_id)
        .group_by(col(PushDelivery.status))
    ).all()
    return {status: n for status, n in rows}
