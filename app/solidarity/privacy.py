"""A person's solidarity-transport data (as a volunteer driver, or as the social worker who booked):
export and erasure.

Erasing a volunteer deletes their phone, area and slots; the bookings they had accepted are open
to other volunteers again, and the trips they drove stay in the accounts without their name.
Beneficiaries have no account: the social worker of their commune deletes them."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session, col

from app.models.solidarity import Beneficiary, Booking, Slot, Trip, Volunteer
from app.solidarity.bookings import release


def _row(obj: Any, *skip: str) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, (date, datetime)) else v)
        for k, v in obj.model_dump().items()
        if k not in skip
    }


def export_person(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    volunteer = session.scalars(select(Volunteer).where(col(Volunteer.user_id) == user_id)).first()
    data: dict[str, Any] = {"volunteer": None, "slots": [], "trips_driven": []}
    if volunteer is not None:
        data["volunteer"] = _row(volunteer)
        data["slots"] = [
            _row(s, "volunteer_id")
            for s in session.scalars(select(Slot).where(col(Slot.volunteer_id) == volunteer.id))
        ]
        # The trips the person drove: when, where to, how far, what they were paid back; not whom.
        data["trips_driven"] = [
            {
                "pickup_at": t.pickup_at.isoformat(),
                "destination": b.destination,
                "status": t.status,
                "km": t.km_tenths / 10,
                "allowance_cents": t.allowance_cents,
            }
            for t, b in session.execute(
                select(Trip, Booking)
                .join(Booking, col(Booking.id) == col(Trip.booking_id))
                .where(col(Trip.driver_id) == volunteer.id)
                .order_by(col(Trip.pickup_at))
            )
        ]
    data["bookings_made"] = len(
        session.scalars(select(col(Booking.id)).where(col(Booking.booked_by) == user_id)).all()
    )
    return data, []


def erase_person(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    volunteer = session.scalars(select(Volunteer).where(col(Volunteer.user_id) == user_id)).first()
    if volunteer is not None:
        for booking in session.scalars(
            select(Booking).where(
                col(Booking.driver_id) == volunteer.id, col(Booking.status) == "accepted"
            )
        ).all():
            release(session, booking)
        session.execute(
            update(Trip).where(col(Trip.driver_id) == volunteer.id).values(driver_id=None)
        )
        session.execute(delete(Slot).where(col(Slot.volunteer_id) == volunteer.id))
        session.execute(delete(Volunteer).where(col(Volunteer.id) == volunteer.id))
    session.execute(update(Booking).where(col(Booking.booked_by) == user_id).values(booked_by=None))
    session.execute(update(Trip).where(col(Trip.confirmed_by) == user_id).values(confirmed_by=None))
    session.execute(
        update(Beneficiary).where(col(Beneficiary.consent_by) == user_id).values(consent_by=None)
    )
    return []
