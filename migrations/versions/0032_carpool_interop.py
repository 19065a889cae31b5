"""Carpool: operators of the standard-covoiturage API and their users, bookings made through it,
trip confirmations in the app, proofs for the carpool proof registry, proof identity with consent.

Revision ID: 0032_carpool_interop
Revises: 0030_carpool_cells
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0032_carpool_interop"
down_revision = "0030_carpool_cells"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
When = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "carpool_operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", String(length=80), nullable=False),
        sa.Column("key_hash", String(length=64), nullable=False),
        sa.Column("key_prefix", String(length=12), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("revoked_at", When(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carpool_operators")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_carpool_operators_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_carpool_operators_name")),
    )
    op.create_table(
        "carpool_operator_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("external_id", String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["carpool_operators.id"],
            name=op.f("fk_carpool_operator_users_operator_id_carpool_operators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_carpool_operator_users_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carpool_operator_users")),
        sa.UniqueConstraint(
            "operator_id",
            "external_id",
            name=op.f("uq_carpool_operator_users_operator_id_external_id"),
        ),
    )
    op.create_index(
        op.f("ix_carpool_operator_users_operator_id"), "carpool_operator_users", ["operator_id"]
    )
    op.create_index(
        op.f("ix_carpool_operator_users_user_id"), "carpool_operator_users", ["user_id"]
    )
    with op.batch_alter_table("carpool_bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", String(length=64), nullable=True))
        batch_op.add_column(sa.Column("operator_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pickup_at", When(), nullable=True))
        batch_op.add_column(sa.Column("pickup_lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("pickup_lon", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("drop_lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("drop_lon", sa.Float(), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_carpool_bookings_external_id"), ["external_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_carpool_bookings_operator_id_carpool_operators"),
            "carpool_operators",
            ["operator_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("carpool_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proof_identity_key", String(length=64), nullable=True))
        batch_op.add_column(sa.Column("proof_phone_trunc", String(length=14), nullable=True))
        batch_op.add_column(sa.Column("proof_consent_at", When(), nullable=True))
    op.create_table(
        "carpool_trip_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("departure", When(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("started_at", When(), nullable=True),
        sa.Column("start_lat", sa.Float(), nullable=True),
        sa.Column("start_lon", sa.Float(), nullable=True),
        sa.Column("ended_at", When(), nullable=True),
        sa.Column("end_lat", sa.Float(), nullable=True),
        sa.Column("end_lon", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["carpool_bookings.id"],
            name=op.f("fk_carpool_trip_checks_booking_id_carpool_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_carpool_trip_checks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carpool_trip_checks")),
        sa.UniqueConstraint(
            "booking_id",
            "departure",
            "user_id",
            name=op.f("uq_carpool_trip_checks_booking_id_departure_user_id"),
        ),
    )
    op.create_index(
        op.f("ix_carpool_trip_checks_booking_id"), "carpool_trip_checks", ["booking_id"]
    )
    op.create_index(op.f("ix_carpool_trip_checks_user_id"), "carpool_trip_checks", ["user_id"])
    op.create_table(
        "carpool_proofs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("departure", When(), nullable=False),
        sa.Column("operator_journey_id", String(length=64), nullable=False),
        sa.Column("operator_class", String(length=1), nullable=False),
        sa.Column("payload", String(), nullable=False),
        sa.Column("status", String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", String(length=300), nullable=False),
        sa.Column("created_at", When(), nullable=False),
        sa.Column("due_by", When(), nullable=False),
        sa.Column("sent_at", When(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["carpool_bookings.id"],
            name=op.f("fk_carpool_proofs_booking_id_carpool_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carpool_proofs")),
        sa.UniqueConstraint(
            "operator_journey_id", name=op.f("uq_carpool_proofs_operator_journey_id")
        ),
    )
    op.create_index(op.f("ix_carpool_proofs_booking_id"), "carpool_proofs", ["booking_id"])


def downgrade() -> None:
    op.drop_table("carpool_proofs")
    op.drop_table("carpool_trip_checks")
    with op.batch_alter_table("carpool_profiles", schema=None) as batch_op:
        batch_op.drop_column("proof_consent_at")
        batch_op.drop_column("proof_phone_trunc")
        batch_op.drop_column("proof_identity_key")
    with op.batch_alter_table("carpool_bookings", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_carpool_bookings_operator_id_carpool_operators"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_carpool_bookings_external_id"), type_="unique")
        for name in ("drop_lon", "drop_lat", "pickup_lon", "pickup_lat", "pickup_at"):
            batch_op.drop_column(name)
        batch_op.drop_column("operator_id")
        batch_op.drop_column("external_id")
    op.drop_table("carpool_operator_users")
    op.drop_table("carpool_operators")
