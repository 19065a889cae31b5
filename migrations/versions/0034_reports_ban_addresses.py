"""Reports: the national address base (BAN) as a local table, and the BAN id of a report placed by it

Revision ID: 0034_reports_ban_addresses
Revises: 0032_reports_stats_index
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0034_reports_ban_addresses"
down_revision = "0032_reports_stats_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "reports",
        sa.Column("address_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    )
    op.create_table(
        "ban_addresses",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("commune_name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("postcode", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("rep", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("street", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("street_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ban_addresses")),
    )
    op.create_index(
        op.f("ix_ban_addresses_commune_insee"), "ban_addresses", ["commune_insee"], unique=False
    )
    op.create_index(
        op.f("ix_ban_addresses_street_key"), "ban_addresses", ["street_key"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ban_addresses_street_key"), table_name="ban_addresses")
    op.drop_index(op.f("ix_ban_addresses_commune_insee"), table_name="ban_addresses")
    op.drop_table("ban_addresses")
    op.drop_column("reports", "address_id")
