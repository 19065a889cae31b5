"""Carpooling as open data: origin–destination flows per month (both sides of the border) and meeting points.

The carpool domain's contribution to the open data catalogue (``app.opendata.contrib``).
A trip is one passenger seat on one departure of an accepted booking; the ends
of a trip are the nearest commune or common place to the ad's ends, so no
address is published. Flows under 11 trips are suppressed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

from sqlmodel import Session, col, select

from app import geo
from app.carpool.trips import Place, list_places, occurrences
from app.db import utcnow
from app.models.carpool import CarpoolAd, CarpoolBooking, CarpoolPlace
from app.opendata.contrib import (
    Cnil,
    Column,
    Geometry,
    OpenDataset,
    Service,
    here,
    suppress,
    suppression_text,
    territory_id,
)

RPC = (
    "https://doc.covoiturage.beta.gouv.fr/",
    "Registre de preuve de covoiturage (classe A : mise en relation)",
)
SCHEMA_LIEUX = (
    "https://schema.data.gouv.fr/etalab/schema-lieux-covoiturage/",
    "Schéma national des lieux de covoiturage (champs repris quand ils s'appliquent)",
)
KINDS = ("commune", "park_ride", "station", "district", "town", "place")


def _nearest(places: list[Place], lat: float, lon: float) -> Place:
    return min(places, key=lambda p: geo.distance_m(lat, lon, p.lat, p.lon))


def _code(place: Place) -> str:
    return place.slug.removeprefix("commune-")


def _flows(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    places = list_places(session)
    if not places:
        return
    now = utcnow()
    counts: dict[tuple[str, str, str], int] = {}
    by_slug = {p.slug: p for p in places}
    stmt = (
        select(
            col(CarpoolBooking.seats),
            col(CarpoolBooking.accepted_at),
            col(CarpoolBooking.created_at),
            CarpoolAd,
        )
        .join(CarpoolAd, col(CarpoolAd.id) == col(CarpoolBooking.ad_id))
        .where(
            col(CarpoolBooking.status) == "accepted", *here(session, col(CarpoolAd.territory_id))
        )
        .execution_options(yield_per=1000)
    )
    for seats, accepted_at, created_at, ad in session.execute(stmt):
        start = accepted_at or created_at
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        origin = _nearest(places, ad.from_lat, ad.from_lon).slug
        destination = _nearest(places, ad.to_lat, ad.to_lon).slug
        for departure in occurrences(ad, start, now):
            key = (departure.strftime("%Y-%m"), origin, destination)
            counts[key] = counts.get(key, 0) + seats
    for (month, origin, destination), trips in sorted(counts.items()):
        o, d = by_slug[origin], by_slug[destination]
        shown = suppress(trips)
        yield (
            month,
            _code(o),
            o.name,
            o.country,
            _code(d),
            d.name,
            d.country,
            shown,
            shown is None,
        )


def _points(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    # A territory's places, and those of the whole install (no territory).
    stmt = select(CarpoolPlace).order_by(col(CarpoolPlace.country), col(CarpoolPlace.slug))
    territory = territory_id(session)
    if territory is not None:
        stmt = stmt.where(
            (col(CarpoolPlace.territory_id) == territory) | col(CarpoolPlace.territory_id).is_(None)
        )
    for place in session.scalars(stmt):
        yield (
            place.slug,
            place.name,
            place.kind,
            place.country,
            round(place.lat, 5),
            round(place.lon, 5),
        )


FLOWS = OpenDataset(
    slug="covoiturage-flux",
    domain="carpool",
    title="Flux de covoiturage par mois entre communes, des deux côtés de la frontière",
    description=(
        "Le nombre de trajets covoiturés (une place passager sur un départ d'une réservation "
        "acceptée) par mois, entre la commune ou le lieu commun le plus proche du départ et celui "
        "de l'arrivée, en France et au Luxembourg. " + suppression_text("nombres de trajets")
    ),
    theme="TRAN",
    keywords=("covoiturage", "mobilité", "frontaliers", "Luxembourg", "origine-destination"),
    frequency="MONTHLY",
    expected_minutes=24 * 60,
    columns=(
        Column("mois", "yearmonth", "Mois du départ", required=True),
        Column(
            "origine_code", "string", "Origine : code INSEE ou identifiant du lieu", required=True
        ),
        Column("origine_nom", "string", "Origine", required=True),
        Column(
            "origine_pays",
            "string",
            "Pays de l'origine",
            required=True,
            enum=("FR", "LU", "BE", "DE"),
        ),
        Column(
            "destination_code",
            "string",
            "Destination : code INSEE ou identifiant du lieu",
            required=True,
        ),
        Column("destination_nom", "string", "Destination", required=True),
        Column(
            "destination_pays",
            "string",
            "Pays de la destination",
            required=True,
            enum=("FR", "LU", "BE", "DE"),
        ),
        Column("trajets", "integer", "Trajets (vide si moins de 11)", minimum=11),
        Column("masque", "boolean", "Nombre masqué car inférieur à 11", required=True),
    ),
    rows=_flows,
    conforms_to=(RPC,),
    suppression=suppression_text("nombres de trajets"),
    cnil=Cnil(
        singling_out=(
            "Des comptes de trajets par mois entre communes ; les flux de moins de 11 trajets sont "
            "masqués, si bien qu'aucun trajet régulier d'une seule personne n'apparaît."
        ),
        linkability=(
            "Ni conducteur, ni passager, ni annonce, ni heure : rien ne relie un flux à une personne "
            "ou à une autre source."
        ),
        inference=(
            "Les extrémités sont ramenées à la commune ou au lieu commun le plus proche : on ne peut "
            "pas en déduire un domicile ou un lieu de travail."
        ),
    ),
)

MEETING_POINTS = OpenDataset(
    slug="covoiturage-lieux",
    domain="carpool",
    title="Lieux de covoiturage",
    description="Les aires et lieux de rendez-vous proposés pour le covoiturage, en France et au Luxembourg.",
    theme="TRAN",
    keywords=("covoiturage", "aires de covoiturage", "mobilité"),
    frequency="IRREG",
    expected_minutes=24 * 60,
    columns=(
        Column("id_lieu", "string", "Identifiant du lieu", required=True),
        Column("nom_lieu", "string", "Nom du lieu", required=True),
        Column("type", "string", "Type de lieu", enum=KINDS),
        Column("pays", "string", "Pays", required=True),
        Column("latitude", "number", "Latitude (WGS 84)", required=True, minimum=-90, maximum=90),
        Column(
            "longitude", "number", "Longitude (WGS 84)", required=True, minimum=-180, maximum=180
        ),
    ),
    rows=_points,
    geometry=Geometry("latitude", "longitude", decimals=5),
    conforms_to=(SCHEMA_LIEUX,),
    cnil=Cnil(
        singling_out="Des lieux publics : aucune personne.",
        linkability="Aucune donnée sur une personne à relier.",
        inference="Aucune : la liste ne dit pas qui s'y retrouve.",
    ),
)

DATASETS = (FLOWS, MEETING_POINTS)
SERVICES = (
    Service(
        "rdex",
        "API RDEX+ des offres de covoiturage",
        "Les offres de covoiturage en cours au format RDEX+, pour les autres opérateurs.",
        "/api/rdex/journeys",
        "/schema",
        "https://github.com/fabmob/rdexplus",
        ("covoiturage-lieux",),
    ),
    Service(
        "carpool",
        "API standard-covoiturage (recherche, réservation, messages)",
        "Les trajets ponctuels et réguliers des conducteurs et des passagers, ouverts à tous en "
        "recherche ; réservation, messages et suivi des réservations pour les opérateurs munis "
        "d'une clé (Authorization: Bearer), selon le standard d'interopérabilité du covoiturage.",
        "/api/carpool",
        "/schema/openapi.json",
        "https://github.com/fabmob/standard-covoiturage",
        ("covoiturage-lieux",),
    ),
)
