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
  ``sensor_hourly``: hourly means (JSON), kept.
- ``waste_centre_estimates``: the waiting time computed from the gates, one row
  per minute at most: the history behind the forecast by hour of week.
- ``waste_wait_watches``: a person asked to be told when the wait drops under
  a threshold today.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import utcnow

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


class SensorHourly(SQLModel, table=True):
    __tablename__ = "sensor_hourly"
    __table_args__ = (UniqueConstraint("sensor_id", "hour", name="uq_sensor_hourly"),)

    id: int | None = Field(default=None, primary_key=True)
    sensor_id: str = Field(max_length=64)
    hour: datetime = Field(index=True)
    samples: int = 0
    sums_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # measure -> sum


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
