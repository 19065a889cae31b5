"""Public lighting as open data: the streetlight inventory with its state, and energy per month and commune.

The lighting domain's contribution to the open data catalogue (``app.opendata.contrib``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models.lighting import LightEnergyMonth, LightGroup, Streetlight
from app.opendata.contrib import Cnil, Column, Geometry, OpenDataset, here, owns, utc_text

STATUS_ENUM = ("ok", "defectiveLamp", "columnIssue", "brokenLantern")
CNIG = (
    "https://cnig.gouv.fr/ressources-eclairage-public-a25149.html",
    "Standard CNIG Éclairage public (champs repris quand ils s'appliquent)",
)


def _light_tuple(light: Any) -> tuple[Any, ...]:
    return (
        light.id,
        light.commune_insee,
        light.street or None,
        round(light.lat, 5),
        round(light.lon, 5),
        light.technology or None,
        light.nominal_w,
        light.status,
        light.actual_level,
        not light.offline,
        utc_text(light.last_seen_at),
    )


def _lights(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    stmt = (
        sa.select(
            col(Streetlight.id),
            col(Streetlight.commune_insee),
            col(Streetlight.street),
            col(Streetlight.lat),
            col(Streetlight.lon),
            col(Streetlight.technology),
            col(Streetlight.nominal_w),
            col(Streetlight.status),
            col(Streetlight.actual_level),
            col(Streetlight.offline),
            col(Streetlight.last_seen_at),
        )
        .where(*here(session, col(Streetlight.territory_id)))
        .order_by(col(Streetlight.id))
        .execution_options(yield_per=2000)
    )
    for row in session.execute(stmt):
        yield _light_tuple(row)


def _live_light(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    light = session.get(Streetlight, str(event.get("feature_id", "")))
    return (
        None
        if light is None or not owns(session, light.territory_id)
        else dict(zip(STREETLIGHTS.column_names, _light_tuple(light), strict=True))
    )


def _energy(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    """Measured energy per month (kept for good by the lighting domain per group) summed per commune.

    For one territory: its groups' months (a month of lights outside any group has no territory, and
    is published by the whole install's file only)."""
    groups = here(session, col(LightGroup.territory_id))
    lights = dict(
        session.execute(
            select(col(LightGroup.commune_insee), func.count(col(Streetlight.id)))
            .join(Streetlight, col(Streetlight.group_id) == col(LightGroup.id))
            .where(*groups)
            .group_by(col(LightGroup.commune_insee))
        ).all()
    )
    stmt = (
        select(
            col(LightEnergyMonth.month),
            col(LightGroup.commune_insee),
            func.sum(col(LightEnergyMonth.energy_wh)),
        )
        .outerjoin(LightGroup, col(LightGroup.id) == col(LightEnergyMonth.group_id))
        .where(*groups)
        .group_by(col(LightEnergyMonth.month), col(LightGroup.commune_insee))
        .order_by(col(LightEnergyMonth.month), col(LightGroup.commune_insee))
    )
    for month, commune, wh in session.execute(stmt):
        yield (
            month,
            commune,
            round(float(wh or 0) / 1000, 3),
            lights.get(commune, 0) if commune else None,
        )


STREETLIGHTS = OpenDataset(
    slug="eclairage-public-points-lumineux",
    domain="lighting",
    title="Points lumineux de l'éclairage public et leur état",
    description=(
        "L'inventaire des points lumineux (lanternes) : commune, voie, position, technologie, "
        "puissance nominale, et leur état en direct (état du luminaire, niveau d'éclairement "
        "mesuré, en ligne ou non, dernière donnée reçue)."
    ),
    theme="ENER",
    keywords=("éclairage public", "luminaires", "énergie", "inventaire"),
    frequency="CONT",
    expected_minutes=15,
    columns=(
        Column("id_point_lumineux", "string", "Identifiant du point lumineux", required=True),
        Column("commune_insee", "string", "Commune (code INSEE)"),
        Column("voie", "string", "Voie"),
        Column("latitude", "number", "Latitude (WGS 84)", minimum=-90, maximum=90),
        Column("longitude", "number", "Longitude (WGS 84)", minimum=-180, maximum=180),
        Column("technologie", "string", "Technologie de la source (LED, SHP...)"),
        Column("puissance_nominale_w", "number", "Puissance nominale", unit="W", minimum=0),
        Column("etat", "string", "État du luminaire", enum=STATUS_ENUM),
        Column(
            "niveau_pct", "integer", "Niveau d'éclairement mesuré", unit="%", minimum=0, maximum=100
        ),
        Column("en_ligne", "boolean", "Communique avec le système de gestion"),
        Column("derniere_donnee", "datetime", "Dernière donnée reçue (UTC)"),
    ),
    rows=_lights,
    geometry=Geometry("latitude", "longitude", decimals=5),
    live_kinds=("lights:*",),
    twin="Streetlight",
    live_row=_live_light,
    conforms_to=(CNIG,),
    cnil=Cnil(
        singling_out="Des équipements publics sur la voie publique : aucune personne.",
        linkability="Aucune donnée sur une personne à relier.",
        inference=(
            "Le niveau d'éclairement suit un programme public et les détecteurs de présence ne "
            "sont pas publiés : on ne peut pas en déduire le passage d'une personne."
        ),
    ),
)

ENERGY = OpenDataset(
    slug="eclairage-public-energie",
    domain="lighting",
    title="Consommation d'énergie de l'éclairage public par mois et par commune",
    description=(
        "L'énergie consommée par l'éclairage public, mesurée par les luminaires communicants, "
        "additionnée par mois (heure locale du territoire) et par commune, avec le nombre de points lumineux de "
        "la commune à l'inventaire (vide pour les luminaires hors groupe, sans commune)."
    ),
    theme="ENER",
    keywords=("éclairage public", "énergie", "consommation", "kWh"),
    frequency="MONTHLY",
    expected_minutes=24 * 60,
    columns=(
        Column("mois", "yearmonth", "Mois", required=True),
        Column("commune_insee", "string", "Commune (code INSEE)"),
        Column("energie_kwh", "number", "Énergie consommée", unit="kWh", required=True, minimum=0),
        Column(
            "points_lumineux", "integer", "Points lumineux de la commune à l'inventaire", minimum=0
        ),
    ),
    rows=_energy,
    cnil=Cnil(
        singling_out="Des totaux d'équipements publics par commune : aucune personne.",
        linkability="Aucune donnée sur une personne à relier.",
        inference="Aucune : des consommations d'équipements publics.",
    ),
)

DATASETS = (STREETLIGHTS, ENERGY)
