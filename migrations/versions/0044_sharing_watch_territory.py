"""Sharing: a category watch belongs to the territory of the host where it was chosen (one
account may watch in several territories); the watches already there, to the first territory

Revision ID: 0044_sharing_watch_territory
Revises: 0035_shops_short_supply
"""

from alembic import op
import sqlalchemy as sa


revision = "0044_sharing_watch_territory"
down_revision = "0035_shops_short_supply"
branch_labels = None
depends_on = "0039_core_territory_data"


def _sqlite_table(columns: list[str]) -> None:
    """SQLite: the watches made again with their primary key on ``columns`` (batch mode would
    reflect the old key and warn), rows kept."""
    keep = ", ".join(
        ["user_id", "category", *(["territory_id"] if "territory_id" in columns else [])]
    )
    op.create_table(
        "_sharing_watches_new",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        *(
            [sa.Column("territory_id", sa.Integer(), nullable=False)]
            if "territory_id" in columns
            else []
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_sharing_watches_user_id_users", ondelete="CASCADE"
        ),
        *(
            [
                sa.ForeignKeyConstraint(
                    ["territory_id"],
                    ["territories.id"],
                    name="fk_sharing_watches_territory_id_territories",
                )
            ]
            if "territory_id" in columns
            else []
        ),
        sa.PrimaryKeyConstraint(*columns, name="pk_sharing_watches"),
    )
    op.execute(f"INSERT INTO _sharing_watches_new ({keep}) SELECT {keep} FROM sharing_watches")
    op.drop_table("sharing_watches")
    op.rename_table("_sharing_watches_new", "sharing_watches")


def upgrade() -> None:
    op.add_column("sharing_watches", sa.Column("territory_id", sa.Integer(), nullable=True))
    op.execute("UPDATE sharing_watches SET territory_id = (SELECT min(id) FROM territories)")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_table(["user_id", "category", "territory_id"])
        return
    op.alter_column("sharing_watches", "territory_id", existing_type=sa.Integer(), nullable=False)
    op.create_foreign_key(
        "fk_sharing_watches_territory_id_territories",
        "sharing_watches",
        "territories",
        ["territory_id"],
        ["id"],
    )
    op.drop_constraint("pk_sharing_watches", "sharing_watches", type_="primary")
    op.create_primary_key(
        "pk_sharing_watches", "sharing_watches", ["user_id", "category", "territory_id"]
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM sharing_watches WHERE territory_id <> (SELECT min(id) FROM territories)"
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_table(["user_id", "category"])
        return
    op.drop_constraint("pk_sharing_watches", "sharing_watches", type_="primary")
    op.create_primary_key("pk_sharing_watches", "sharing_watches", ["user_id", "category"])
    op.drop_constraint(
        "fk_sharing_watches_territory_id_territories", "sharing_watches", type_="foreignkey"
    )
    op.drop_column("sharing_watches", "territory_id")
