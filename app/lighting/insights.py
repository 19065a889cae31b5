"""What public lighting contributes to the decision-support pages: the energy measured, per month and commune."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.interfaces import Factor, MonthlyFigure
from app.models.lighting import LightEnergyMonth, LightGroup

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


def energy(session: Session, first: str, last: str) -> Mapping[tuple[str, str], float]:
    """kWh measured per local month and commune (``light_energy_months``, a few rows per group)."""
    rows = session.execute(
        select(
            col(LightEnergyMonth.month),
            col(LightGroup.commune_insee),
            func.sum(col(LightEnergyMonth.energy_wh)),
        )
        .outerjoin(LightGroup, col(LightGroup.id) == col(LightEnergyMonth.group_id))
        .where(col(LightEnergyMonth.month) >= first, col(LightEnergyMonth.month) <= last)
        .group_by(col(LightEnergyMonth.month), col(LightGroup.commune_insee))
    ).all()
    return {(month, insee or ""): float(wh or 0) / 1000.0 for month, insee, wh in rows}


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
