"""What public lighting contributes to the decision-support pages: the energy measured, per month and
commune; per cabinet and month (``METERS``), to compare with the readings or invoices of the years
before the renovation, with the modelled old lamp alongside. All of it the session's territory's
(``app.territories.bound``: its groups, cabinets and lamps; unbound, the whole install)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app import months
from app.db import utcnow
from app.interfaces import EnergyMeters, Factor, MeteredPlace, MonthlyFigure
from app.lighting import energy as lighting_energy
from app.lighting.scope import scoped
from app.models.lighting import LightCabinet, LightEnergyMonth, LightGroup
from app.territories import bound, zone

N_ = str  # marks a string for extraction; translated where it is shown

# ADEME Base Empreinte: electricity, average mix of mainland France (2022), per kWh consumed.
KG_CO2E_PER_KWH = 0.052
CO2 = Factor(
    KG_CO2E_PER_KWH,
    "kg CO₂e",
    N_("0,052 kg CO₂e par kWh (ADEME Base Empreinte, électricité, mix moyen France continentale)"),
)
# What the authority pays per kWh, taxes included: a stated assumption until the contract's price is entered.
EUROS_PER_KWH = 0.20
EUROS = Factor(
    EUROS_PER_KWH, "€", N_("0,20 € par kWh TTC (hypothèse : prix moyen payé par la collectivité)")
)


def _territory(session: Session) -> int | None:
    territory = bound(session)
    return territory.id if territory is not None else None


def _kwh_by_month(
    session: Session, key: Any, first: str, last: str, *, keyed_only: bool
) -> dict[tuple[str, str], float]:
    """kWh measured per local month and ``key`` (a column of the group), from ``light_energy_months``
    (a few rows per group); ``keyed_only`` leaves out the groups without one. A bound session's
    energy is its territory's groups' alone."""
    territory = _territory(session)
    query = (
        select(col(LightEnergyMonth.month), key, func.sum(col(LightEnergyMonth.energy_wh)))
        .join(
            LightGroup,
            col(LightGroup.id) == col(LightEnergyMonth.group_id),
            isouter=not keyed_only and territory is None,
        )
        .where(col(LightEnergyMonth.month) >= first, col(LightEnergyMonth.month) <= last)
        .group_by(col(LightEnergyMonth.month), key)
    )
    if keyed_only:
        query = query.where(key.is_not(None))
    query = scoped(query, LightGroup, territory)
    return {
        (month, k or ""): float(wh or 0) / 1000.0 for month, k, wh in session.execute(query).all()
    }


def energy(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    """kWh measured per local month and commune."""
    return _kwh_by_month(session, col(LightGroup.commune_insee), first, last, keyed_only=False)


FIGURES = (
    MonthlyFigure(
        "lighting_energy",
        "energy",
        N_("Énergie de l'éclairage public"),
        "kWh",
        20,
        energy,
        kind="amount",
        euros=EUROS,
        co2=CO2,
        better="down",
    ),
)


def cabinets(session: Session) -> list[MeteredPlace]:
    """The cabinets, each with the groups it feeds."""
    feeds: dict[str, list[str]] = {}
    territory = _territory(session)
    for cabinet_id, name in session.execute(
        scoped(
            select(col(LightGroup.cabinet_id), col(LightGroup.name))
            .where(col(LightGroup.cabinet_id).is_not(None))
            .order_by(col(LightGroup.name)),
            LightGroup,
            territory,
        )
    ).all():
        feeds.setdefault(cabinet_id, []).append(name)
    cabinets = scoped(select(LightCabinet).order_by(col(LightCabinet.id)), LightCabinet, territory)
    return [
        MeteredPlace(c.id, c.name, c.commune_insee or "", tuple(feeds.get(c.id, ())))
        for c in session.scalars(cabinets)
    ]


def by_cabinet(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    """kWh measured per local month and cabinet: the energy of the groups each cabinet feeds."""
    return _kwh_by_month(session, col(LightGroup.cabinet_id), first, last, keyed_only=True)


MODELLED_MONTHS = 24  # the energy page models the old lamps month by month: at most two years back


def modelled(session: Session, month: str) -> tuple[float, float] | None:
    """The fleet's kWh measured in ``month`` and what the modelled old lamp (sodium 150 W all night,
    ``consumption.BASELINES``) would have used, as on the energy page; None when nothing measured."""
    now = utcnow()
    back = len(months.between(month, months.of(now, zone(session))))
    if not 1 <= back <= MODELLED_MONTHS:
        return None
    row = next(
        (
            r
            for r in lighting_energy.energy_report(
                session, now, months=back, territory_id=_territory(session)
            )
            if r.month == month
        ),
        None,
    )
    if row is None or row.measured_kwh <= 0:
        return None
    return row.measured_kwh, row.baselines["hps_150_all_night"]


METERS = EnergyMeters(
    "lighting",
    N_("Éclairage public, par armoire"),
    cabinets,
    by_cabinet,
    modelled,
    target=0.70,
    target_source=N_(
        "jusqu'à 70 % d'économies d'énergie promis par la collectivité sur l'éclairage"
    ),
    euros=EUROS,
    co2=CO2,
)
