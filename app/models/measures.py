"""The one time-series store: every measure of every domain, downsampled the same way.

An entity is named by its NGSI-LD URN (``urn:ngsi-ld:Streetlight:SL-AUD-0001``),
a measure by its attribute name (``illuminanceLevel``, ``powerConsumption``,
``no2``...). ``measure_hourly`` keeps each UTC hour's count, sum, min and max
(weeks); ``measure_daily`` the same per UTC day (kept). Averages, sums, minima
and maxima over any period are computed from these, never from raw readings.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class MeasureHourly(SQLModel, table=True):
    __tablename__ = "measure_hourly"
    __table_args__ = (
        UniqueConstraint("entity", "measure", "hour", name="uq_measure_hourly"),
        Index("ix_measure_hourly_hour", "hour"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=120)
    measure: str = Field(max_length=40)
    hour: datetime  # start of the UTC hour
    count: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None


class MeasureDaily(SQLModel, table=True):
    __tablename__ = "measure_daily"
    __table_args__ = (UniqueConstraint("entity", "measure", "day", name="uq_measure_daily"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=120)
    measure: str = Field(max_length=40)
    day: date  # UTC day
    count: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None
