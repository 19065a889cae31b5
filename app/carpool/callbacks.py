"""Operators hear of the changes Eclor members make to the bookings they made.

The standard-covoiturage API says that the platform which sent a booking
"MUST also store the Booking object, and be ready to receive modifications of
it through the PATCH /bookings API endpoint" (``patchBookings``:
``PATCH /bookings/{bookingId}?status=...``). When an Eclor member accepts,
declines or cancels a booking an operator made (or withdraws the ad, blocks
the person, erases their account), :func:`tell_operator` writes a
``carpool.operator_callback`` job in the same transaction; the worker sends
``PATCH {callback_url}/bookings/{bookingId}?status=CONFIRMED|CANCELLED`` with
the operator's token (``eclor carpool operator callback NAME URL``), through
``app.outbound`` (public addresses only).

The status sent is the booking's own when the request leaves (a confirmation
retried after a cancellation sends ``CANCELLED``). Answers: 2xx, and 409
(``status_already_set``), end the job; 400 and 404 (the operator will not
take it) end it with a warning in the log; anything else (401, 429, 5xx, no
answer) is retried with backoff, :data:`ATTEMPTS` tries (about 16 hours).
Changes the operator itself made through ``PATCH /api/carpool/bookings`` are
not sent back to it.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlencode

from sqlmodel import Session

from app.db import read_session
from app.jobs import JobContext, enqueue
from app.models.carpool import CarpoolBooking
from app.models.carpool_interop import CarpoolOperator

log = logging.getLogger("eclor.carpool.callbacks")

ATTEMPTS = 20
STATUS = {
    "pending": "WAITING_CONFIRMATION",
    "accepted": "CONFIRMED",
    "declined": "CANCELLED",
    "cancelled": "CANCELLED",
}
"""Eclor's booking states as the standard's ``bookingStatus``."""


class OperatorRefused(Exception):
    """The operator's answer asks for another try (retried by the queue)."""


def tell_operator(session: Session, booking: CarpoolBooking) -> None:
    """Queue the callback of a booking an operator made (nothing for a resident's booking)."""
    if booking.operator_id is None or not booking.external_id or booking.id is None:
        return
    status = STATUS.get(booking.status, "WAITING_CONFIRMATION")
    enqueue(
        session,
        "carpool.operator_callback",
        {
            "booking_id": booking.id,
            "operator_id": booking.operator_id,
            "external_id": booking.external_id,
            "status": status,
        },
        max_attempts=ATTEMPTS,
        dedupe_key=f"carpool-callback:{booking.id}:{booking.status}",
    )


def callback_request(
    session: Session, payload: dict[str, Any]
) -> tuple[str, dict[str, str]] | None:
    """The URL and headers of a callback, or None when the operator takes none (or is revoked)."""
    operator = session.get(CarpoolOperator, int(payload["operator_id"]))
    if operator is None or operator.revoked_at is not None or not operator.callback_url:
        return None
    booking = session.get(CarpoolBooking, int(payload["booking_id"]))
    status = str(payload["status"])
    if booking is not None and booking.external_id == payload["external_id"]:
        status = STATUS.get(booking.status, status)  # the state now, not when it was queued
    url = (
        f"{operator.callback_url.rstrip('/')}/bookings/{quote(str(payload['external_id']))}"
        f"?{urlencode({'status': status})}"
    )
    headers = {"accept": "application/json"}
    if operator.callback_token:
        headers["authorization"] = f"Bearer {operator.callback_token}"
    return url, headers


async def send_callback(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The ``carpool.operator_callback`` job."""
    import anyio

    from app import outbound

    def prepare() -> tuple[str, dict[str, str]] | None:
        with read_session(ctx.engine) as session:
            return callback_request(session, payload)

    found = await anyio.to_thread.run_sync(prepare)
    if found is None:
        return
    url, headers = found
    status, answer = await outbound.send(
        "PATCH", url, headers=headers, allow_loopback=ctx.settings.outbound_allows_loopback
    )
    text = answer[:300].decode("utf-8", "replace")
    if 200 <= status < 300 or status == 409:
        return
    if status in (400, 404):
        log.warning(
            "carpool operator refused a booking change",
            extra={"booking_id": payload["booking_id"], "status": status, "answer": text},
        )
        return
    raise OperatorRefused(f"operator answered {status}: {text}")
