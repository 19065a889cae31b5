"""Short supply chains: a producer (farm, AMAP, market stall) hands over its orders and weekly
baskets at pick-up points away from the shop, each with a weekly window (a market square on
Saturday morning, a town hall on Thursday evening). Click & collect orders choose a point and a
time inside its window, two hours from now at the earliest, within the week to come."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from app.i18n import gettext as _
from app.models.shops import ShopPickupPoint
from app.shops.hours import PREPARATION, SLOT, SLOT_DAYS

PRODUCER_CATEGORIES = ("farm", "amap", "market")


def active_points(session: Session, shop_id: int) -> list[ShopPickupPoint]:
    return list(
        session.scalars(
            select(ShopPickupPoint)
            .where(col(ShopPickupPoint.shop_id) == shop_id, col(ShopPickupPoint.is_active))
            .order_by(col(ShopPickupPoint.weekday), col(ShopPickupPoint.opens))
        ).all()
    )


def _windows(
    point: ShopPickupPoint, now: datetime, zone: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """The point's windows of the coming days, on the clock of ``zone`` (its shop's territory's)."""
    today = now.astimezone(zone).date()
    out = []
    for offset in range(SLOT_DAYS + 1):
        day = today + timedelta(days=offset)
        if day.weekday() == point.weekday:
            start = datetime.combine(day, point.opens, zone)
            end = datetime.combine(day, point.closes, zone)
            out.append((start, end))
    return out


def slots(point: ShopPickupPoint, now: datetime, zone: ZoneInfo) -> list[datetime]:
    """The pick-up times of a point (every 30 minutes of its window), in UTC."""
    earliest = now + PREPARATION
    found: list[datetime] = []
    for start, end in _windows(point, now, zone):
        moment = start
        while moment < end:
            if moment >= earliest:
                found.append(moment.astimezone(UTC))
            moment += SLOT
    return found


def slot_is_valid(
    point: ShopPickupPoint, pickup_at: datetime, now: datetime, zone: ZoneInfo
) -> bool:
    if not point.is_active:
        return False
    if pickup_at < now + PREPARATION or pickup_at > now + timedelta(days=SLOT_DAYS + 1):
        return False
    return any(start <= pickup_at < end for start, end in _windows(point, now, zone))


class PickupPointError(ValueError):
    """A pick-up point refused; the message is French, for the producer."""


def make(
    shop_id: int, name: str, address: str, commune_insee: str, weekday: str, opens: str, closes: str
) -> ShopPickupPoint:
    """A new pick-up point from the producer's form (raises :class:`PickupPointError`)."""
    name, address = " ".join(name.split())[:120], " ".join(address.split())[:200]
    if len(name) < 3:
        raise PickupPointError(_("Donnez le nom du point de retrait (le marché, la mairie…)."))
    if not weekday.isascii() or not weekday.isdigit() or not 0 <= int(weekday) <= 6:
        raise PickupPointError(_("Choisissez le jour de la semaine."))
    try:
        start, end = time.fromisoformat(opens), time.fromisoformat(closes)
    except ValueError as exc:
        raise PickupPointError(_("Heures invalides : écrivez par exemple 08:00 et 12:30.")) from exc
    if end <= start:
        raise PickupPointError(_("L’heure de fin doit suivre l’heure de début."))
    return ShopPickupPoint(
        shop_id=shop_id,
        name=name,
        address=address,
        commune_insee=commune_insee,
        weekday=int(weekday),
        opens=start,
        closes=end,
    )
