"""Maintenance: teams managed by staff (the four trades seeded), the team of a rule and an alarm,
an alarm's category, and what each staff member hears about (categories, teams, push and/or
e-mail, immediate or a daily digest)

Revision ID: 0032_maintenance_teams_choices
Revises: 0031_maintenance_staff_watches
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0032_maintenance_teams_choices"
down_revision = "0031_maintenance_staff_watches"
branch_labels = None
depends_on = None

TEAMS = (
    ("voirie", "Voirie"),
    ("eclairage", "Éclairage"),
    ("dechets", "Déchets"),
    ("espaces_verts", "Espaces verts"),
)


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    teams = op.create_table(
        "maintenance_teams",
        sa.Column("code", _string(20), nullable=False),
        sa.Column("name", _string(60), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_maintenance_teams")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        teams,
        [{"code": code, "name": name, "active": True, "created_at": now} for code, name in TEAMS],
    )
    with op.batch_alter_table("maintenance_rules") as batch:
        batch.add_column(sa.Column("team", _string(20), nullable=False, server_default=""))
    with op.batch_alter_table("maintenance_alarms") as batch:
        batch.add_column(sa.Column("category", _string(40), nullable=False, server_default=""))
        batch.add_column(sa.Column("team", _string(20), nullable=False, server_default=""))
    with op.batch_alter_table("maintenance_watches") as batch:
        batch.add_column(sa.Column("categories", _string(400), nullable=False, server_default=""))
        batch.add_column(sa.Column("teams", _string(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("push", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("email", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(
            sa.Column("digest", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_watches") as batch:
        for name in ("digest", "email", "push", "teams", "categories"):
            batch.drop_column(name)
    with op.batch_alter_table("maintenance_alarms") as batch:
        batch.drop_column("team")
        batch.drop_column("category")
    with op.batch_alter_table("maintenance_rules") as batch:
        batch.drop_column("team")
    op.drop_table("maintenance_teams")
