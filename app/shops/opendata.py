"""Local shops as open data: the directory with opening hours (OpenStreetMap ``opening_hours`` syntax).

The shops domain's contribution to the open data catalogue (``app.opendata.contrib``).
No owner, no phone, no description, no product or order: the shop as it stands
in the street.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.models.shops import Shop, ShopHours
from app.opendata.contrib import Cnil, Column, Geometry, OpenDataset, territory_id
from app.shops.orders import CATEGORIES
from app.shops.scope import in_territory

OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


def opening_hours(weekly: list[tuple[int, Any, Any]]) -> str:
    """``Mo-Fr 08:00-12:00,14:00-19:00; Sa 08:00-12:00``: days with the same hours are grouped."""
    by_day: dict[int, str] = {}
    for weekday, opens, closes in sorted(weekly):
        span = f"{opens.strftime('%H:%M')}-{closes.strftime('%H:%M')}"
        by_day[weekday] = f"{by_day[weekday]},{span}" if weekday in by_day else span
    parts: list[str] = []
    day = 0
    while day < 7:
        if day not in by_day:
            day += 1
            continue
        end = day
        while end + 1 < 7 and by_day.get(end + 1) == by_day[day]:
            end += 1
        days = (
            OSM_DAYS[day]
            if end == day
            else f"{OSM_DAYS[day]}{',' if end == day + 1 else '-'}{OSM_DAYS[end]}"
        )
        parts.append(f"{days} {by_day[day]}")
        day = end + 1
    return "; ".join(parts)


def _shops(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    shops = in_territory(territory_id(session) or 0)
    hours: dict[int, list[tuple[int, Any, Any]]] = {}
    for h in session.scalars(
        select(ShopHours).join(Shop, col(Shop.id) == col(ShopHours.shop_id)).where(*shops)
    ):
        hours.setdefault(h.shop_id, []).append((h.weekday, h.opens, h.closes))
    stmt = (
        sa.select(
            col(Shop.id),
            col(Shop.slug),
            col(Shop.name),
            col(Shop.category),
            col(Shop.address),
            col(Shop.commune_insee),
            col(Shop.lat),
            col(Shop.lon),
            col(Shop.click_collect),
            col(Shop.closed_on_holidays),
        )
        .where(*shops)
        .order_by(col(Shop.slug))
    )
    for row in session.execute(stmt):
        lat = None if row.lat is None else round(row.lat, 5)
        lon = None if row.lon is None else round(row.lon, 5)
        yield (
            row.slug,
            row.name,
            row.category,
            row.address,
            row.commune_insee,
            lat,
            lon,
            opening_hours(hours.get(row.id, [])) or None,
            row.closed_on_holidays,
            row.click_collect,
            f"{base_url}/shops/{row.slug}",
        )


SHOPS = OpenDataset(
    slug="commerces",
    domain="shops",
    title="Commerces de proximité et horaires d'ouverture",
    description=(
        "L'annuaire des commerces de proximité inscrits : nom, catégorie, adresse, commune, "
        "position, horaires d'ouverture (syntaxe opening_hours d'OpenStreetMap), fermeture les "
        "jours fériés et retrait en magasin (click & collect)."
    ),
    theme="ECON",
    keywords=("commerces", "horaires", "commerce de proximité", "click and collect"),
    frequency="DAILY",
    expected_minutes=60,
    columns=(
        Column("id_commerce", "string", "Identifiant du commerce", required=True),
        Column("nom", "string", "Nom du commerce", required=True),
        Column("categorie", "string", "Catégorie", required=True, enum=tuple(CATEGORIES)),
        Column("adresse", "string", "Adresse du commerce"),
        Column("commune_insee", "string", "Commune (code INSEE)", required=True),
        Column("latitude", "number", "Latitude (WGS 84)", minimum=-90, maximum=90),
        Column("longitude", "number", "Longitude (WGS 84)", minimum=-180, maximum=180),
        Column("horaires", "string", "Horaires d'ouverture (opening_hours OpenStreetMap)"),
        Column("ferme_jours_feries", "boolean", "Fermé les jours fériés", required=True),
        Column("retrait_magasin", "boolean", "Commande et retrait en magasin", required=True),
        Column("page", "string", "Page du commerce", required=True),
    ),
    rows=_shops,
    geometry=Geometry("latitude", "longitude", decimals=5),
    conforms_to=(
        ("https://schema.org/LocalBusiness", "schema.org LocalBusiness"),
        ("https://wiki.openstreetmap.org/wiki/Key:opening_hours", "OpenStreetMap opening_hours"),
    ),
    cnil=Cnil(
        singling_out=(
            "Des établissements ouverts au public, tels qu'ils s'affichent en vitrine ; ni "
            "propriétaire, ni téléphone, ni client, ni commande."
        ),
        linkability="Aucune donnée sur un client ou un commerçant en tant que personne.",
        inference="Aucune : l'annuaire ne dit rien des achats ni des clients.",
    ),
)

DATASETS = (SHOPS,)
