"""Web Push subscriptions, public alerts (CAP 1.2 fields) and one delivery row per message and device.

- ``push_subscriptions``: one browser ``PushSubscription`` (its endpoint is
  unique: a device re-subscribing updates its row), the person it belongs to,
  the topics and communes they chose, and quiet hours. ``topics`` and
  ``communes`` are stored as ``,a,b,`` so matching is a portable ``LIKE``.
- ``alerts``: one row per published message, as CAP has them: an Update or a
  Cancel is its own row that references the message it amends (and shares its
  ``thread_id``, the id of the first message of the chain).
- ``push_deliveries``: one row per (message, subscription), unique, written
  before anything is sent, so a subscription never gets one message twice
  (see ``app.alerts.publish`` for the states and the crash window).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import utcnow

# A row written without its territory belongs to the install's first territory (the default one):
# a subscription or an alert made through a host is given that host's territory by the code that
# makes it.
from app.models.territory import territory_field

DELIVERY_STATES = (
    "pending",  # planned, not tried yet
    "held",  # waiting for the end of the subscriber's quiet hours
    "sending",  # handed to the push service by a worker (committed before the POST)
    "retry",  # 429 or 5xx: tried again at next_at
    "delivered",  # 201: accepted by the push service
    "gone",  # 404/410: the subscription was deleted
    "too_large",  # 413 or refused before sending (over 3993 bytes)
    "rejected",  # another 4xx: logged, not retried
    "failed",  # retries exhausted
    "unknown",  # a worker died between marking "sending" and recording the answer
    "expired",  # the message expired before it could be sent
    "superseded",  # replaced by an update or a cancellation before it was sent
)


class PushSubscription(SQLModel, table=True):
    __tablename__ = "push_subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    # The territory whose alerts it receives: the host the browser subscribed on (an endpoint belongs
    # to one origin). A commuter subscribed on two territories' hosts has one row on each.
    territory_id: int | None = territory_field()
    endpoint: str = Field(max_length=2048, unique=True)
    p256dh: str = Field(max_length=100)
    auth: str = Field(max_length=40)
    topics: str = Field(default=",", max_length=300)  # ",weather,traffic,"
    communes: str = Field(default=",", max_length=300)  # ",57038,54580," (",": whole territory)
    quiet_start: int | None = None  # minutes after midnight on its territory's clock
    quiet_end: int | None = None
    device: str = Field(default="", max_length=120)  # "Chrome · Android", shown to the owner
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("sender", "identifier", name="uq_alerts_sender_identifier"),
        Index("ix_alerts_state_expires", "state", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The territory that published it (its staff, its CAP import, its host's pages and subscribers).
    territory_id: int | None = territory_field()
    # CAP alert block
    identifier: str = Field(max_length=200)
    sender: str = Field(max_length=200)
    sent_at: datetime
    status: str = Field(default="Actual", max_length=10)  # CAP status
    msg_type: str = Field(default="Alert", max_length=10)  # Alert, Update, Cancel
    scope: str = Field(default="Public", max_length=10)
    cap_references: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    note: str | None = Field(default=None, max_length=500)
    # CAP info block (the French one when a document has several)
    category: str = Field(default="Other", max_length=20)
    event: str = Field(max_length=200)
    cap_urgency: str = Field(default="Expected", max_length=10)
    severity: str = Field(default="Moderate", max_length=10)
    certainty: str = Field(default="Likely", max_length=10)
    onset_at: datetime | None = None
    expires_at: datetime | None = None
    sender_name: str = Field(default="", max_length=200)
    title: str = Field(max_length=200)  # headline
    body: str = Field(default="", sa_column=Column(Text, nullable=False))  # description
    instruction: str = Field(default="", sa_column=Column(Text, nullable=False))
    link: str = Field(default="", max_length=500)  # web
    area_desc: str = Field(default="", max_length=500)
    # Eclor
    topic: str = Field(max_length=20, index=True)
    communes: str = Field(default=",", max_length=300)  # ",": whole territory
    push_urgency: str = Field(default="normal", max_length=10)
    ttl_s: int = Field(default=86_400)
    state: str = Field(default="active", max_length=12)  # active, updated, cancelled
    thread_id: int | None = Field(default=None, index=True)  # id of the chain's first message
    references_id: int | None = Field(default=None, foreign_key="alerts.id")
    source: str = Field(default="staff", max_length=8)  # staff, cli, cap
    cap_xml: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The imported CAP message byte for byte, in its declared encoding (re-exported as it came).
    cap_document: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    fanout_done_at: datetime | None = None


class CapIgnored(SQLModel, table=True):
    """A CAP message recorded and not published (a Cancel of an alert Eclor never saw)."""

    __tablename__ = "cap_ignored"
    __table_args__ = (
        UniqueConstraint("sender", "identifier", name="uq_cap_ignored_sender_identifier"),
    )

    id: int | None = Field(default=None, primary_key=True)
    identifier: str = Field(max_length=200)
    sender: str = Field(max_length=200)
    sent_at: datetime
    msg_type: str = Field(max_length=10)
    cap_references: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reason: str = Field(max_length=300)
    cap_document: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    received_at: datetime = Field(default_factory=utcnow)


class PushDelivery(SQLModel, table=True):
    __tablename__ = "push_deliveries"
    __table_args__ = (
        UniqueConstraint(
            "message_key", "subscription_id", name="uq_push_deliveries_message_subscription"
        ),
        Index("ix_push_deliveries_due", "message_key", "status", "next_at"),
        Index("ix_push_deliveries_finished", "finished_at"),  # retention
    )

    id: int | None = Field(default=None, primary_key=True)
    message_key: str = Field(max_length=40)  # "alert:12" or "user:345" (the push.user job)
    alert_id: int | None = Field(
        default=None, foreign_key="alerts.id", index=True, ondelete="CASCADE"
    )
    subscription_id: int | None = Field(
        default=None, foreign_key="push_subscriptions.id", index=True, ondelete="SET NULL"
    )
    status: str = Field(default="pending", max_length=12)
    attempts: int = Field(default=0)
    next_at: datetime = Field(default_factory=utcnow)
    http_status: int | None = None
    detail: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    finished_at: datetime | None = None


EMAIL_MODES = ("off", "immediate", "daily")


class NotificationPreferences(SQLModel, table=True):
    """What a person wants to hear about: it belongs to the account, devices follow it.

    One row per account (none yet: the defaults). Saving it copies topics,
    communes and quiet hours to every subscribed device, and a device that
    subscribes takes them, so choices work with no device at all (no
    JavaScript, permission refused, iPhone without the app installed).
    ``email_mode`` adds an e-mail channel: ``immediate`` (one e-mail per
    alert), ``daily`` (one digest a day) or ``off``.
    """

    __tablename__ = "notification_preferences"

    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    topics: str = Field(default=",", max_length=300)
    communes: str = Field(default=",", max_length=300)
    quiet_start: int | None = None
    quiet_end: int | None = None
    email_mode: str = Field(default="off", max_length=10)
    updated_at: datetime = Field(default_factory=utcnow)


class NotificationDigestItem(SQLModel, table=True):
    """One line of a person's next daily e-mail digest (``key`` makes a retried fan-out add it once)."""

    __tablename__ = "notification_digest_items"
    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_notification_digest_items_user_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=40)
    title: str = Field(max_length=200)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    url: str = Field(default="/", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
