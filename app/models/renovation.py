"""Renovation guide: the aid rules (national ones loaded from a versioned file, local ones written by
staff), the income ceilings of the rules' year, and the residents' requests for an appointment.

A local aid belongs to the territory whose staff wrote it, a request to the territory whose host it
was made on (``territory_id``); national rules and ceilings belong to none (app.renovation.scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel

from app.db import utcnow
from app.models.territory import territory_field

SCOPES = ("national", "local")
KINDS = ("grant", "loan")
CALCS = ("fixed", "per_unit", "rate")
APPOINTMENT_STATES = ("new", "called", "done")


class AidRule(SQLModel, table=True):
    """One aid line: what it pays (a fixed amount, an amount per m² or per item, or a rate of the
    works cost up to an expense ceiling), capped by ``aid_ceiling``, and when it applies. Empty
    condition lists mean "any"; ``works_min``/``works_max`` count the energy works of the project
    (the eco-loan's tiers)."""

    __tablename__ = "renovation_rules"
    __table_args__ = (
        UniqueConstraint("year", "key", name="uq_renovation_rules_year_key"),
        Index("ix_renovation_rules_year_active", "year", "active"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80)
    year: int
    scope: str = Field(default="national", max_length=8)  # national, local
    program: str = Field(max_length=20)  # mpr, cee, ecoptz, mpa, local
    title: str = Field(max_length=160)
    kind: str = Field(default="grant", max_length=6)  # grant, loan
    calc: str = Field(default="fixed", max_length=8)  # fixed, per_unit, rate
    amount: int = 0  # euros (fixed), or euros per unit (per_unit)
    rate: int = 0  # percent of the works cost (rate)
    expense_ceiling: int | None = None  # euros of works the rate applies to
    aid_ceiling: int | None = None  # euros: the aid never passes it
    unit_ceiling: int | None = None  # units counted at most (per_unit)
    brackets: str = Field(default="", max_length=60)  # income brackets, comma separated
    communes: str = Field(default="", max_length=200)  # INSEE codes, comma separated
    min_home_age: int | None = None  # years since the home was built, at least
    built_before: int | None = None  # the home was built before this year
    occupants: str = Field(default="", max_length=80)  # occupant categories (MaPrimeAdapt')
    works: str = Field(default="", max_length=240)  # works keys; the project has one of them
    heating: str = Field(default="", max_length=80)  # current heating, one of them
    works_min: int | None = None
    works_max: int | None = None
    source_url: str = Field(default="", max_length=300)
    source_title: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=400)
    verified: bool = True
    active: bool = True
    # A local aid's territory (its staff's); None for a national rule.
    territory_id: int | None = Field(default=None, foreign_key="territories.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


@event.listens_for(AidRule, "before_insert")
def _local_aid_territory(_mapper: Any, connection: Any, rule: AidRule) -> None:
    """A local aid written without its territory takes the default territory's (the staff's form
    sets it itself; this covers the other writers of the ORM: the demo, tests)."""
    if rule.scope == "local" and rule.territory_id is None:
        found = connection.execute(text("SELECT min(id) FROM territories")).scalar()
        if found is not None:
            rule.territory_id = int(found)


class IncomeCeiling(SQLModel, table=True):
    """The Anah income ceilings of a year (revenu fiscal de référence, euros), by household size;
    ``persons`` 0 holds what each person past five adds."""

    __tablename__ = "renovation_ceilings"

    year: int = Field(primary_key=True)
    region: str = Field(primary_key=True, max_length=8)  # hors_idf
    persons: int = Field(primary_key=True)
    very_modest: int
    modest: int
    intermediate: int
    source_url: str = Field(default="", max_length=300)
    note: str = Field(default="", max_length=400)
    verified: bool = True


class Appointment(SQLModel, table=True):
    """A resident's request for an appointment with a France Rénov' adviser, with the answers and
    the aids shown; staff call back and follow it (new, called, done)."""

    __tablename__ = "renovation_appointments"
    __table_args__ = (
        Index("ix_renovation_appointments_status", "status", "created_at"),
        # A territory's requests, newest first (the staff's list).
        Index("ix_renovation_appointments_territory", "territory_id", "status", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    phone: str = Field(default="", max_length=30)
    email: str = Field(default="", max_length=254)
    preferred: str = Field(default="", max_length=200)  # preferred times, in the resident's words
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    territory_id: int | None = territory_field()  # the territory whose host it was made on
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))  # answers and aids
    consent_at: datetime
    status: str = Field(default="new", max_length=8)
    staff_note: str = Field(default="", max_length=500)
    user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
