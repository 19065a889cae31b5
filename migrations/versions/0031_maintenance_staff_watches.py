"""Maintenance: what each staff member hears about when an alarm is raised (communes, severities,
sources, on call)

Revision ID: 0031_maintenance_staff_watches
Revises: 0024_maintenance
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0031_maintenance_staff_watches"
down_revision = "0024_maintenance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_watches",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("communes", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("severities", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("sources", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("on_call", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_maintenance_watches_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_maintenance_watches")),
    )


def downgrade() -> None:
    op.drop_table("maintenance_watches")
