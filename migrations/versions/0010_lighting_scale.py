"""Lighting: indexes for cabinets, alarms, command history and retention; energy kept per group and month.

The measured energy per group and local month is filled from the hourly and
daily history once here, then kept up to date by telemetry ingestion.

Revision ID: 0010_lighting_scale
Revises: 0005_lighting
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010_lighting_scale"
down_revision = "0005_lighting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("streetlights", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_streetlights_cabinet_id"), ["cabinet_id"], unique=False
        )
    with op.batch_alter_table("light_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_light_groups_cabinet_id"), ["cabinet_id"], unique=False
        )
    with op.batch_alter_table("light_commands", schema=None) as batch_op:
        batch_op.create_index(
            "ix_light_commands_light_issued", ["light_id", "issued_at"], unique=False
        )
        batch_op.create_index("ix_light_commands_finished", ["finished_at"], unique=False)
    with op.batch_alter_table("light_alarms", schema=None) as batch_op:
        batch_op.create_index(
            "ix_light_alarms_cleared_raised", ["cleared_at", "raised_at"], unique=False
        )
        batch_op.create_index("ix_light_alarms_raised", ["raised_at"], unique=False)
    with op.batch_alter_table("sensor_measures", schema=None) as batch_op:
        batch_op.create_index("ix_sensor_measures_ts", ["ts"], unique=False)
    op.create_table(
        "light_energy_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("group_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("energy_wh", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month", "group_id", name="uq_light_energy_months"),
    )
    op.create_table(
        "light_energy_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("nominal_w", sa.Float(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("kwh", sa.Float(), nullable=False),
        sa.Column("through", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_key", "nominal_w", "month", name="uq_light_energy_models"),
    )
    _fill_energy_months()


def _fill_energy_months() -> None:
    """Measured energy per group and local month from the history already stored."""
    from zoneinfo import ZoneInfo

    conn = op.get_bind()
    tz = (
        conn.execute(sa.text("SELECT timezone FROM territories ORDER BY id LIMIT 1")).scalar()
        or "Europe/Paris"
    )
    zone = ZoneInfo(tz)
    groups = dict(conn.execute(sa.text("SELECT id, group_id FROM streetlights")).all())
    months: dict[tuple[str, str], float] = {}
    hourly = sa.table(
        "light_hourly",
        sa.column("light_id"),
        sa.column("hour", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("energy_wh"),
    )
    daily = sa.table(
        "light_daily", sa.column("light_id"), sa.column("day", sa.Date()), sa.column("energy_wh")
    )
    for light_id, hour, wh in conn.execute(
        sa.select(hourly.c.light_id, hourly.c.hour, hourly.c.energy_wh)
    ):
        key = (hour.astimezone(zone).strftime("%Y-%m"), groups.get(light_id) or "")
        months[key] = months.get(key, 0.0) + float(wh or 0)
    for light_id, day, wh in conn.execute(
        sa.select(daily.c.light_id, daily.c.day, daily.c.energy_wh)
    ):
        key = (day.strftime("%Y-%m"), groups.get(light_id) or "")
        months[key] = months.get(key, 0.0) + float(wh or 0)
    if months:
        table = sa.table(
            "light_energy_months", sa.column("month"), sa.column("group_id"), sa.column("energy_wh")
        )
        op.bulk_insert(
            table, [{"month": m, "group_id": g, "energy_wh": wh} for (m, g), wh in months.items()]
        )


def downgrade() -> None:
    op.drop_table("light_energy_models")
    op.drop_table("light_energy_months")
    with op.batch_alter_table("sensor_measures", schema=None) as batch_op:
        batch_op.drop_index("ix_sensor_measures_ts")
    with op.batch_alter_table("light_alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_light_alarms_raised")
        batch_op.drop_index("ix_light_alarms_cleared_raised")
    with op.batch_alter_table("light_commands", schema=None) as batch_op:
        batch_op.drop_index("ix_light_commands_finished")
        batch_op.drop_index("ix_light_commands_light_issued")
    with op.batch_alter_table("light_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_light_groups_cabinet_id"))
    with op.batch_alter_table("streetlights", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_streetlights_cabinet_id"))
