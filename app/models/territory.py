"""The territory and its communes: data, not constants, so one install can serve several."""

from __future__ import annotations

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class Territory(SQLModel, table=True):
    __tablename__ = "territories"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    timezone: str = Field(default="Europe/Paris", max_length=64)
    lat: float
    lon: float


class Commune(SQLModel, table=True):
    __tablename__ = "communes"

    insee: str = Field(primary_key=True, max_length=5)
    territory_id: int = Field(foreign_key="territories.id", index=True)
    name: str = Field(max_length=120)
    postcode: str = Field(max_length=5)
    lat: float
    lon: float
    # CAP polygon text ("lat,lon" points, closed) of the commune's outline, for CAP export.
    outline: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
