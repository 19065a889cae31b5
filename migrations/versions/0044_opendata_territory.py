"""Open data per territory: publication choices, snapshots, uploaded datasets, downloads and
readers' reports belong to a territory (those already there to the first territory); a choice and
a snapshot are kept per territory and dataset, an uploaded dataset's slug is unique in its territory

Revision ID: 0044_opendata_territory
Revises: 0018_opendata_names
"""

from alembic import op
import sqlalchemy as sa


revision = "0044_opendata_territory"
down_revision = "0018_opendata_names"
branch_labels = None
depends_on = "0039_core_territory_data"

KEYED = ("opendata_settings", "opendata_snapshots")  # primary key (territory_id, slug)
OWNED = ("opendata_uploads", "opendata_downloads", "opendata_issues")  # territory_id, indexed
FIRST = "(SELECT min(id) FROM territories)"


def _fk(table: str) -> str:
    return f"fk_{table}_territory_id_territories"


def upgrade() -> None:
    for table in KEYED + OWNED:
        op.add_column(table, sa.Column("territory_id", sa.Integer(), nullable=True))
        op.execute(f"UPDATE {table} SET territory_id = {FIRST}")
    for table in KEYED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", ["territory_id", "slug"])
            batch_op.create_foreign_key(_fk(table), "territories", ["territory_id"], ["id"])
    for table in OWNED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(_fk(table), "territories", ["territory_id"], ["id"])
            batch_op.create_index(f"ix_{table}_territory_id", ["territory_id"], unique=False)
            if table == "opendata_uploads":
                batch_op.drop_constraint("uq_opendata_uploads_slug", type_="unique")
                batch_op.create_unique_constraint("uq_opendata_uploads", ["territory_id", "slug"])
            if table == "opendata_downloads":
                batch_op.drop_constraint("uq_opendata_downloads", type_="unique")
                batch_op.create_unique_constraint(
                    "uq_opendata_downloads", ["territory_id", "slug", "fmt", "day"]
                )


def downgrade() -> None:
    # Back to one territory's open data: the first territory's rows stay, the others' go.
    for table in KEYED + OWNED:
        op.execute(f"DELETE FROM {table} WHERE territory_id <> {FIRST}")
    for table in OWNED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "opendata_uploads":
                batch_op.drop_constraint("uq_opendata_uploads", type_="unique")
                batch_op.create_unique_constraint("uq_opendata_uploads_slug", ["slug"])
            if table == "opendata_downloads":
                batch_op.drop_constraint("uq_opendata_downloads", type_="unique")
                batch_op.create_unique_constraint("uq_opendata_downloads", ["slug", "fmt", "day"])
            batch_op.drop_index(f"ix_{table}_territory_id")
            batch_op.drop_constraint(_fk(table), type_="foreignkey")
            batch_op.drop_column("territory_id")
    for table in KEYED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(_fk(table), type_="foreignkey")
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", ["slug"])
            batch_op.drop_column("territory_id")
