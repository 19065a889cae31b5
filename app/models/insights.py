"""Decision support: communes' populations, the Luxembourg communes trips end in, monthly figures kept,
and the measured energy before the lighting's renovation.

- ``insights_populations``: residents per commune of the territory, with the year and the source
  (per 1,000 residents figures).
- ``insights_localities``: places across the border (a commune's centre or one of its districts)
  with the commune's official code and full name: a trip's end is placed in the commune of the
  nearest locality of its country.
- ``insights_monthly``: the figures of complete months, as computed (commune ``*`` marks a month
  computed with nothing in it), so a page reads a few rows instead of years of history; per
  territory (``territory_id``, 0 for the whole install as the command line computes it).
- ``insights_energy_baselines``: kWh and euros per lighting cabinet and month, imported from meter
  readings or invoices of the years before the renovation; they belong to the cabinet's territory.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.models.territory import territory_field


class InsightsPopulation(SQLModel, table=True):
    __tablename__ = "insights_populations"

    insee: str = Field(primary_key=True, foreign_key="communes.insee", max_length=5)
    population: int
    year: int
    source: str = Field(max_length=200)


class InsightsLocality(SQLModel, table=True):
    __tablename__ = "insights_localities"

    id: int | None = Field(default=None, primary_key=True)
    country: str = Field(max_length=2)
    commune_code: str = Field(max_length=12, index=True)
    commune_name: str = Field(max_length=120)
    name: str = Field(max_length=120)
    lat: float
    lon: float


class InsightsMonthly(SQLModel, table=True):
    __tablename__ = "insights_monthly"

    # The territory the figure was computed for (0: the whole install, outside a request).
    territory_id: int = Field(primary_key=True)
    figure: str = Field(primary_key=True, max_length=40)
    month: str = Field(primary_key=True, max_length=7)
    commune: str = Field(primary_key=True, max_length=5)
    value: float
    computed_at: datetime = Field(default_factory=utcnow)


class InsightsEnergyBaseline(SQLModel, table=True):
    __tablename__ = "insights_energy_baselines"

    cabinet_id: str = Field(primary_key=True, max_length=64)
    month: str = Field(primary_key=True, max_length=7)
    territory_id: int | None = territory_field()  # the cabinet's, as imported on its host
    kwh: float
    euros: float | None = None
    imported_at: datetime = Field(default_factory=utcnow)
