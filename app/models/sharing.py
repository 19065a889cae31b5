"""Neighbour sharing: objects lent or given, loans and gifts, "looking for" requests."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import utcnow

ITEM_KINDS = ("lend", "give")
ITEM_STATES = ("active", "paused", "given", "removed")
LOAN_STATES = ("requested", "accepted", "picked_up", "returned", "declined", "cancelled")
GIFT_STATES = ("reserved", "handed_over", "cancelled")
# States in which a loan holds its dates in the calendar.
HOLDING_STATES = ("requested", "accepted", "picked_up")


class SharedItem(SQLModel, table=True):
    """An object a resident offers to lend or to give away (an "ad")."""

    __tablename__ = "sharing_items"
    __table_args__ = (Index("ix_sharing_items_browse", "status", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    kind: str = Field(default="lend", max_length=8)
    title: str = Field(max_length=120)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    category: str = Field(max_length=32)
    condition: str = Field(default="good", max_length=16)
    commune_insee: str = Field(foreign_key="communes.insee", max_length=5)
    max_days: int = Field(default=14)
    availability: str = Field(default="", max_length=200)
    status: str = Field(
        default="active", max_length=12
    )  # active, paused, given, removed (by its owner), hidden
    created_at: datetime = Field(default_factory=utcnow)
    renewed_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    # Moderation (app.moderation): why staff hid it, kept after a restore for the record.
    moderation_reason: str = Field(default="", max_length=400)
    moderated_at: datetime | None = None
    moderated_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")


class SharedPhoto(SQLModel, table=True):
    __tablename__ = "sharing_photos"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="sharing_items.id", index=True, ondelete="CASCADE")
    display_name: str = Field(max_length=40)
    thumb_name: str = Field(max_length=40)
    width: int
    height: int
    position: int = Field(default=0)


class Loan(SQLModel, table=True):
    """A loan (dates, request → accepted → picked up → returned) or a gift (reserved → handed over)."""

    __tablename__ = "sharing_loans"
    __table_args__ = (Index("ix_sharing_loans_calendar", "item_id", "status", "start_on"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="sharing_items.id", index=True, ondelete="CASCADE")
    borrower_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    kind: str = Field(default="loan", max_length=8)  # loan or gift
    status: str = Field(default="requested", max_length=12)
    start_on: date | None = None
    end_on: date | None = None  # inclusive: the day the object comes back
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    picked_up_at: datetime | None = None
    returned_at: datetime | None = None


class LoanMessage(SQLModel, table=True):
    """A message between the owner and the borrower, attached to their loan or gift."""

    __tablename__ = "sharing_messages"

    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(foreign_key="sharing_loans.id", index=True, ondelete="CASCADE")
    sender_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class LoanReminder(SQLModel, table=True):
    """A reminder that was sent, so that each one goes out once."""

    __tablename__ = "sharing_reminders"
    __table_args__ = (
        UniqueConstraint("loan_id", "kind", "for_date", name="uq_sharing_reminders_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(foreign_key="sharing_loans.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)  # pickup_eve, due, overdue
    for_date: date
    sent_at: datetime = Field(default_factory=utcnow)


class WantedRequest(SQLModel, table=True):
    """ "I am looking for ...": neighbours who follow the category are told."""

    __tablename__ = "sharing_wanted"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=120)
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    category: str = Field(max_length=32)
    commune_insee: str = Field(foreign_key="communes.insee", max_length=5)
    status: str = Field(default="open", max_length=12)  # open, closed
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class CategoryWatch(SQLModel, table=True):
    """A resident who wants to hear about "looking for" requests in a category, in the territory
    of the host where they chose it (one account may watch in several territories)."""

    __tablename__ = "sharing_watches"

    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    category: str = Field(max_length=32, primary_key=True)
    territory_id: int = Field(foreign_key="territories.id", primary_key=True)


class ItemReport(SQLModel, table=True):
    """A resident's report of an abusive ad, for staff to review."""

    __tablename__ = "sharing_item_reports"
    __table_args__ = (
        UniqueConstraint("item_id", "reporter_id", name="uq_sharing_item_reports_once"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="sharing_items.id", index=True, ondelete="CASCADE")
    reporter_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    reason: str = Field(max_length=500)
    status: str = Field(default="open", max_length=12)  # open, dismissed, removed
    created_at: datetime = Field(default_factory=utcnow)
