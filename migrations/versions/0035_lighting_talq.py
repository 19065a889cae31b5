"""Lighting: TALQ gateways (their address and the hash of their key), and the TALQ device and group
addresses of Eclor's lights and groups.

Revision ID: 0035_lighting_talq
Revises: 0033_lighting_energy_index
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0035_lighting_talq"
down_revision = "0033_lighting_energy_index"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "talq_gateways",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", String(length=80), nullable=False),
        sa.Column("address", String(length=36), nullable=False),
        sa.Column("key_hash", String(length=64), nullable=False),
        sa.Column("key_prefix", String(length=12), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("revoked_at", When(), nullable=True),
        sa.Column("services", sa.Text(), nullable=True),
        sa.Column("last_seen_at", When(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talq_gateways")),
        sa.UniqueConstraint("address", name=op.f("uq_talq_gateways_address")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_talq_gateways_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_talq_gateways_name")),
    )
    op.create_table(
        "talq_devices",
        sa.Column("light_id", String(length=64), nullable=False),
        sa.Column("gateway_id", sa.Integer(), nullable=False),
        sa.Column("device_address", String(length=36), nullable=False),
        sa.Column("actuator_function", String(length=64), nullable=False),
        sa.Column("monitor_function", String(length=64), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["talq_gateways.id"],
            name=op.f("fk_talq_devices_gateway_id_talq_gateways"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["light_id"],
            ["streetlights.id"],
            name=op.f("fk_talq_devices_light_id_streetlights"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("light_id", name=op.f("pk_talq_devices")),
        sa.UniqueConstraint("device_address", name=op.f("uq_talq_devices_device_address")),
    )
    op.create_index(
        op.f("ix_talq_devices_gateway_id"), "talq_devices", ["gateway_id"], unique=False
    )
    op.create_table(
        "talq_groups",
        sa.Column("group_id", String(length=64), nullable=False),
        sa.Column("gateway_id", sa.Integer(), nullable=False),
        sa.Column("group_address", String(length=36), nullable=False),
        sa.Column("updated_at", When(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"],
            ["talq_gateways.id"],
            name=op.f("fk_talq_groups_gateway_id_talq_gateways"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["light_groups.id"],
            name=op.f("fk_talq_groups_group_id_light_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_talq_groups")),
        sa.UniqueConstraint("group_address", name=op.f("uq_talq_groups_group_address")),
    )
    op.create_index(op.f("ix_talq_groups_gateway_id"), "talq_groups", ["gateway_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_talq_groups_gateway_id"), table_name="talq_groups")
    op.drop_table("talq_groups")
    op.drop_index(op.f("ix_talq_devices_gateway_id"), table_name="talq_devices")
    op.drop_table("talq_devices")
    op.drop_table("talq_gateways")
