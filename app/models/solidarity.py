"""Solidarity transport: beneficiaries registered by a commune's social worker (CCAS), volunteer
drivers with their availability and area, bookings (one-off or weekly) and their trips.

Every row but a volunteer's slots (which follow their volunteer) belongs to a territory
(``territory_id``): a beneficiary, a volunteer and a booking to their commune's, a trip to its
booking's, a usual destination to the territory of the social worker who added it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.models.territory import territory_field

BOOKING_STATES = ("open", "accepted", "cancelled")
TRIP_STATES = ("planned", "done", "confirmed", "cancelled")


class Beneficiary(SQLModel, table=True):
    """A person the CCAS of a commune drives; they may have no account, no app and no e-mail.

    Name, address and phone are seen by the commune's social workers and by the accepted driver of
    one of their trips only."""

    __tablename__ = "solidarity_beneficiaries"

    id: int | None = Field(default=None, primary_key=True)
    commune_insee: str = Field(foreign_key="communes.insee", max_length=5, index=True)
    territory_id: int | None = territory_field()  # its commune's (app.solidarity.scope)
    full_name: str = Field(max_length=120)
    address: str = Field(max_length=200)
    lat: float
    lon: float
    phone: str = Field(max_length=20)
    mobility: str = Field(default="", max_length=300)  # needs: walker, wheelchair, help at the door
    consent_at: datetime  # when the person agreed (by phone or in person) to be registered
    consent_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class Place(SQLModel, table=True):
    """A usual destination (the doctor's in Esch-sur-Alzette, the market, the town hall)."""

    __tablename__ = "solidarity_places"

    id: int | None = Field(default=None, primary_key=True)
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    territory_id: int | None = territory_field()  # the territory of the social worker who added it
    label: str = Field(max_length=120)
    address: str = Field(default="", max_length=200)
    lat: float
    lon: float


class Volunteer(SQLModel, table=True):
    """A resident who drives for the solidarity transport: their area is a list of communes (INSEE
    codes, comma-separated) or, when ``radius_km`` > 0, a circle around their home commune."""

    __tablename__ = "solidarity_volunteers"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True, ondelete="CASCADE")
    phone: str = Field(max_length=20)
    commune_insee: str = Field(foreign_key="communes.insee", max_length=5)
    territory_id: int | None = territory_field()  # its home commune's: where it drives
    area_communes: str = Field(default="", max_length=200)
    radius_km: int = Field(default=0)
    lat: float
    lon: float
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class Slot(SQLModel, table=True):
    """A weekly availability of a volunteer: weekday (0 = Monday), from and to in minutes (local)."""

    __tablename__ = "solidarity_slots"

    id: int | None = Field(default=None, primary_key=True)
    volunteer_id: int = Field(
        foreign_key="solidarity_volunteers.id", index=True, ondelete="CASCADE"
    )
    weekday: int
    start_min: int
    end_min: int


class Booking(SQLModel, table=True):
    """A request booked by a social worker by phone: one trip, or the same trip every week on some
    days until a date. A volunteer accepts the whole booking (all its trips)."""

    __tablename__ = "solidarity_bookings"
    __table_args__ = (Index("ix_solidarity_bookings_status", "status", "first_day"),)

    id: int | None = Field(default=None, primary_key=True)
    beneficiary_id: int = Field(
        foreign_key="solidarity_beneficiaries.id", index=True, ondelete="CASCADE"
    )
    commune_insee: str = Field(foreign_key="communes.insee", max_length=5)  # of the pick-up
    territory_id: int | None = territory_field()  # its beneficiary's (their commune's)
    booked_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    pickup_address: str = Field(max_length=200)
    pickup_lat: float
    pickup_lon: float
    destination: str = Field(max_length=120)
    dest_lat: float
    dest_lon: float
    purpose: str = Field(default="", max_length=200)
    round_trip: bool = True
    pickup_min: int  # local time of the pick-up, minutes after midnight
    duration_min: int = 120  # how long the driver is taken (there, the appointment, back)
    first_day: date
    weekdays: str = Field(default="", max_length=13)  # "0,3": Mondays and Thursdays; "" one-off
    until: date | None = None
    km_tenths: int = 0  # estimated road distance of one trip, in tenths of a kilometre
    status: str = Field(default="open", max_length=10)
    driver_id: int | None = Field(
        default=None, foreign_key="solidarity_volunteers.id", ondelete="SET NULL", index=True
    )
    accepted_at: datetime | None = None
    notes: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Trip(SQLModel, table=True):
    """One trip of a booking. The driver marks it done with the kilometres driven; the social
    worker confirms it, which fixes the contribution and the allowance (cents) for the accounts."""

    __tablename__ = "solidarity_trips"
    __table_args__ = (
        Index("ix_solidarity_trips_driver", "driver_id", "pickup_at"),
        Index("ix_solidarity_trips_day", "pickup_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="solidarity_bookings.id", index=True, ondelete="CASCADE")
    territory_id: int | None = territory_field()  # its booking's
    pickup_at: datetime
    ends_at: datetime
    status: str = Field(default="planned", max_length=10)
    driver_id: int | None = Field(
        default=None, foreign_key="solidarity_volunteers.id", ondelete="SET NULL"
    )
    km_tenths: int = 0  # driven (set when done), else the estimate
    done_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmed_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    contribution_cents: int = 0
    allowance_cents: int = 0
    reminded_at: datetime | None = None  # when the SMS reminder was sent
