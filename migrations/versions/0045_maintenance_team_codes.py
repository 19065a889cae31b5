"""Maintenance: a team's code is unique within its territory (the key of a team is its territory and
its code; a member names the team's territory too), so two territories may each have their
``voirie``; a territory without any team gets the four trades

Revision ID: 0045_maintenance_team_codes
Revises: 0044_maintenance_territory
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0045_maintenance_team_codes"
down_revision = "0044_maintenance_territory"
branch_labels = None
depends_on = None

TEAMS = (
    ("voirie", "Voirie"),
    ("eclairage", "Éclairage"),
    ("dechets", "Déchets"),
    ("espaces_verts", "Espaces verts"),
)
MEMBERS_FK = "fk_maintenance_team_members_territory_id_team_maintenance_teams"


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _teams_table(name: str, *, per_territory: bool) -> None:
    """SQLite: the teams made again under ``name`` with their key (batch mode would reflect the old
    key and warn)."""
    op.create_table(
        name,
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("code", _string(20), nullable=False),
        sa.Column("name", _string(60), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name="fk_maintenance_teams_territory_id_territories",
        ),
        sa.PrimaryKeyConstraint(
            *(("territory_id", "code") if per_territory else ("code",)), name="pk_maintenance_teams"
        ),
    )


def _members_table(name: str, *, per_territory: bool) -> None:
    op.create_table(
        name,
        *([sa.Column("territory_id", sa.Integer(), nullable=False)] if per_territory else []),
        sa.Column("team", _string(20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_maintenance_team_members_user_id_users",
            ondelete="CASCADE",
        ),
        *(
            [
                sa.ForeignKeyConstraint(
                    ["territory_id", "team"],
                    ["maintenance_teams.territory_id", "maintenance_teams.code"],
                    name=MEMBERS_FK,
                    ondelete="CASCADE",
                )
            ]
            if per_territory
            else []
        ),
        sa.PrimaryKeyConstraint(
            *(("territory_id", "team", "user_id") if per_territory else ("team", "user_id")),
            name="pk_maintenance_team_members",
        ),
    )


def _swap(old: str, new: str, columns: str, source: str) -> None:
    op.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {source}")
    op.drop_table(old)
    op.rename_table(new, old)


def upgrade() -> None:
    # A member belongs to the team of that code, in the team's territory; a member of a team that
    # no longer exists named nothing and is let go.
    op.execute(
        "DELETE FROM maintenance_team_members WHERE team NOT IN (SELECT code FROM maintenance_teams)"
    )
    op.add_column(
        "maintenance_team_members", sa.Column("territory_id", sa.Integer(), nullable=True)
    )
    op.execute(
        "UPDATE maintenance_team_members SET territory_id = (SELECT t.territory_id FROM "
        "maintenance_teams t WHERE t.code = maintenance_team_members.team)"
    )
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_maintenance_teams_territory_id", table_name="maintenance_teams")
        _teams_table("_maintenance_teams_new", per_territory=True)
        _swap(
            "maintenance_teams",
            "_maintenance_teams_new",
            "territory_id, code, name, active, created_at",
            "maintenance_teams",
        )
        _members_table("_maintenance_team_members_new", per_territory=True)
        _swap(
            "maintenance_team_members",
            "_maintenance_team_members_new",
            "territory_id, team, user_id",
            "maintenance_team_members",
        )
    else:
        op.drop_index("ix_maintenance_teams_territory_id", table_name="maintenance_teams")
        op.drop_constraint("pk_maintenance_teams", "maintenance_teams", type_="primary")
        op.create_primary_key("pk_maintenance_teams", "maintenance_teams", ["territory_id", "code"])
        op.alter_column(
            "maintenance_team_members", "territory_id", existing_type=sa.Integer(), nullable=False
        )
        op.drop_constraint(
            "pk_maintenance_team_members", "maintenance_team_members", type_="primary"
        )
        op.create_primary_key(
            "pk_maintenance_team_members",
            "maintenance_team_members",
            ["territory_id", "team", "user_id"],
        )
        op.create_foreign_key(
            MEMBERS_FK,
            "maintenance_team_members",
            "maintenance_teams",
            ["territory_id", "team"],
            ["territory_id", "code"],
            ondelete="CASCADE",
        )
    # Every territory without a team gets the four trades (the first one had them already).
    bind = op.get_bind()
    now = datetime.now(UTC)
    bare = bind.execute(
        sa.text(
            "SELECT id FROM territories WHERE id NOT IN (SELECT territory_id FROM maintenance_teams)"
        )
    ).scalars()
    teams = sa.table(
        "maintenance_teams",
        sa.column("territory_id", sa.Integer()),
        sa.column("code", sa.String()),
        sa.column("name", sa.String()),
        sa.column("active", sa.Boolean()),
        sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    rows = [
        {"territory_id": t, "code": code, "name": name, "active": True, "created_at": now}
        for t in list(bare)
        for code, name in TEAMS
    ]
    if rows:
        op.bulk_insert(teams, rows)


def downgrade() -> None:
    # One team per code again: a code's team of the lowest territory stays, the others go (their
    # members with them).
    taken = (
        "EXISTS (SELECT 1 FROM maintenance_teams o WHERE o.code = {t}.{c} "
        "AND o.territory_id < {t}.territory_id)"
    )
    op.execute(
        "DELETE FROM maintenance_team_members WHERE "
        + taken.format(t="maintenance_team_members", c="team")
    )
    op.execute(
        "DELETE FROM maintenance_teams WHERE " + taken.format(t="maintenance_teams", c="code")
    )
    if op.get_bind().dialect.name == "sqlite":
        _members_table("_maintenance_team_members_old", per_territory=False)
        _swap(
            "maintenance_team_members",
            "_maintenance_team_members_old",
            "team, user_id",
            "maintenance_team_members",
        )
        _teams_table("_maintenance_teams_old", per_territory=False)
        _swap(
            "maintenance_teams",
            "_maintenance_teams_old",
            "territory_id, code, name, active, created_at",
            "maintenance_teams",
        )
    else:
        op.drop_constraint(MEMBERS_FK, "maintenance_team_members", type_="foreignkey")
        op.drop_constraint(
            "pk_maintenance_team_members", "maintenance_team_members", type_="primary"
        )
        op.create_primary_key(
            "pk_maintenance_team_members", "maintenance_team_members", ["team", "user_id"]
        )
        op.drop_column("maintenance_team_members", "territory_id")
        op.drop_constraint("pk_maintenance_teams", "maintenance_teams", type_="primary")
        op.create_primary_key("pk_maintenance_teams", "maintenance_teams", ["code"])
    op.create_index(
        "ix_maintenance_teams_territory_id", "maintenance_teams", ["territory_id"], unique=False
    )
