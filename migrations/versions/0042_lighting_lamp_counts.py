"""Lighting: how many lights each territory has per group and wattage (light_lamp_counts), kept by
triggers on ``streetlights`` (every insert, delete and change of territory, group or wattage,
whatever writes it) and filled from the lights already there; the energy page reads these rows
instead of counting the fleet.

SQLite drops a table's triggers when a batch migration copies it: a later migration that alters
``streetlights`` in a batch must create them again (as 0040_reports_territory does for reports').

Revision ID: 0042_lighting_lamp_counts
Revises: 0041_lighting_territory_paging
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0042_lighting_lamp_counts"
down_revision = "0041_lighting_territory_paging"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
COUNTED = "territory_id, group_id, nominal_w"

TAKE = """
    UPDATE light_lamp_counts SET lamps = lamps - 1
     WHERE territory_id = OLD.territory_id AND group_id = coalesce(OLD.group_id, '')
       AND nominal_w = OLD.nominal_w;"""

ADD = """
    INSERT INTO light_lamp_counts (territory_id, group_id, nominal_w, lamps)
    SELECT NEW.territory_id, coalesce(NEW.group_id, ''), NEW.nominal_w, 1 WHERE true
    ON CONFLICT (territory_id, group_id, nominal_w)
    DO UPDATE SET lamps = light_lamp_counts.lamps + 1;"""


def upgrade() -> None:
    op.create_table(
        "light_lamp_counts",
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("group_id", String(length=64), nullable=False),
        sa.Column("nominal_w", sa.Float(), nullable=False),
        sa.Column("lamps", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "territory_id", "group_id", "nominal_w", name=op.f("pk_light_lamp_counts")
        ),
    )
    op.execute(
        "INSERT INTO light_lamp_counts (territory_id, group_id, nominal_w, lamps) "
        "SELECT territory_id, coalesce(group_id, ''), nominal_w, count(*) FROM streetlights "
        "GROUP BY territory_id, coalesce(group_id, ''), nominal_w"
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE TRIGGER tr_lamp_counts_insert AFTER INSERT ON streetlights BEGIN {ADD} END"
        )
        op.execute(
            f"CREATE TRIGGER tr_lamp_counts_update AFTER UPDATE OF {COUNTED} ON streetlights "
            f"BEGIN {TAKE} {ADD} END"
        )
        op.execute(
            f"CREATE TRIGGER tr_lamp_counts_delete AFTER DELETE ON streetlights BEGIN {TAKE} END"
        )
        return
    op.execute(
        f"""CREATE FUNCTION lamp_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN {TAKE}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {ADD}
  END IF;
  RETURN NULL;
END $$"""
    )
    op.execute(
        f"CREATE TRIGGER tr_lamp_counts AFTER INSERT OR DELETE OR UPDATE OF {COUNTED} ON streetlights "
        "FOR EACH ROW EXECUTE FUNCTION lamp_counts_apply()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER tr_lamp_counts_{name}")
    else:
        op.execute("DROP TRIGGER tr_lamp_counts ON streetlights")
        op.execute("DROP FUNCTION lamp_counts_apply()")
    op.drop_table("light_lamp_counts")
