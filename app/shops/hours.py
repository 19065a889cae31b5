"""Local shops' opening hours (holidays, past midnight) and pick-up slots.

Opening hours are kept as weekly intervals in the wall-clock time of the shop's territory (the
territory of its commune: ``app.territories.commune_zone``);
an interval whose closing time is not after its opening time runs past
midnight into the next day. A day's hours are, in order of precedence: the
shop's exception for that date (closed, or other hours), nothing on a public
holiday when the shop closes on holidays, else the weekly hours.

Public holidays come from the ``holidays`` package, with the two extra days
of Alsace-Moselle (Good Friday, 26 December) for communes of Moselle,
Bas-Rhin and Haut-Rhin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select
from sqlmodel import Session, col

from app.db import saved_id, utcnow
from app.models.shops import (
    Shop,
    ShopHours,
    ShopHoursException,
)
from app.territories import commune_zone

PREPARATION = timedelta(hours=2)  # an order is ready two hours after it is placed, at the earliest
SLOT = timedelta(minutes=30)
SLOT_DAYS = 7
WEEKDAYS = ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche")
SCHEMA_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --- public holidays ---------------------------------------------------------------------


def in_alsace_moselle(commune_insee: str) -> bool:
    """Moselle (57), Bas-Rhin (67) and Haut-Rhin (68) keep two more public holidays."""
    return commune_insee[:2] in ("57", "67", "68")


@lru_cache(maxsize=64)
def public_holidays(year: int, alsace_moselle: bool = False) -> dict[date, str]:
    """The public holidays of ``year`` in France, by date, with their French names.

    From the ``holidays`` package; ``alsace_moselle`` adds Good Friday and 26 December
    through its Moselle subdivision (Alsace's has the same two days).
    """
    return dict(_public_holidays(year, alsace_moselle))


@lru_cache(maxsize=64)
def _public_holidays(year: int, alsace_moselle: bool) -> tuple[tuple[date, str], ...]:
    # Building a calendar loads the package's translations: once per year and region, not per page.
    calendar = holidays.country_holidays(
        "FR", subdiv="57" if alsace_moselle else None, years=year, language="fr"
    )
    return tuple(sorted(calendar.items()))


def holiday_name(day: date, commune_insee: str) -> str | None:
    return public_holidays(day.year, in_alsace_moselle(commune_insee)).get(day)


# --- opening hours -----------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """A shop's hours, loaded once, answering "open at this instant?" without the database."""

    commune_insee: str
    closed_on_holidays: bool
    weekly: tuple[tuple[int, time, time], ...]
    exceptions: dict[date, tuple[time | None, time | None, str]]
    zone: ZoneInfo  # the shop's territory's: its hours are that wall clock

    @classmethod
    def load(cls, session: Session, shop: Shop) -> Schedule:
        weekly = session.scalars(
            select(ShopHours)
            .where(col(ShopHours.shop_id) == shop.id)
            .order_by(col(ShopHours.weekday), col(ShopHours.opens))
        ).all()
        exceptions = session.scalars(
            select(ShopHoursException).where(col(ShopHoursException.shop_id) == shop.id)
        ).all()
        return cls(
            commune_insee=shop.commune_insee,
            closed_on_holidays=shop.closed_on_holidays,
            weekly=tuple((h.weekday, h.opens, h.closes) for h in weekly),
            exceptions={e.on_date: (e.opens, e.closes, e.label) for e in exceptions},
            zone=commune_zone(session, shop.commune_insee),
        )

    @classmethod
    def load_many(cls, session: Session, shops: Sequence[Shop]) -> dict[int, Schedule]:
        """The schedules of many shops in two queries (lists, home panel)."""
        ids = [saved_id(s) for s in shops]
        weekly: dict[int, list[tuple[int, time, time]]] = {i: [] for i in ids}
        exceptions: dict[int, dict[date, tuple[time | None, time | None, str]]] = {
            i: {} for i in ids
        }
        if ids:
            for h in session.scalars(
                select(ShopHours)
                .where(col(ShopHours.shop_id).in_(ids))
                .order_by(col(ShopHours.weekday), col(ShopHours.opens))
            ).all():
                weekly[h.shop_id].append((h.weekday, h.opens, h.closes))
            for e in session.scalars(
                select(ShopHoursException).where(col(ShopHoursException.shop_id).in_(ids))
            ).all():
                exceptions[e.shop_id][e.on_date] = (e.opens, e.closes, e.label)
        return {
            saved_id(s): cls(
                commune_insee=s.commune_insee,
                closed_on_holidays=s.closed_on_holidays,
                weekly=tuple(weekly[saved_id(s)]),
                exceptions=exceptions[saved_id(s)],
                zone=commune_zone(session, s.commune_insee),
            )
            for s in shops
        }

    def day_times(self, day: date) -> list[tuple[time, time]]:
        """The (opens, closes) pairs that start on ``day`` (wall-clock, the shop's territory's)."""
        if day in self.exceptions:
            opens, closes, _label = self.exceptions[day]
            return [] if opens is None or closes is None else [(opens, closes)]
        if self.closed_on_holidays and holiday_name(day, self.commune_insee):
            return []
        return [(o, c) for wd, o, c in self.weekly if wd == day.weekday()]

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The opening intervals that start on ``day``, as aware local datetimes."""
        out = []
        for opens, closes in self.day_times(day):
            start = datetime.combine(day, opens, tzinfo=self.zone)
            end_day = day if closes > opens else day + timedelta(days=1)
            end = datetime.combine(end_day, closes, tzinfo=self.zone)
            out.append((start, end))
        return out

    def interval_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The interval ``at`` falls in, or None when closed (an interval may begin the day before)."""
        local = at.astimezone(self.zone)
        for day in (local.date() - timedelta(days=1), local.date()):
            for start, end in self.intervals(day):
                if start <= local < end:
                    return start, end
        return None

    def is_open(self, at: datetime) -> bool:
        return self.interval_at(at) is not None

    def next_opening(self, at: datetime, days: int = 8) -> datetime | None:
        local = at.astimezone(self.zone)
        for offset in range(days):
            for start, _end in self.intervals(local.date() + timedelta(days=offset)):
                if start > local:
                    return start
        return None

    def status(self, at: datetime) -> dict[str, object]:
        """For the page: open now and until when, or closed and when it opens next."""
        current = self.interval_at(at)
        if current:
            until = current[1]
            for _day in range(8):  # back-to-back intervals (e.g. open around the clock) read as one
                following = self.interval_at(until)
                if following is None or following[1] <= until:
                    break
                until = following[1]
            return {"open": True, "until": until, "next": None}
        return {"open": False, "until": None, "next": self.next_opening(at)}


def is_open(session: Session, shop: Shop, at: datetime | None = None) -> bool:
    return Schedule.load(session, shop).is_open(at or utcnow())


def pickup_slots(
    schedule: Schedule, now: datetime, *, days: int = SLOT_DAYS, limit: int = 60
) -> list[datetime]:
    """Pick-up times (every 30 min, inside opening hours, two hours from now at the earliest), in UTC."""
    earliest = now + PREPARATION
    local_day = now.astimezone(schedule.zone).date()
    slots: list[datetime] = []
    for offset in range(-1, days + 1):
        for start, end in schedule.intervals(local_day + timedelta(days=offset)):
            moment = start
            while moment < end:
                if moment >= earliest:
                    slots.append(moment.astimezone(UTC))
                moment += SLOT
    slots = sorted(set(slots))
    return slots[:limit]


def slot_is_valid(schedule: Schedule, pickup_at: datetime, now: datetime) -> bool:
    if pickup_at < now + PREPARATION or pickup_at > now + timedelta(days=SLOT_DAYS + 1):
        return False
    return schedule.is_open(pickup_at)


# --- schema.org ----------------------------------------------------------------------------


def json_ld(
    shop: Shop,
    schedule: Schedule,
    *,
    base_url: str,
    photo_urls: Sequence[str] = (),
    today: date | None = None,
) -> dict[str, object]:
    """The shop as a schema.org ``LocalBusiness`` with regular and special opening hours."""
    base = base_url.rstrip("/")
    hours = [
        {
            "@type": "OpeningHoursSpecification",
            "dayOfWeek": f"https://schema.org/{SCHEMA_DAYS[wd]}",
            "opens": opens.strftime("%H:%M"),
            "closes": closes.strftime("%H:%M"),
        }
        for wd, opens, closes in schedule.weekly
    ]
    today = today or utcnow().astimezone(schedule.zone).date()
    horizon = today + timedelta(days=120)
    special: dict[date, tuple[time | None, time | None]] = {}
    if schedule.closed_on_holidays:
        for year in {today.year, horizon.year}:
            for day in public_holidays(year, in_alsace_moselle(schedule.commune_insee)):
                if today <= day <= horizon:
                    special[day] = (None, None)
    for day, (opens, closes, _label) in schedule.exceptions.items():
        if day >= today:
            special[day] = (opens, closes)
    for day, (opens, closes) in sorted(special.items()):
        hours.append(
            {
                "@type": "OpeningHoursSpecification",
                "validFrom": day.isoformat(),
                "validThrough": day.isoformat(),
                # schema.org's way to say "closed that day": opens and closes at 00:00.
                "opens": opens.strftime("%H:%M") if opens else "00:00",
                "closes": closes.strftime("%H:%M") if closes else "00:00",
            }
        )
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "LocalBusiness",
        "@id": f"{base}/shops/{shop.slug}",
        "url": f"{base}/shops/{shop.slug}",
        "name": shop.name,
        "description": shop.description,
        "address": {
            "@type": "PostalAddress",
            "streetAddress": shop.address,
            "addressCountry": "FR",
        },
        "openingHoursSpecification": hours,
    }
    if shop.phone:
        data["telephone"] = shop.phone
    if shop.lat is not None and shop.lon is not None:
        data["geo"] = {"@type": "GeoCoordinates", "latitude": shop.lat, "longitude": shop.lon}
    if photo_urls:
        data["image"] = [f"{base}{u}" for u in photo_urls]
    return data


def local_today_bounds(zone: ZoneInfo, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Midnight to midnight of today in ``zone`` (a shop's territory's), as aware datetimes."""
    day = (now or utcnow()).astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
