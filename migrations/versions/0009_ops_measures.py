"""Operations centre: the one time-series store (hourly and daily count, sum, min, max per entity and
measure), filled from the lights' and sensors' existing history.

Revision ID: 0009_ops_measures
Revises: 0008_ops_events
"""

import json
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0009_ops_measures"
down_revision = "0008_ops_events"
branch_labels = None
depends_on = ("0005_lighting",)

SENSOR_TYPES = {
    "traffic": "TrafficFlowObserved",
    "air_quality": "AirQualityObserved",
    "fill_level": "WasteContainer",
}
# (measure, value expression over the history row h) for lights, their groups and cabinets
LIGHT_MEASURES = (
    ("illuminanceLevel", "h.level_sum / 100.0", "h.level_sum > 0"),
    ("powerConsumption", "h.power_sum_w", "h.power_sum_w > 0"),
    ("energyConsumed", "h.energy_wh / 1000.0", "1 = 1"),
)


def _tables() -> None:
    for name, slot, slot_type in (
        ("measure_hourly", "hour", sqlmodel.sql.sqltypes.UTCDateTime()),
        ("measure_daily", "day", sa.Date()),
    ):
        op.create_table(
            name,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
            sa.Column("measure", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
            sa.Column(slot, slot_type, nullable=False),
            sa.Column("count", sa.Integer(), nullable=False),
            sa.Column("total", sa.Float(), nullable=False),
            sa.Column("low", sa.Float(), nullable=True),
            sa.Column("high", sa.Float(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("entity", "measure", slot, name=f"uq_{name}"),
        )
    op.create_index("ix_measure_hourly_hour", "measure_hourly", ["hour"], unique=False)


def _copy_lights(source: str, slot: str, target: str) -> None:
    for measure, value, keep in LIGHT_MEASURES:
        for entity_type, key in (
            ("Streetlight", "s.id"),
            ("StreetlightGroup", "s.group_id"),
            ("StreetlightControlCabinet", "s.cabinet_id"),
        ):
            op.execute(f"""
                INSERT INTO {target} (entity, measure, {slot}, count, total)
                SELECT 'urn:ngsi-ld:{entity_type}:' || {key}, '{measure}', h.{slot}, SUM(h.samples), SUM({value})
                FROM {source} h JOIN streetlights s ON s.id = h.light_id
                WHERE {key} IS NOT NULL AND {keep}
                GROUP BY {key}, h.{slot}""")


def _fold_recent_hours() -> None:
    """Hours not folded into days yet count in the daily rows too."""
    postgres = op.get_bind().dialect.name == "postgresql"
    day = "CAST(h.hour AT TIME ZONE 'UTC' AS DATE)" if postgres else "date(h.hour)"
    for measure, value, keep in LIGHT_MEASURES:
        for entity_type, key in (
            ("Streetlight", "s.id"),
            ("StreetlightGroup", "s.group_id"),
            ("StreetlightControlCabinet", "s.cabinet_id"),
        ):
            op.execute(f"""
                INSERT INTO measure_daily (entity, measure, day, count, total)
                SELECT 'urn:ngsi-ld:{entity_type}:' || {key}, '{measure}', {day}, SUM(h.samples), SUM({value})
                FROM light_hourly h JOIN streetlights s ON s.id = h.light_id
                WHERE {key} IS NOT NULL AND {keep}
                GROUP BY {key}, {day}
                ON CONFLICT (entity, measure, day)
                DO UPDATE SET count = measure_daily.count + excluded.count,
                              total = measure_daily.total + excluded.total""")


def _copy_sensors() -> None:
    bind = op.get_bind()
    kinds = dict(bind.execute(sa.text("SELECT id, kind FROM sensors")).all())
    hourly: dict[tuple[str, str, object], list[float]] = {}
    daily: dict[tuple[str, str, object], list[float]] = {}
    for sensor_id, hour, samples, sums in bind.execute(
        sa.text("SELECT sensor_id, hour, samples, sums_json FROM sensor_hourly")
    ).all():
        if sensor_id not in kinds:
            continue
        if isinstance(hour, str):
            hour = datetime.fromisoformat(hour)
        if hour.tzinfo is None:
            hour = hour.replace(tzinfo=UTC)
        entity = f"urn:ngsi-ld:{SENSOR_TYPES.get(kinds[sensor_id], 'Device')}:{sensor_id}"
        for name, total in json.loads(sums or "{}").items():
            for cells, key in (
                (hourly, (entity, name, hour)),
                (daily, (entity, name, hour.date())),
            ):
                cell = cells.setdefault(key, [0, 0.0])
                cell[0] += samples
                cell[1] += float(total)
    measure_hourly = sa.table(
        "measure_hourly",
        sa.column("entity"),
        sa.column("measure"),
        sa.column("hour", sqlmodel.sql.sqltypes.UTCDateTime()),
        sa.column("count"),
        sa.column("total"),
    )
    measure_daily = sa.table(
        "measure_daily",
        sa.column("entity"),
        sa.column("measure"),
        sa.column("day", sa.Date()),
        sa.column("count"),
        sa.column("total"),
    )
    if hourly:
        op.bulk_insert(
            measure_hourly,
            [
                {"entity": e, "measure": m, "hour": h, "count": c[0], "total": c[1]}
                for (e, m, h), c in hourly.items()
            ],
        )
    if daily:
        op.bulk_insert(
            measure_daily,
            [
                {"entity": e, "measure": m, "day": d, "count": c[0], "total": c[1]}
                for (e, m, d), c in daily.items()
            ],
        )


def upgrade() -> None:
    _tables()
    _copy_lights("light_hourly", "hour", "measure_hourly")
    _copy_lights("light_daily", "day", "measure_daily")
    _fold_recent_hours()
    _copy_sensors()


def downgrade() -> None:
    op.drop_index("ix_measure_hourly_hour", table_name="measure_hourly")
    op.drop_table("measure_daily")
    op.drop_table("measure_hourly")
