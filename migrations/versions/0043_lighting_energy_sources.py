"""Lighting: what the energy page reads, kept where it is written, so that the page's cost does not
grow with the fleet.

- ``light_lamp_counts`` counts the lights per territory, program, calendar (those of their group; 0
  for none), wattage and technology, instead of per group and wattage: a territory has thousands of
  groups and a handful of programs. Kept by triggers on ``streetlights`` (every insert, delete and
  change of territory, group, wattage or technology) and on ``light_groups`` (a change of program or
  calendar moves its lights' counts).
- ``light_territory_energy``: the measured energy per territory and local month, kept by triggers on
  ``light_energy_months`` (whatever adds to a group's month) and on ``light_groups`` (a group moved
  to another territory takes its months with it). Lights outside any group have no territory there,
  as before.

SQLite drops a table's triggers when a batch migration copies it: a later migration that alters
``streetlights``, ``light_groups`` or ``light_energy_months`` in a batch must create them again.

Revision ID: 0043_lighting_energy_sources
Revises: 0042_lighting_lamp_counts
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0043_lighting_energy_sources"
down_revision = "0042_lighting_lamp_counts"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
KEY = "territory_id, program_id, calendar_id, nominal_w, technology"


def _source(row: str) -> str:
    return (
        f"coalesce((SELECT program_id FROM light_groups WHERE id = {row}.group_id), 0), "
        f"coalesce((SELECT calendar_id FROM light_groups WHERE id = {row}.group_id), 0)"
    )


TAKE_LIGHT = f"""
    UPDATE light_lamp_counts SET lamps = lamps - 1
     WHERE territory_id = OLD.territory_id
       AND (program_id, calendar_id) = (SELECT {_source("OLD")})
       AND nominal_w = OLD.nominal_w AND technology = OLD.technology;"""

ADD_LIGHT = f"""
    INSERT INTO light_lamp_counts ({KEY}, lamps)
    SELECT NEW.territory_id, {_source("NEW")}, NEW.nominal_w, NEW.technology, 1 WHERE true
    ON CONFLICT ({KEY}) DO UPDATE SET lamps = light_lamp_counts.lamps + 1;"""

# A group's program or calendar changed: its lights leave the old source for the new one.
MOVE_GROUP = f"""
    UPDATE light_lamp_counts SET lamps = lamps - (
        SELECT count(*) FROM streetlights s
         WHERE s.group_id = NEW.id AND s.territory_id = light_lamp_counts.territory_id
           AND s.nominal_w = light_lamp_counts.nominal_w
           AND s.technology = light_lamp_counts.technology)
     WHERE program_id = coalesce(OLD.program_id, 0) AND calendar_id = coalesce(OLD.calendar_id, 0);
    INSERT INTO light_lamp_counts ({KEY}, lamps)
    SELECT s.territory_id, coalesce(NEW.program_id, 0), coalesce(NEW.calendar_id, 0), s.nominal_w,
           s.technology, count(*)
      FROM streetlights s WHERE s.group_id = NEW.id
     GROUP BY s.territory_id, s.nominal_w, s.technology
    ON CONFLICT ({KEY}) DO UPDATE SET lamps = light_lamp_counts.lamps + excluded.lamps;"""


def _energy(row: str, sign: str) -> str:
    return f"""
    INSERT INTO light_territory_energy (territory_id, month, energy_wh)
    SELECT g.territory_id, {row}.month, {sign}{row}.energy_wh FROM light_groups g
     WHERE g.id = {row}.group_id AND g.territory_id IS NOT NULL
    ON CONFLICT (territory_id, month)
    DO UPDATE SET energy_wh = light_territory_energy.energy_wh + excluded.energy_wh;"""


# A group moved to another territory: its measured months go with it.
MOVE_ENERGY = """
    INSERT INTO light_territory_energy (territory_id, month, energy_wh)
    SELECT OLD.territory_id, e.month, -sum(e.energy_wh) FROM light_energy_months e
     WHERE e.group_id = OLD.id AND OLD.territory_id IS NOT NULL GROUP BY e.month
    ON CONFLICT (territory_id, month)
    DO UPDATE SET energy_wh = light_territory_energy.energy_wh + excluded.energy_wh;
    INSERT INTO light_territory_energy (territory_id, month, energy_wh)
    SELECT NEW.territory_id, e.month, sum(e.energy_wh) FROM light_energy_months e
     WHERE e.group_id = NEW.id AND NEW.territory_id IS NOT NULL GROUP BY e.month
    ON CONFLICT (territory_id, month)
    DO UPDATE SET energy_wh = light_territory_energy.energy_wh + excluded.energy_wh;"""

# What 0042_lighting_lamp_counts counted (per territory, group and wattage), for the downgrade.
_OLD_COUNTED = "territory_id, group_id, nominal_w"
_OLD_TAKE = """
    UPDATE light_lamp_counts SET lamps = lamps - 1
     WHERE territory_id = OLD.territory_id AND group_id = coalesce(OLD.group_id, '')
       AND nominal_w = OLD.nominal_w;"""
_OLD_ADD = """
    INSERT INTO light_lamp_counts (territory_id, group_id, nominal_w, lamps)
    SELECT NEW.territory_id, coalesce(NEW.group_id, ''), NEW.nominal_w, 1 WHERE true
    ON CONFLICT (territory_id, group_id, nominal_w)
    DO UPDATE SET lamps = light_lamp_counts.lamps + 1;"""

LIGHT_COLUMNS = "territory_id, group_id, nominal_w, technology"
SQLITE_TRIGGERS = {
    "tr_lamp_counts_insert": f"AFTER INSERT ON streetlights BEGIN {ADD_LIGHT} END",
    "tr_lamp_counts_update": f"AFTER UPDATE OF {LIGHT_COLUMNS} ON streetlights "
    f"BEGIN {TAKE_LIGHT} {ADD_LIGHT} END",
    "tr_lamp_counts_delete": f"AFTER DELETE ON streetlights BEGIN {TAKE_LIGHT} END",
    "tr_lamp_counts_group": "AFTER UPDATE OF program_id, calendar_id ON light_groups "
    "WHEN OLD.program_id IS NOT NEW.program_id OR OLD.calendar_id IS NOT NEW.calendar_id "
    f"BEGIN {MOVE_GROUP} END",
    "tr_territory_energy_insert": f"AFTER INSERT ON light_energy_months BEGIN {_energy('NEW', '')} END",
    "tr_territory_energy_update": "AFTER UPDATE OF month, group_id, energy_wh ON light_energy_months "
    f"BEGIN {_energy('OLD', '-')} {_energy('NEW', '')} END",
    "tr_territory_energy_delete": f"AFTER DELETE ON light_energy_months BEGIN {_energy('OLD', '-')} END",
    "tr_territory_energy_group": "AFTER UPDATE OF territory_id ON light_groups "
    f"WHEN OLD.territory_id IS NOT NEW.territory_id BEGIN {MOVE_ENERGY} END",
}

PG_FUNCTIONS = {
    # name: (body, table, events)
    "lamp_counts_apply": (
        f"""IF TG_OP IN ('UPDATE', 'DELETE') THEN {TAKE_LIGHT}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {ADD_LIGHT}
  END IF;""",
        "streetlights",
        f"INSERT OR DELETE OR UPDATE OF {LIGHT_COLUMNS}",
    ),
    "lamp_counts_group": (
        f"""IF OLD.program_id IS DISTINCT FROM NEW.program_id
     OR OLD.calendar_id IS DISTINCT FROM NEW.calendar_id THEN {MOVE_GROUP}
  END IF;""",
        "light_groups",
        "UPDATE OF program_id, calendar_id",
    ),
    "territory_energy_apply": (
        f"""IF TG_OP IN ('UPDATE', 'DELETE') THEN {_energy("OLD", "-")}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {_energy("NEW", "")}
  END IF;""",
        "light_energy_months",
        "INSERT OR DELETE OR UPDATE OF month, group_id, energy_wh",
    ),
    "territory_energy_group": (
        f"""IF OLD.territory_id IS DISTINCT FROM NEW.territory_id THEN {MOVE_ENERGY}
  END IF;""",
        "light_groups",
        "UPDATE OF territory_id",
    ),
}


def _drop_lamp_counts(sqlite: bool) -> None:
    if sqlite:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER tr_lamp_counts_{name}")
    else:
        op.execute("DROP TRIGGER tr_lamp_counts ON streetlights")
        op.execute("DROP FUNCTION lamp_counts_apply()")
    op.drop_table("light_lamp_counts")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _drop_lamp_counts(sqlite)
    op.create_table(
        "light_lamp_counts",
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("nominal_w", sa.Float(), nullable=False),
        sa.Column("technology", String(length=20), nullable=False),
        sa.Column("lamps", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "territory_id",
            "program_id",
            "calendar_id",
            "nominal_w",
            "technology",
            name=op.f("pk_light_lamp_counts"),
        ),
    )
    op.create_table(
        "light_territory_energy",
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("month", String(length=7), nullable=False),
        sa.Column("energy_wh", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("territory_id", "month", name=op.f("pk_light_territory_energy")),
    )
    op.execute(
        f"INSERT INTO light_lamp_counts ({KEY}, lamps) "
        "SELECT s.territory_id, coalesce(g.program_id, 0), coalesce(g.calendar_id, 0), s.nominal_w, "
        "s.technology, count(*) FROM streetlights s LEFT JOIN light_groups g ON g.id = s.group_id "
        "GROUP BY s.territory_id, coalesce(g.program_id, 0), coalesce(g.calendar_id, 0), "
        "s.nominal_w, s.technology"
    )
    op.execute(
        "INSERT INTO light_territory_energy (territory_id, month, energy_wh) "
        "SELECT g.territory_id, e.month, sum(e.energy_wh) FROM light_energy_months e "
        "JOIN light_groups g ON g.id = e.group_id WHERE g.territory_id IS NOT NULL "
        "GROUP BY g.territory_id, e.month"
    )
    if sqlite:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        return
    for name, (body, table, events) in PG_FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n  {body}\n  RETURN NULL;\nEND $$"
        )
        op.execute(
            f"CREATE TRIGGER tr_{name} AFTER {events} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    else:
        for name, (_body, table, _events) in PG_FUNCTIONS.items():
            op.execute(f"DROP TRIGGER tr_{name} ON {table}")
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("light_territory_energy")
    op.drop_table("light_lamp_counts")
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
    # The triggers of 0042_lighting_lamp_counts, as it made them.
    if sqlite:
        op.execute(
            f"CREATE TRIGGER tr_lamp_counts_insert AFTER INSERT ON streetlights BEGIN {_OLD_ADD} END"
        )
        op.execute(
            f"CREATE TRIGGER tr_lamp_counts_update AFTER UPDATE OF {_OLD_COUNTED} ON streetlights "
            f"BEGIN {_OLD_TAKE} {_OLD_ADD} END"
        )
        op.execute(
            f"CREATE TRIGGER tr_lamp_counts_delete AFTER DELETE ON streetlights BEGIN {_OLD_TAKE} END"
        )
    else:
        op.execute(
            f"""CREATE FUNCTION lamp_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN {_OLD_TAKE}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {_OLD_ADD}
  END IF;
  RETURN NULL;
END $$"""
        )
        op.execute(
            f"CREATE TRIGGER tr_lamp_counts AFTER INSERT OR DELETE OR UPDATE OF {_OLD_COUNTED} "
            "ON streetlights FOR EACH ROW EXECUTE FUNCTION lamp_counts_apply()"
        )
