"""Sensors: each hour's published means kept beside its sums (on PostgreSQL, by a trigger), so the open
data snapshot of traffic and air quality reads them instead of parsing every hour's JSON.

Revision ID: 0037_sensors_hourly_means
Revises: 0035_sensors_lorawan
"""

from alembic import op
import sqlalchemy as sa


revision = "0037_sensors_hourly_means"
down_revision = "0035_sensors_lorawan"
branch_labels = None
depends_on = None

# column -> (measure in sums_json, decimals published), as app.models.sensors.HOURLY_MEANS when written
MEANS = {
    "mean_intensity": ("intensity", 1),
    "mean_occupancy": ("occupancy", 3),
    "mean_speed": ("averageVehicleSpeed", 1),
    "mean_congested": ("congested", 3),
    "mean_no2": ("no2", 1),
    "mean_pm10": ("pm10", 1),
    "mean_pm25": ("pm25", 1),
    "mean_o3": ("o3", 1),
}


def _function() -> str:
    """The hour's sum of each measure over its samples, rounded as published; NULL when the measure is
    missing or not a number, when there are no samples, or when the sums are not JSON (as the Python
    writer, which reads such an hour as ``{}``)."""
    record = ", ".join(f'"{measure}" json' for measure, _ in MEANS.values())
    sets = "\n".join(
        f"        NEW.{column} := CASE WHEN json_typeof(m.\"{measure}\") = 'number' AND NEW.samples > 0 "
        f'THEN round((m."{measure}"::text::float8 / NEW.samples)::numeric, {digits}) END;'
        for column, (measure, digits) in MEANS.items()
    )
    nulls = "\n".join(f"        NEW.{column} := NULL;" for column in MEANS)
    return f"""
CREATE OR REPLACE FUNCTION sensor_hourly_means() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    m record;
BEGIN
    BEGIN
        SELECT * INTO m FROM json_to_record(NEW.sums_json::json) AS x({record});
{sets}
    EXCEPTION WHEN others THEN
{nulls}
    END;
    RETURN NEW;
END
$$"""


def upgrade() -> None:
    with op.batch_alter_table("sensor_hourly", schema=None) as batch_op:
        for column in MEANS:
            batch_op.add_column(sa.Column(column, sa.Numeric(), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_function())
    op.execute(
        "CREATE TRIGGER sensor_hourly_means BEFORE INSERT OR UPDATE "
        "ON sensor_hourly FOR EACH ROW EXECUTE FUNCTION sensor_hourly_means()"
    )
    op.execute("UPDATE sensor_hourly SET samples = samples")  # the hours already kept


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS sensor_hourly_means ON sensor_hourly")
        op.execute("DROP FUNCTION IF EXISTS sensor_hourly_means()")
    with op.batch_alter_table("sensor_hourly", schema=None) as batch_op:
        for column in reversed(list(MEANS)):
            batch_op.drop_column(column)
