"""Push: CAP as real feeds send it: each imported message kept byte for byte, and messages
recorded and ignored (a Cancel of an alert Eclor never saw)

Revision ID: 0032_push_cap_feeds
Revises: 0012_push_names
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0032_push_cap_feeds"
down_revision = "0012_push_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alerts", sa.Column("cap_document", sa.LargeBinary(), nullable=True))
    op.create_table(
        "cap_ignored",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("sender", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("msg_type", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("cap_references", sa.Text(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("cap_document", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_cap_ignored_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cap_ignored")),
        sa.UniqueConstraint("sender", "identifier", name="uq_cap_ignored_sender_identifier"),
    )


def downgrade() -> None:
    op.drop_table("cap_ignored")
    op.drop_column("alerts", "cap_document")
