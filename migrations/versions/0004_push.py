"""Web Push and alerts: push_subscriptions, alerts (CAP 1.2 fields), push_deliveries.

Revision ID: 0004_push
Revises: 0001_foundation
Create Date: 2026-11-22 07:30:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004_push"
down_revision = "0001_foundation"
branch_labels = ("push",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("msg_type", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("cap_references", sa.Text(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("cap_urgency", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("certainty", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("onset_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("sender_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("link", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("area_desc", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("communes", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("push_urgency", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("ttl_s", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=True),
        sa.Column("references_id", sa.Integer(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("cap_xml", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("fanout_done_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["references_id"],
            ["alerts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender", "identifier", name="uq_alerts_sender_identifier"),
    )
    op.create_index("ix_alerts_state_expires", "alerts", ["state", "expires_at"], unique=False)
    op.create_index(op.f("ix_alerts_thread_id"), "alerts", ["thread_id"], unique=False)
    op.create_index(op.f("ix_alerts_topic"), "alerts", ["topic"], unique=False)
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("p256dh", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("auth", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("topics", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("communes", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("quiet_start", sa.Integer(), nullable=True),
        sa.Column("quiet_end", sa.Integer(), nullable=True),
        sa.Column("device", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_success_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint"),
    )
    op.create_index(
        op.f("ix_push_subscriptions_user_id"), "push_subscriptions", ["user_id"], unique=False
    )
    op.create_table(
        "push_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["subscription_id"], ["push_subscriptions.id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "message_key", "subscription_id", name="uq_push_deliveries_message_subscription"
        ),
    )
    op.create_index(
        op.f("ix_push_deliveries_alert_id"), "push_deliveries", ["alert_id"], unique=False
    )
    op.create_index(
        "ix_push_deliveries_due",
        "push_deliveries",
        ["message_key", "status", "next_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_push_deliveries_subscription_id"),
        "push_deliveries",
        ["subscription_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_push_deliveries_subscription_id"), table_name="push_deliveries")
    op.drop_index("ix_push_deliveries_due", table_name="push_deliveries")
    op.drop_index(op.f("ix_push_deliveries_alert_id"), table_name="push_deliveries")
    op.drop_table("push_deliveries")
    op.drop_index(op.f("ix_push_subscriptions_user_id"), table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    op.drop_index(op.f("ix_alerts_topic"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_thread_id"), table_name="alerts")
    op.drop_index("ix_alerts_state_expires", table_name="alerts")
    op.drop_table("alerts")
