"""Maintenance: rules, the alarms they raise (one per ongoing condition), work orders and teams.

Revision ID: 0024_maintenance
Revises: 0001_foundation
Depends on: 0012_reports_names (work orders link to reports)
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0024_maintenance"
down_revision = "0001_foundation"
branch_labels = ("maintenance",)
depends_on = ("0012_reports_names",)


def upgrade() -> None:
    op.create_table(
        "maintenance_cursors",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_maintenance_cursors")),
    )
    op.create_table(
        "maintenance_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("layer", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("measure", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("op", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("radius_m", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.Column("quiet_s", sa.Integer(), nullable=False),
        sa.Column("prepare_alert", sa.Boolean(), nullable=False),
        sa.Column("alert_title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["communes.insee"],
            name=op.f("fk_maintenance_rules_commune_insee_communes"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_maintenance_rules_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_rules")),
    )
    op.create_table(
        "maintenance_team_members",
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_maintenance_team_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team", "user_id", name=op.f("pk_maintenance_team_members")),
    )
    op.create_table(
        "maintenance_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("feature_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("first_seen", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("cleared_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("cleared_by", sa.Integer(), nullable=True),
        sa.Column("cleared_why", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("alert_title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("alert_body", sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["users.id"],
            name=op.f("fk_maintenance_alarms_acknowledged_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_maintenance_alarms_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["cleared_by"],
            ["users.id"],
            name=op.f("fk_maintenance_alarms_cleared_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["communes.insee"],
            name=op.f("fk_maintenance_alarms_commune_insee_communes"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["maintenance_rules.id"],
            name=op.f("fk_maintenance_alarms_rule_id_maintenance_rules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_alarms")),
    )
    with op.batch_alter_table("maintenance_alarms", schema=None) as batch_op:
        batch_op.create_index(
            "ix_maintenance_alarms_state_last", ["state", "last_seen"], unique=False
        )
        batch_op.create_index(
            "ux_maintenance_alarms_ongoing",
            ["rule_id", "subject"],
            unique=True,
            sqlite_where=sa.text("state IN ('open', 'acknowledged')"),
            postgresql_where=sa.text("state IN ('open', 'acknowledged')"),
        )

    op.create_table(
        "maintenance_conditions",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["maintenance_rules.id"],
            name=op.f("fk_maintenance_conditions_rule_id_maintenance_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_id", "subject", name=op.f("pk_maintenance_conditions")),
    )
    op.create_table(
        "maintenance_alarm_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["maintenance_alarms.id"],
            name=op.f("fk_maintenance_alarm_comments_alarm_id_maintenance_alarms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_maintenance_alarm_comments_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_alarm_comments")),
    )
    with op.batch_alter_table("maintenance_alarm_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_alarm_comments_alarm_id"), ["alarm_id"], unique=False
        )

    op.create_table(
        "maintenance_work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("place", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("checklist_json", sa.Text(), nullable=False),
        sa.Column("minutes_spent", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), server_default="", nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("signal_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alarm_id"],
            ["maintenance_alarms.id"],
            name=op.f("fk_maintenance_work_orders_alarm_id_maintenance_alarms"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_maintenance_work_orders_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"],
            ["users.id"],
            name=op.f("fk_maintenance_work_orders_closed_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["communes.insee"],
            name=op.f("fk_maintenance_work_orders_commune_insee_communes"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_maintenance_work_orders_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_work_orders")),
    )
    with op.batch_alter_table("maintenance_work_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_work_orders_alarm_id"), ["alarm_id"], unique=False
        )
        batch_op.create_index(
            "ix_maintenance_work_orders_assignee_due", ["assignee_id", "due_on"], unique=False
        )
        batch_op.create_index(
            "ix_maintenance_work_orders_state_due", ["state", "due_on"], unique=False
        )

    op.create_table(
        "maintenance_order_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("thumb_name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_maintenance_order_photos_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["maintenance_work_orders.id"],
            name=op.f("fk_maintenance_order_photos_order_id_maintenance_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_order_photos")),
        sa.UniqueConstraint("display_name", name=op.f("uq_maintenance_order_photos_display_name")),
        sa.UniqueConstraint("thumb_name", name=op.f("uq_maintenance_order_photos_thumb_name")),
    )
    with op.batch_alter_table("maintenance_order_photos", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_order_photos_order_id"),
            ["order_id"],
            unique=False,
        )

    op.create_table(
        "maintenance_order_reports",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_maintenance_order_reports_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["maintenance_work_orders.id"],
            name=op.f("fk_maintenance_order_reports_order_id_maintenance_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "report_id", name=op.f("pk_maintenance_order_reports")),
    )


def downgrade() -> None:
    op.drop_table("maintenance_order_reports")
    with op.batch_alter_table("maintenance_order_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_order_photos_order_id"))

    op.drop_table("maintenance_order_photos")
    with op.batch_alter_table("maintenance_work_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_work_orders_state_due")
        batch_op.drop_index("ix_maintenance_work_orders_assignee_due")
        batch_op.drop_index(batch_op.f("ix_maintenance_work_orders_alarm_id"))

    op.drop_table("maintenance_work_orders")
    with op.batch_alter_table("maintenance_alarm_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_alarm_comments_alarm_id"))

    op.drop_table("maintenance_alarm_comments")
    op.drop_table("maintenance_conditions")
    with op.batch_alter_table("maintenance_alarms", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_maintenance_alarms_ongoing",
            sqlite_where=sa.text("state IN ('open', 'acknowledged')"),
            postgresql_where=sa.text("state IN ('open', 'acknowledged')"),
        )
        batch_op.drop_index("ix_maintenance_alarms_state_last")

    op.drop_table("maintenance_alarms")
    op.drop_table("maintenance_team_members")
    op.drop_table("maintenance_rules")
    op.drop_table("maintenance_cursors")
