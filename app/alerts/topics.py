"""Alert topics, urgencies and limits, and the small helpers every part of the alerts uses."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.models.territory import Commune

log = logging.getLogger("eclor.alerts")

# Topic code -> French label (translated at render time through _()).
TOPICS: dict[str, str] = {
    "weather": "Météo",
    "road_safety": "Sécurité routière",
    "traffic": "Circulation et passages frontière",
    "waste_centre": "Déchèterie",
    "my_reports": "Mes signalements",
    "carpool": "Covoiturage",
    "local_shops": "Commerces locaux",
    "general": "Informations générales",
}
DEFAULT_TOPICS = ("weather", "road_safety", "traffic", "my_reports", "general")
# Topics of public alerts (the others are personal: they come through app.notify).
ALERT_TOPICS = ("weather", "road_safety", "traffic", "waste_centre", "general")
# Feeds where only the latest message matters: the push service keeps only the newest.
LATEST_ONLY_TOPICS = frozenset({"waste_centre", "traffic"})

URGENCIES: dict[str, str] = {"high": "Urgente", "normal": "Normale", "low": "Faible"}
TOPIC_CATEGORY = {
    "weather": "Met",
    "road_safety": "Safety",
    "traffic": "Transport",
    "waste_centre": "Env",
    "my_reports": "Other",
    "carpool": "Transport",
    "local_shops": "Other",
    "general": "Other",
}
CATEGORY_TOPIC = {
    "Met": "weather",
    "Transport": "traffic",
    "Safety": "road_safety",
    "Geo": "weather",
    "Env": "general",
    "Infra": "general",
    "Health": "general",
    "Fire": "general",
    "Rescue": "general",
    "Security": "general",
    "CBRNE": "general",
    "Other": "general",
}
# Push urgency -> CAP (urgency, severity); app.alerts.cap.push_urgency maps them back to the same value.
URGENCY_CAP = {
    "high": ("Immediate", "Severe"),
    "normal": ("Expected", "Moderate"),
    "low": ("Future", "Minor"),
}

TITLE_MAX = 120
BODY_MAX = 1000
CAP_BODY_MAX = 600  # an imported description is cut for the phone; the page has it all
MAX_DEVICES = 20  # per person; subscribing a 21st device drops the oldest
FANOUT_BATCH = 100  # rows marked "sending" per transaction (the crash window)
FANOUT_CONCURRENCY = 32  # messages in flight per fan-out
MAX_TRIES = 6  # per delivery, for 429/5xx/network errors
RETRY_BASE_S = 30.0
DUE = ("pending", "held", "retry")


class AlertError(ValueError):
    """A publication or import refused; ``message`` is French, ``field`` names the form field."""

    def __init__(self, message: str, field: str = "__all__") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class SubscriptionError(ValueError):
    """A subscription refused; the message is French."""


class EndpointTaken(SubscriptionError):
    """The device's endpoint is subscribed for another account: it does not move (409).

    The browser makes a fresh subscription (a new endpoint) instead, so
    re-posting someone's endpoint never takes their notifications.
    """


# --- small helpers ------------------------------------------------------------------------------


def pack(values: Iterable[str]) -> str:
    """``["a", "b"]`` -> ``",a,b,"`` (``","`` when empty), sorted and without duplicates."""
    items = sorted({v for v in values if v})
    return "," + "".join(f"{v}," for v in items)


def unpack(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def topic_label(code: str) -> str:
    return _(TOPICS.get(code, code))


def commune_names(
    session: Session,
    *,
    territory_id: int | None = None,
    communes: Sequence[str] | None = None,
) -> dict[str, str]:
    """Code -> name of a territory's communes (None or 0: every commune), or of ``communes``."""
    query = select(col(Commune.insee), col(Commune.name)).order_by(col(Commune.name))
    if territory_id:
        query = query.where(col(Commune.territory_id) == territory_id)
    if communes is not None:
        query = query.where(col(Commune.insee).in_(list(communes)))
    return dict(session.execute(query).all())


def format_minutes(value: int | None) -> str:
    return "" if value is None else f"{value // 60:02d}:{value % 60:02d}"


def parse_minutes(value: str | None, field: str) -> int | None:
    """``"22:30"`` -> 1350; empty -> None; anything else -> AlertError."""
    value = (value or "").strip()
    if not value:
        return None
    m = re.fullmatch(r"([01]?\d|2[0-3])[:hH]([0-5]\d)", value)
    if not m:
        raise AlertError(_("Heure invalide (attendu HH:MM)."), field)
    return int(m.group(1)) * 60 + int(m.group(2))


def quiet_until(
    now: datetime, start: int | None, end: int | None, zone: ZoneInfo
) -> datetime | None:
    """When the quiet hours around ``now`` end (UTC), or None when ``now`` is not in them; the hours
    are on the clock of ``zone`` (the subscription's territory's)."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return None
    until = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if until <= local:
        until = (local + timedelta(days=1)).replace(
            hour=end // 60, minute=end % 60, second=0, microsecond=0
        )
    return until.astimezone(UTC)
