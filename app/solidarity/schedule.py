"""Days and times of the solidarity transport: a booking's trips, local times, overlaps.

Local days and times are those of the booking's territory (``app.territories.zone`` of its
``territory_id``, or ``commune_zone`` of its commune)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.i18n import gettext as _

MAX_DAYS = 366  # a weekly booking runs a year at most
MAX_TRIPS = 160


def N_(message: str) -> str:
    return message


WEEKDAYS = (
    N_("lundi"),
    N_("mardi"),
    N_("mercredi"),
    N_("jeudi"),
    N_("vendredi"),
    N_("samedi"),
    N_("dimanche"),
)


class SolidarityError(ValueError):
    """A refused step; the message is in French (translated when raised)."""


def parse_weekdays(text: str) -> list[int]:
    """ "0,3" -> [0, 3]; "" -> []."""
    return sorted({int(d) for d in text.split(",") if d.strip().isdigit() and int(d) < 7})


def format_weekdays(days: Sequence[int]) -> str:
    return ",".join(str(d) for d in sorted(set(days)))


def local_at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The aware UTC moment of ``minute`` (after local midnight) on ``day`` in ``zone``."""
    at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return at.astimezone(UTC)


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def occurrences(first_day: date, weekdays: Sequence[int], until: date | None) -> list[date]:
    """The days of a booking: ``first_day`` alone (one-off), or every chosen weekday from
    ``first_day`` to ``until``; refused in French when there is none or too many."""
    if not weekdays:
        return [first_day]
    if until is None or until < first_day:
        raise SolidarityError(_("Indiquez jusqu’à quelle date le trajet se répète."))
    if (until - first_day).days > MAX_DAYS:
        raise SolidarityError(_("Un trajet régulier dure un an au plus."))
    days = [
        first_day + timedelta(days=i)
        for i in range((until - first_day).days + 1)
        if (first_day + timedelta(days=i)).weekday() in weekdays
    ]
    if not days:
        raise SolidarityError(_("Aucun des jours choisis ne tombe dans la période."))
    if len(days) > MAX_TRIPS:
        raise SolidarityError(_("Trop de trajets pour une seule réservation."))
    return days


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_hhmm(text: str) -> int | None:
    """ "09:30" -> 570; None when it is not a time of day."""
    parts = text.strip().replace("h", ":").split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) <= 2 for p in parts):
        return None
    h, m = int(parts[0]), int(parts[1] or 0)
    if h > 23 or m > 59:
        return None
    return h * 60 + m


def describe(first_day: date, weekdays_text: str, until: date | None, pickup_min: int) -> str:
    """A booking's days and time in words: "le 08/12/2026 à 09:30", or "chaque lundi et jeudi,
    du 07/12/2026 au 01/02/2027, à 09:30"."""
    days = parse_weekdays(weekdays_text)
    at = hhmm(pickup_min)
    if not days:
        return _("le %(day)s à %(at)s") % {"day": f"{first_day:%d/%m/%Y}", "at": at}
    names = ", ".join(_(WEEKDAYS[d]) for d in days)
    return _("chaque %(days)s, du %(first)s au %(until)s, à %(at)s") % {
        "days": names,
        "first": f"{first_day:%d/%m/%Y}",
        "until": f"{until:%d/%m/%Y}" if until else "…",
        "at": at,
    }
