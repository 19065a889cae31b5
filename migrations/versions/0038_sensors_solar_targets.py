"""Sensors: the territory's solar production target of a year and the prices of its kWh

Revision ID: 0038_sensors_solar_targets
Revises: 0037_sensors_hourly_means
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0038_sensors_solar_targets"
down_revision = "0037_sensors_hourly_means"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "solar_targets",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("production_mwh", sa.Float(), nullable=False),
        sa.Column("capacity_kw", sa.Float(), nullable=True),
        sa.Column("purchase_eur_kwh", sa.Float(), nullable=False),
        sa.Column("sale_eur_kwh", sa.Float(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_solar_targets_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_solar_targets")),
    )


def downgrade() -> None:
    op.drop_table("solar_targets")
