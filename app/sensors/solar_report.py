"""What the public buildings' solar sites produced, what it is worth and how far the territory is
from its target: the staff page ``/staff/solar`` and the decision-support figure.

The method of the regional energy observatories: installed peak power (kWc), energy produced and
injected into the grid, load factor (energy ÷ peak power × hours). A site's production on a day is
how far its counter (``energy_wh``) moved since the last reading of the day before it has one (the
first day it reports: within the day), from the daily rows of the time-series store, so a day with a
single reading still counts and a counter replaced on site (lower than before) restarts cleanly.

Self-consumed share: a site with a grid-export counter (``injected_wh``, Wh) gives it day by day;
otherwise its ``meta.injection`` says how it is connected: ``none`` (all self-consumed), ``total``
(all sold), ``surplus`` without a counter (unknown, shown as such and left out of the euros).

Euros: the kWh self-consumed are kWh not bought (purchase price), the kWh injected are sold (sale
price); CO₂ avoided: every kWh produced spares the grid's average emissions (ADEME factor). The
prices and the target of a year are set by each territory's staff for their territory
(``solar_targets``, per territory and year); until then the page says which assumed prices it
uses.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from app import months
from app.interfaces import Factor, MonthlyFigure
from app.models.measures import MeasureDaily
from app.sensors import scope
from app.models.sensors import Sensor, SolarTarget
from app.sensors.ngsi_ld import SENSOR_TYPES, urn
from app.territories import default_territory
from app.territories import zone as territory_zone

N_ = str  # marks a string for extraction; translated where it is shown

# ADEME Base Empreinte: electricity, average mix of mainland France (2022), per kWh consumed: what
# a kWh produced on a roof spares the grid.
KG_CO2E_PER_KWH = 0.052
CO2 = Factor(
    KG_CO2E_PER_KWH,
    "kg CO₂e",
    N_(
        "0,052 kg CO₂e évités par kWh produit (ADEME Base Empreinte, électricité, "
        "mix moyen France continentale)"
    ),
)
# Assumed until staff enter the year's prices: what the authority pays per kWh, taxes included, and
# what a kWh sold to the grid earns.
PURCHASE_EUR_KWH = 0.20
SALE_EUR_KWH = 0.04
INJECTION_MODES = {
    "none": N_("Autoconsommation totale"),
    "surplus": N_("Vente du surplus"),
    "total": N_("Vente totale"),
}


@dataclass(frozen=True)
class Prices:
    purchase: float
    sale: float
    assumed: bool


@dataclass
class Energy:
    """kWh produced, and of them injected (None: unknown) over a period."""

    produced: float = 0.0
    injected: float | None = 0.0
    days: int = 0

    def add(self, produced: float, injected: float | None) -> None:
        self.produced += produced
        self.injected = (
            None if injected is None or self.injected is None else self.injected + injected
        )
        self.days += 1

    def merge(self, other: Energy) -> None:
        self.produced += other.produced
        self.injected = (
            None
            if other.injected is None or self.injected is None
            else self.injected + other.injected
        )
        self.days += other.days

    @property
    def self_consumed(self) -> float | None:
        if self.injected is None:
            return None
        return max(0.0, self.produced - self.injected)

    @property
    def self_share(self) -> float | None:
        if self.injected is None or self.produced <= 0:
            return None
        return min(1.0, (self.self_consumed or 0.0) / self.produced)

    def saved_eur(self, prices: Prices) -> float | None:
        """Purchases avoided: the self-consumed kWh at the purchase price."""
        used = self.self_consumed
        return None if used is None else used * prices.purchase

    def sold_eur(self, prices: Prices) -> float | None:
        return None if self.injected is None else min(self.injected, self.produced) * prices.sale

    def euros(self, prices: Prices) -> float | None:
        saved, sold = self.saved_eur(prices), self.sold_eur(prices)
        return None if saved is None or sold is None else saved + sold

    @property
    def co2_kg(self) -> float:
        return self.produced * KG_CO2E_PER_KWH


@dataclass
class SiteFigures:
    sensor: Sensor
    peak_kw: float | None
    injection: str
    today: Energy = field(default_factory=Energy)
    month: Energy = field(default_factory=Energy)
    year: Energy = field(default_factory=Energy)
    year_hours: float = 0.0

    @property
    def load_factor(self) -> float | None:
        """Share of the year so far the site would have needed at full peak power for its energy."""
        if not self.peak_kw or self.year_hours <= 0:
            return None
        return self.year.produced / (self.peak_kw * self.year_hours)


@dataclass(frozen=True)
class MonthFigures:
    month: str  # YYYY-MM
    energy: Energy


@dataclass
class Report:
    today: dt.date
    year: int
    prices: Prices
    target: SolarTarget | None
    sites: list[SiteFigures]
    months: list[MonthFigures]
    total: Energy

    @property
    def reported_months(self) -> list[MonthFigures]:
        """The last 12 months from the first one with a reading (newest first)."""
        out: list[MonthFigures] = []
        for month in self.months:
            if out or month.energy.days:
                out.append(month)
        return out[::-1]

    @property
    def capacity_kw(self) -> float:
        return sum(s.peak_kw or 0.0 for s in self.sites)

    @property
    def progress(self) -> float | None:
        """The year's production so far as a share of the year's target."""
        if self.target is None or self.target.production_mwh <= 0:
            return None
        return self.total.produced / 1000.0 / self.target.production_mwh

    @property
    def capacity_progress(self) -> float | None:
        if self.target is None or not self.target.capacity_kw:
            return None
        return self.capacity_kw / self.target.capacity_kw

    @property
    def known(self) -> Energy:
        """This year's energy of the sites whose self-consumed share is known."""
        out = Energy()
        for s in self.sites:
            if s.year.injected is not None:
                out.merge(s.year)
        return out

    @property
    def unknown_sites(self) -> int:
        return sum(1 for s in self.sites if s.year.injected is None)


def _meta(sensor: Sensor) -> dict[str, Any]:
    try:
        meta = json.loads(sensor.meta or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _peak(meta: dict[str, Any]) -> float | None:
    peak = meta.get("peak_kw")
    return (
        float(peak)
        if isinstance(peak, int | float) and not isinstance(peak, bool) and peak > 0
        else None
    )


def _started(meta: dict[str, Any]) -> dt.datetime | None:
    value = meta.get("metering_started")
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def increments(rows: Iterable[tuple[dt.date, float | None, float | None]]) -> dict[dt.date, float]:
    """How far a counter moved each day: from the last reading of the previous day that has one (its
    ``high``) to the day's last; within the day on the first day or when the counter went back."""
    out: dict[dt.date, float] = {}
    previous: float | None = None
    for day, low, high in sorted(rows, key=lambda r: r[0]):
        if low is None or high is None:
            continue
        start = previous if previous is not None and previous <= high else low
        out[day] = max(0.0, high - start)
        previous = high
    return out


def _daily(
    session: Session, entities: list[str], start: dt.date, end: dt.date
) -> dict[tuple[str, str], list[tuple[dt.date, float | None, float | None]]]:
    """(entity, measure) -> daily (day, low, high) of the counters, ``start`` - 40 days to ``end``."""
    out: dict[tuple[str, str], list[tuple[dt.date, float | None, float | None]]] = defaultdict(list)
    if not entities:
        return out
    for entity, measure, day, low, high in session.execute(
        sa.select(
            col(MeasureDaily.entity),
            col(MeasureDaily.measure),
            col(MeasureDaily.day),
            col(MeasureDaily.low),
            col(MeasureDaily.high),
        ).where(
            col(MeasureDaily.entity).in_(entities),
            col(MeasureDaily.measure).in_(["energy_wh", "injected_wh"]),
            col(MeasureDaily.day) >= start - dt.timedelta(days=40),
            col(MeasureDaily.day) <= end,
        )
    ).all():
        out[(entity, measure)].append((day, low, high))
    return out


def site_days(
    session: Session, sites: list[Sensor], start: dt.date, end: dt.date
) -> dict[str, dict[dt.date, tuple[float, float | None]]]:
    """Per site and day from ``start`` to ``end`` (both included): (kWh produced, kWh injected or None)."""
    entities = {s.id: urn(SENSOR_TYPES["solar"], s.id) for s in sites}
    rows = _daily(session, list(entities.values()), start, end)
    out: dict[str, dict[dt.date, tuple[float, float | None]]] = {}
    for sensor in sites:
        entity = entities[sensor.id]
        produced = increments(rows.get((entity, "energy_wh"), []))
        injected_rows = rows.get((entity, "injected_wh"), [])
        injected = increments(injected_rows)
        mode = str(_meta(sensor).get("injection", ""))
        days: dict[dt.date, tuple[float, float | None]] = {}
        for day, wh in produced.items():
            if not start <= day <= end:
                continue
            kwh = wh / 1000.0
            if injected_rows:
                sent: float | None = min(kwh, injected.get(day, 0.0) / 1000.0)
            elif mode == "none":
                sent = 0.0
            elif mode == "total":
                sent = kwh
            else:
                sent = None
            days[day] = (kwh, sent)
        out[sensor.id] = days
    return out


def territory_of(session: Session) -> int:
    """The territory whose target a session reads and sets: its bound one, else the default."""
    bound = scope.territory_id(session)
    if bound is not None:
        return bound
    first = default_territory(session)
    return first.id if first is not None and first.id is not None else 1


def target_of(session: Session, year: int) -> SolarTarget | None:
    """The year's target and prices of the session's territory (never another territory's)."""
    return session.get(SolarTarget, (territory_of(session), year))


def prices_of(target: SolarTarget | None) -> Prices:
    if target is None:
        return Prices(PURCHASE_EUR_KWH, SALE_EUR_KWH, assumed=True)
    return Prices(target.purchase_eur_kwh, target.sale_eur_kwh, assumed=False)


def report(session: Session, now: dt.datetime) -> Report:
    """The solar sites' figures today, this month and this year (days of the territory's time zone),
    the last 12 months of the territory and its own target of the year."""
    zone = territory_zone(session)
    today = now.astimezone(zone).date()
    year_start = today.replace(month=1, day=1)
    month_start = today.replace(day=1)
    first_month = months.shift(today.strftime("%Y-%m"), -11)
    history_start = dt.date.fromisoformat(f"{first_month}-01")
    start = min(year_start, history_start)
    sensors = list(
        session.scalars(
            scope.mine(session, select(Sensor).where(col(Sensor.kind) == "solar")).order_by(
                col(Sensor.id)
            )
        )
    )
    days = site_days(session, sensors, start, today)
    by_month: dict[str, Energy] = defaultdict(Energy)
    sites = []
    total = Energy()
    year_from = dt.datetime.combine(year_start, dt.time(0), tzinfo=zone)
    for sensor in sensors:
        meta = _meta(sensor)
        figures = SiteFigures(sensor, _peak(meta), str(meta.get("injection", "")))
        began = max(year_from, _started(meta) or year_from)
        figures.year_hours = max(0.0, (now - began).total_seconds() / 3600.0)
        per_month: dict[str, Energy] = defaultdict(Energy)
        for day, (kwh, sent) in sorted(days[sensor.id].items()):
            per_month[day.strftime("%Y-%m")].add(kwh, sent)
            if day >= year_start:
                figures.year.add(kwh, sent)
            if day >= month_start:
                figures.month.add(kwh, sent)
            if day == today:
                figures.today.add(kwh, sent)
        for month, energy in per_month.items():
            if month >= first_month:
                by_month[month].merge(energy)
        total.merge(figures.year)
        sites.append(figures)
    history = []
    month = first_month
    for _ in range(12):
        history.append(MonthFigures(month, by_month.get(month, Energy())))
        month = months.shift(month, 1)
    target = target_of(session, today.year)
    return Report(today, today.year, prices_of(target), target, sites, history, total)


class TargetForm(BaseModel):
    """A year's target and prices as staff enter them (a decimal comma is read as a point)."""

    year: int = Field(ge=2000, le=2100)
    production_mwh: float
    capacity_kw: float | None = None
    purchase_eur_kwh: float
    sale_eur_kwh: float

    @field_validator(
        "production_mwh", "capacity_kw", "purchase_eur_kwh", "sale_eur_kwh", mode="before"
    )
    @classmethod
    def _decimal_comma(cls, value: Any) -> Any:
        return (
            value.replace(",", ".").replace(" ", "").replace("\u202f", "")
            if isinstance(value, str)
            else value
        )

    @field_validator("production_mwh")
    @classmethod
    def _production(cls, value: float) -> float:
        if not (math.isfinite(value) and 0 < value <= 10_000_000):
            raise ValueError("La production visée est un nombre de MWh positif.")
        return value

    @field_validator("capacity_kw")
    @classmethod
    def _capacity(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and 0 < value <= 100_000_000):
            raise ValueError("La puissance visée est un nombre de kWc positif.")
        return value

    @field_validator("purchase_eur_kwh", "sale_eur_kwh")
    @classmethod
    def _price(cls, value: float) -> float:
        if not (math.isfinite(value) and 0 <= value <= 10):
            raise ValueError("Un prix par kWh est compris entre 0 et 10 €.")
        return value


def save_target(session: Session, form: TargetForm, actor_id: int | None, now: dt.datetime) -> None:
    """The year's target and prices of the session's territory (another's are left alone)."""
    target = target_of(session, form.year)
    if target is None:
        target = SolarTarget(
            territory_id=territory_of(session),
            year=form.year,
            production_mwh=form.production_mwh,
            purchase_eur_kwh=form.purchase_eur_kwh,
            sale_eur_kwh=form.sale_eur_kwh,
        )
        session.add(target)
    target.production_mwh = form.production_mwh
    target.capacity_kw = form.capacity_kw
    target.purchase_eur_kwh = form.purchase_eur_kwh
    target.sale_eur_kwh = form.sale_eur_kwh
    target.updated_at = now
    target.updated_by = actor_id


def monthly_production(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    """kWh the solar sites of the session's territory produced per month (its local days) and commune:
    the decision-support figure."""
    sensors = list(
        session.scalars(scope.mine(session, select(Sensor).where(col(Sensor.kind) == "solar")))
    )
    if not sensors:
        return {}
    start = dt.date.fromisoformat(f"{first}-01")
    end = dt.date.fromisoformat(f"{months.shift(last, 1)}-01") - dt.timedelta(days=1)
    communes = {s.id: s.commune_insee or "" for s in sensors}
    out: dict[tuple[str, str], float] = defaultdict(float)
    for sensor_id, days in site_days(session, sensors, start, end).items():
        for day, (kwh, _sent) in days.items():
            out[(day.strftime("%Y-%m"), communes[sensor_id])] += kwh
    return out


FIGURES = (
    MonthlyFigure(
        "solar_production",
        "energy",
        N_("Production solaire des bâtiments publics"),
        "kWh",
        22,
        monthly_production,
        kind="amount",
        co2=CO2,
        better="up",
    ),
)
