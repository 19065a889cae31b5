"""NGSI-LD subscriptions: who may subscribe (API keys), what is watched, what was sent.

A partner follows the twin without polling: a subscription
(``/ngsi-ld/v1/subscriptions``) names the entities, the watched attributes
and filters; the worker notices changes (the event outbox) and posts
notifications to the partner's endpoint. Every notification is a row before it
is sent (``ngsi_notifications``), so a restart or a failing endpoint loses none:
it is retried with backoff, then given up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.models.territory import territory_field


class NgsiApiKey(SQLModel, table=True):
    """A partner's key to the NGSI-LD subscriptions. Only its SHA-256 is stored (like Open311 keys)."""

    __tablename__ = "ngsi_api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class NgsiSubscription(SQLModel, table=True):
    """One subscription, as accepted (``spec``: JSON in Eclor's served terms), and its delivery counters."""

    __tablename__ = "ngsi_subscriptions"

    id: str = Field(primary_key=True, max_length=200)
    api_key_id: int | None = Field(
        default=None, foreign_key="ngsi_api_keys.id", ondelete="CASCADE", index=True
    )
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    # The territory whose host it was made on: listed and changed there, notified of its entities.
    territory_id: int | None = territory_field()
    spec: str = Field(sa_column=Column(Text, nullable=False))
    context_url: str | None = Field(default=None, max_length=500)
    is_active: bool = True
    expires_at: datetime | None = None
    throttling_s: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)
    modified_at: datetime = Field(default_factory=utcnow)
    # Change detection: the last event of the outbox looked at (None: not started yet).
    event_cursor: int | None = None
    scanned_at: datetime | None = None  # the last full scan (types that publish no events)
    times_sent: int = 0
    times_failed: int = 0
    last_notification: datetime | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    # One worker at a time looks at a subscription's changes.
    lease_by: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = None


class NgsiSubscriptionSeen(SQLModel, table=True):
    """What a subscription last notified (or first saw) of one entity: a digest of its watched attributes."""

    __tablename__ = "ngsi_subscription_seen"

    subscription_id: str = Field(
        foreign_key="ngsi_subscriptions.id", ondelete="CASCADE", primary_key=True, max_length=200
    )
    entity_id: str = Field(primary_key=True, max_length=200)
    digest: str = Field(max_length=40)


class NgsiNotification(SQLModel, table=True):
    """A notification to send (or sent, or given up): the body as it will be posted."""

    __tablename__ = "ngsi_notifications"
    __table_args__ = (Index("ix_ngsi_notifications_due", "done", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: str = Field(
        foreign_key="ngsi_subscriptions.id", ondelete="CASCADE", max_length=200, index=True
    )
    created_at: datetime = Field(default_factory=utcnow)
    body: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    done: bool = False  # sent, or given up
    sent_at: datetime | None = None
    error: str = Field(default="", max_length=300)
    lease_by: str | None = Field(default=None, max_length=120)
    lease_until: datetime | None = None
