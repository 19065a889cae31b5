"""Proof of each trip: the driver marks it done with the kilometres driven, the social worker
confirms it; confirming fixes the beneficiary's contribution and the driver's mileage allowance
(in cents, at the rates of the settings) so the accounts never change afterwards."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.i18n import gettext as _
from app.models.solidarity import Booking, Trip, Volunteer
from app.solidarity.schedule import SolidarityError

MAX_KM_TENTHS = 3000  # 300 km for one trip


def cents(km_tenths: int, cents_per_km: int) -> int:
    """Kilometres (tenths) × a rate in cents per km, rounded to the cent (halves up)."""
    return (km_tenths * cents_per_km + 5) // 10


def parse_km(text: str) -> int:
    """ "12,4" -> 124 tenths of a km; refused in French when it is not a distance."""
    value = text.strip().replace(",", ".")
    whole, _dot, tenth = value.partition(".")
    if not whole.isdigit() or (tenth and (not tenth.isdigit() or len(tenth) > 1)) or len(whole) > 4:
        raise SolidarityError(_("Indiquez les kilomètres parcourus, par exemple 12,4."))
    km_tenths = int(whole) * 10 + int(tenth or 0)
    if not 0 < km_tenths <= MAX_KM_TENTHS:
        raise SolidarityError(_("Les kilomètres vont de 0,1 à 300."))
    return km_tenths


def mark_done(
    session: Session, trip: Trip, volunteer: Volunteer, km_tenths: int, now: datetime
) -> None:
    if trip.driver_id != volunteer.id:
        raise SolidarityError(_("Vous ne conduisez pas ce trajet."))
    if trip.status not in ("planned", "done"):
        raise SolidarityError(_("Ce trajet ne peut plus être modifié."))
    if trip.pickup_at > now:
        raise SolidarityError(_("Ce trajet n’a pas encore eu lieu."))
    if not 0 < km_tenths <= MAX_KM_TENTHS:
        raise SolidarityError(_("Les kilomètres vont de 0,1 à 300."))
    trip.status, trip.km_tenths, trip.done_at = "done", km_tenths, now
    session.add(trip)


def confirm(
    session: Session,
    trip: Trip,
    booking: Booking,
    *,
    commune_insee: str,
    by_user: int,
    contribution_cents_per_km: int,
    allowance_cents_per_km: int,
    now: datetime,
) -> None:
    if booking.commune_insee != commune_insee:
        raise SolidarityError(_("Ce trajet n’est pas de votre commune."))
    if trip.status != "done":
        raise SolidarityError(_("Le conducteur n’a pas encore indiqué ce trajet comme fait."))
    trip.status, trip.confirmed_at, trip.confirmed_by = "confirmed", now, by_user
    trip.contribution_cents = cents(trip.km_tenths, contribution_cents_per_km)
    trip.allowance_cents = cents(trip.km_tenths, allowance_cents_per_km)
    session.add(trip)
