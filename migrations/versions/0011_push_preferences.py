"""Notification choices belong to the account: notification_preferences (with an e-mail channel) and
notification_digest_items; each account's choices are carried over from its latest subscribed device.

Revision ID: 0011_push_preferences
Revises: 0009_push_scale
Create Date: 2026-12-06 14:40:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011_push_preferences"
down_revision = "0009_push_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("topics", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("communes", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("quiet_start", sa.Integer(), nullable=True),
        sa.Column("quiet_end", sa.Integer(), nullable=True),
        sa.Column("email_mode", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "notification_digest_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "key", name="uq_notification_digest_items_user_key"),
    )
    op.create_index(
        op.f("ix_notification_digest_items_user_id"),
        "notification_digest_items",
        ["user_id"],
        unique=False,
    )
    # Carry each account's choices over from its most recently updated device.
    bind = op.get_bind()
    subs = sa.table(
        "push_subscriptions",
        sa.column("id", sa.Integer()),
        sa.column("user_id", sa.Integer()),
        sa.column("topics"),
        sa.column("communes"),
        sa.column("quiet_start", sa.Integer()),
        sa.column("quiet_end", sa.Integer()),
        sa.column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    rows = bind.execute(
        sa.select(
            subs.c.user_id,
            subs.c.topics,
            subs.c.communes,
            subs.c.quiet_start,
            subs.c.quiet_end,
            subs.c.updated_at,
        ).order_by(subs.c.user_id, subs.c.updated_at.desc(), subs.c.id.desc())
    ).all()
    seen: set[int] = set()
    prefs = sa.table(
        "notification_preferences",
        sa.column("user_id", sa.Integer()),
        sa.column("topics"),
        sa.column("communes"),
        sa.column("quiet_start", sa.Integer()),
        sa.column("quiet_end", sa.Integer()),
        sa.column("email_mode"),
        sa.column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    for user_id, topics, communes, quiet_start, quiet_end, updated_at in rows:
        if user_id in seen:
            continue
        seen.add(user_id)
        bind.execute(
            prefs.insert().values(
                user_id=user_id,
                topics=topics,
                communes=communes,
                quiet_start=quiet_start,
                quiet_end=quiet_end,
                email_mode="off",
                updated_at=updated_at,
            )
        )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_notification_digest_items_user_id"), table_name="notification_digest_items"
    )
    op.drop_table("notification_digest_items")
    op.drop_table("notification_preferences")
