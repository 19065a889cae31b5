"""Operations centre: the event outbox followed by live views.

Revision ID: 0008_ops_events
Revises: 0001_foundation
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0008_ops_events"
down_revision = "0001_foundation"
branch_labels = ("ops",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("layer", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("feature_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_at"), "events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_events_at"), table_name="events")
    op.drop_table("events")
