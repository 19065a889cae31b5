"""Carpooling with other platforms: operators (standard-covoiturage API keys), their users,
trip confirmations in the app and proofs sent to the carpool proof registry.

A person who books through an operator is an Eclor account that cannot sign
in (``is_active`` false, no password): bookings and messages then go through
the same rows and rules as residents' (``carpool_bookings``, ``carpool_messages``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import utcnow


class CarpoolOperator(SQLModel, table=True):
    """A platform allowed to book and message through /api/carpool (its key's SHA-256 only is kept)."""

    __tablename__ = "carpool_operators"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    key_hash: str = Field(max_length=64, unique=True)
    key_prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    # Where the operator receives ``PATCH {callback_url}/bookings/{id}?status=...`` when an Eclor
    # member changes one of its bookings, and the token Eclor sends then (its own API key there).
    callback_url: str | None = Field(default=None, max_length=500)
    callback_token: str | None = Field(default=None, max_length=500)


class CarpoolOperatorUser(SQLModel, table=True):
    """A person known to an operator (its ``User.id`` there) and the Eclor account standing for them."""

    __tablename__ = "carpool_operator_users"
    __table_args__ = (UniqueConstraint("operator_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    operator_id: int = Field(foreign_key="carpool_operators.id", index=True, ondelete="CASCADE")
    external_id: str = Field(max_length=255)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


class CarpoolTripCheck(SQLModel, table=True):
    """One party's confirmation, in the app, of a trip of a booking: when and where it started and ended."""

    __tablename__ = "carpool_trip_checks"
    __table_args__ = (UniqueConstraint("booking_id", "departure", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="carpool_bookings.id", index=True, ondelete="CASCADE")
    departure: datetime  # the scheduled departure of the occurrence (UTC)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    started_at: datetime | None = None
    start_lat: float | None = None
    start_lon: float | None = None
    ended_at: datetime | None = None
    end_lat: float | None = None
    end_lon: float | None = None


class CarpoolProof(SQLModel, table=True):
    """A proof of carpooling for the registry (API v3.1 ``POST /journeys``) and its delivery."""

    __tablename__ = "carpool_proofs"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="carpool_bookings.id", index=True, ondelete="CASCADE")
    departure: datetime
    operator_journey_id: str = Field(max_length=64, unique=True)
    operator_class: str = Field(max_length=1)
    payload: str  # the JSON body sent
    status: str = Field(default="pending", max_length=12)  # pending, sent, duplicate, refused
    attempts: int = Field(default=0)
    last_error: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    due_by: datetime  # 24 h after the trip ended: the registry's deadline
    sent_at: datetime | None = None
