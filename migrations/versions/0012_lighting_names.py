"""Constraint names for public lighting and sensors: the naming convention applied to the constraints created unnamed.

Revision ID: 0012_lighting_names
Revises: 0010_lighting_scale
"""

from migrations.naming import name_constraints

revision = "0012_lighting_names"
down_revision = "0010_lighting_scale"
branch_labels = None
depends_on = None

TABLES = [
    "light_cabinets",
    "light_calendars",
    "light_programs",
    "light_groups",
    "streetlights",
    "light_daily",
    "light_hourly",
    "light_readings",
    "light_alarms",
    "light_overrides",
    "light_commands",
    "light_energy_months",
    "light_energy_models",
    "sensors",
    "sensor_hourly",
    "sensor_measures",
    "waste_centre_estimates",
    "waste_wait_watches",
]


def upgrade() -> None:
    name_constraints(TABLES)


def downgrade() -> None:
    pass  # the names are kept: harmless to the earlier schema (see migrations/naming.py)
