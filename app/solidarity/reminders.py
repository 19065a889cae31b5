"""Reminders of tomorrow's trips: the social worker's phone-call list, and an SMS for each trip
through the territory's gateway when one is set (``ECLOR_SOLIDARITY_SMS_URL``). The SMS are jobs
the worker sends, outside any write transaction, through ``app.outbound`` (public addresses only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from app import outbound
from app.db import read_session, utcnow, write_session
from app.i18n import gettext as _
from app.jobs import JobContext, RetryLater, enqueue
from app.models.accounts import User
from app.models.solidarity import Beneficiary, Booking, Trip, Volunteer
from app.solidarity.schedule import local_at
from app.solidarity.scope import where_here
from app.territories import commune_zone

JOB = "solidarity.sms"
SMS_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Call:
    trip: Trip
    booking: Booking
    person: Beneficiary
    driver: str  # the driver's name, "" when nobody accepted yet
    at: str  # local time "09:30"


def calls(session: Session, commune_insee: str, day: date) -> list[Call]:
    """The trips of ``day`` for the commune's beneficiaries, by time (cancelled ones aside), of
    the session's territory only. ``day`` and the times are the commune's territory's."""
    zone = commune_zone(session, commune_insee)
    rows = session.execute(
        select(Trip, Booking, Beneficiary, User)
        .join(Booking, col(Booking.id) == col(Trip.booking_id))
        .join(Beneficiary, col(Beneficiary.id) == col(Booking.beneficiary_id))
        .outerjoin(Volunteer, col(Volunteer.id) == col(Trip.driver_id))
        .outerjoin(User, col(User.id) == col(Volunteer.user_id))
        .where(
            col(Booking.commune_insee) == commune_insee,
            *where_here(Booking, session),
            col(Trip.status) != "cancelled",
            col(Trip.pickup_at) >= local_at(day, 0, zone),
            col(Trip.pickup_at) < local_at(day + timedelta(days=1), 0, zone),
        )
        .order_by(col(Trip.pickup_at))
    ).all()
    return [
        Call(
            trip=trip,
            booking=booking,
            person=person,
            driver=(user.display_name or user.email.split("@")[0]) if user else "",
            at=trip.pickup_at.astimezone(zone).strftime("%H:%M"),
        )
        for trip, booking, person, user in rows
    ]


def text_of(call: Call) -> str:
    if call.driver:
        return _(
            "Transport solidaire : demain à %(at)s, %(driver)s vous conduit à %(place)s. CCAS"
        ) % {"at": call.at, "driver": call.driver, "place": call.booking.destination}
    return _("Transport solidaire : demain à %(at)s, trajet vers %(place)s. CCAS") % {
        "at": call.at,
        "place": call.booking.destination,
    }


def schedule_sms(session: Session, commune_insee: str, day: date) -> int:
    """One SMS job per trip of ``day`` not reminded yet (once per trip whatever is clicked)."""
    count = 0
    for call in calls(session, commune_insee, day):
        if call.trip.reminded_at is None and call.trip.status == "planned":
            enqueue(
                session, JOB, {"trip_id": call.trip.id}, dedupe_key=f"solidarity-sms:{call.trip.id}"
            )
            count += 1
    return count


def send_sms(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Send one reminder through the gateway, then mark the trip reminded."""
    settings = ctx.settings
    if not settings.solidarity_sms_url:
        return
    trip_id = int(payload["trip_id"])
    with read_session(ctx.engine) as session:
        trip = session.get(Trip, trip_id)
        if trip is None or trip.status != "planned" or trip.reminded_at is not None:
            return
        booking = session.get(Booking, trip.booking_id)
        person = session.get(Beneficiary, booking.beneficiary_id) if booking else None
        if booking is None or person is None:
            return
        day = trip.pickup_at.astimezone(commune_zone(session, booking.commune_insee)).date()
        found = [c for c in calls(session, booking.commune_insee, day) if c.trip.id == trip_id]
        if not found:
            return
        message = {"to": person.phone, "text": text_of(found[0])}
    headers = {"content-type": "application/json"}
    if settings.solidarity_sms_token:
        headers["authorization"] = f"Bearer {settings.solidarity_sms_token}"
    answer = outbound.fetch(
        "POST",
        settings.solidarity_sms_url,
        reach=outbound.Reach(allow_loopback=settings.outbound_allows_loopback),
        timeout=SMS_TIMEOUT_S,
        content=json.dumps(message).encode(),
        headers=headers,
    )
    if answer.status_code >= 500 or answer.status_code == 429:
        raise RetryLater(60, f"SMS gateway answered {answer.status_code}")
    if answer.status_code >= 400:
        raise RuntimeError(f"SMS gateway refused the message: {answer.status_code}")
    with write_session(ctx.engine) as session:
        row = session.get(Trip, trip_id)
        if row is not None:
            row.reminded_at = utcnow()
            session.add(row)


def tomorrow(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date() + timedelta(days=1)
