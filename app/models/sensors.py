"""Sensors of the territory: inventory, measures, hourly history, waste-centre estimates.

- ``sensors``: one device (``WC-AUD-01``, ``TR-RUS-01``...), its kind
  (``waste_centre``, ``traffic``, ``air_quality``, ``fill_level``, ``solar``,
  ``water_meter``, ``energy_meter``, ``counter``), place and latest values
  (JSON) with ``last_seen_at``; ``meta`` holds kind-specific facts (a
  crossing's name and direction, a waste centre's bays, a solar site's peak
  power, orientation and tilt, a meter's building and floor area, a counting
  device's operator and privacy statement); ``dev_eui`` is the LoRaWAN
  device EUI of a device whose uplinks arrive through a network server.
- ``sensor_measures``: raw readings (JSON), kept a few days;
  ``sensor_hourly``: hourly sums (JSON) and the published means, kept.
- ``waste_centre_estimates``: the waiting time computed from the gates, one row
  per minute at most: the history behind the forecast by hour of week.
- ``waste_wait_watches``: a person asked to be told when the wait drops under
  a threshold today.
- ``solar_targets``: a territory's solar production target for a year (MWh, and installed
  peak power in kWc if the plan sets one) and the prices that turn its production into euros
  (the kWh bought from the grid that self-consumption avoids, the kWh sold); one row per
  territory and year, each territory's staff set their own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.models.territory import territory_field

SENSOR_KINDS = (
    "waste_centre",
    "traffic",
    "air_quality",
    "fill_level",
    "solar",
    "water_meter",
    "energy_meter",
    "counter",
)


class Sensor(SQLModel, table=True):
    __tablename__ = "sensors"

    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=20, index=True)
    name: str = Field(max_length=200)
    commune_insee: str | None = Field(default=None, max_length=5)
    territory_id: int | None = territory_field()  # its commune's, else the default territory
    lat: float | None = None
    lon: float | None = None
    reporting_period_s: int = 60
    meta: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    last_values: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    last_seen_at: datetime | None = None
    offline: bool = False
    dev_eui: str | None = Field(default=None, max_length=16, unique=True)  # LoRaWAN, lower-case hex


class SensorMeasure(SQLModel, table=True):
    __tablename__ = "sensor_measures"
    __table_args__ = (
        Index("ix_sensor_measures_sensor_ts", "sensor_id", "ts"),
        Index("ix_sensor_measures_ts", "ts"),  # the roll-up drops raw measures by age
    )

    id: int | None = Field(default=None, primary_key=True)
    sensor_id: str = Field(max_length=64)
    ts: datetime
    values_json: str = Field(sa_column=Column(Text, nullable=False))


# column of ``sensor_hourly`` -> (measure in ``sums_json``, decimals published)
HOURLY_MEANS = {
    "mean_intensity": ("intensity", 1),
    "mean_occupancy": ("occupancy", 3),
    "mean_speed": ("averageVehicleSpeed", 1),
    "mean_congested": ("congested", 3),
    "mean_no2": ("no2", 1),
    "mean_pm10": ("pm10", 1),
    "mean_pm25": ("pm25", 1),
    "mean_o3": ("o3", 1),
}


def _mean_column() -> Column[float]:
    # numeric keeps the published scale (0.100 stays 0.100); read as float where Python reads it
    return Column(Numeric(asdecimal=False), nullable=True)


class SensorHourly(SQLModel, table=True):
    __tablename__ = "sensor_hourly"
    __table_args__ = (UniqueConstraint("sensor_id", "hour", name="uq_sensor_hourly"),)

    id: int | None = Field(default=None, primary_key=True)
    sensor_id: str = Field(max_length=64)
    hour: datetime = Field(index=True)
    samples: int = 0
    sums_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # measure -> sum
    # The hour's means as open data publishes them (sum / samples, rounded: see HOURLY_MEANS), kept by
    # PostgreSQL's trigger ``sensor_hourly_means`` whenever the row is written, so a snapshot reads
    # them instead of parsing every hour's JSON (``app.sensors.opendata``). Left empty on SQLite,
    # where the snapshot computes them from ``sums_json`` in Python.
    mean_intensity: float | None = Field(default=None, sa_column=_mean_column())
    mean_occupancy: float | None = Field(default=None, sa_column=_mean_column())
    mean_speed: float | None = Field(default=None, sa_column=_mean_column())
    mean_congested: float | None = Field(default=None, sa_column=_mean_column())
    mean_no2: float | None = Field(default=None, sa_column=_mean_column())
    mean_pm10: float | None = Field(default=None, sa_column=_mean_column())
    mean_pm25: float | None = Field(default=None, sa_column=_mean_column())
    mean_o3: float | None = Field(default=None, sa_column=_mean_column())


class WasteCentreEstimate(SQLModel, table=True):
    __tablename__ = "waste_centre_estimates"
    __table_args__ = (UniqueConstraint("sensor_id", "ts", name="uq_waste_centre_estimate"),)

    id: int | None = Field(default=None, primary_key=True)
    sensor_id: str = Field(max_length=64)
    ts: datetime = Field(index=True)
    wait_min: float | None = None
    method: str = Field(default="none", max_length=8)
    queue: int | None = None
    on_site: int | None = None
    saturated: bool = False


class WasteWaitWatch(SQLModel, table=True):
    __tablename__ = "waste_wait_watches"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    sensor_id: str = Field(max_length=64)
    threshold_min: int
    created_at: datetime = Field(default_factory=utcnow)
    until: datetime
    notified_at: datetime | None = None


class SolarTarget(SQLModel, table=True):
    __tablename__ = "solar_targets"

    territory_id: int = Field(
        foreign_key="territories.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    production_mwh: float
    capacity_kw: float | None = None
    purchase_eur_kwh: float
    sale_eur_kwh: float
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
