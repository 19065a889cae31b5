"""CAP 1.2 (OASIS Common Alerting Protocol) for Eclor's alerts: the message model and its value formats.

A CAP message is held as :class:`CapAlert` dataclasses (info, area, resource,
value blocks), with the specification's enumerations, :class:`CapError` (a
field path such as ``alert.info[0].area[1].polygon[0]`` and a French message)
and the time format (:func:`parse_time`, :func:`format_time`). The rest of CAP
lives by what it does:

- ``app.alerts.cap_read``: :func:`parse` reads a document (bytes), safely and
  strictly;
- ``app.alerts.cap_check``: :func:`validate` checks an alert built in code
  against the same rules;
- ``app.alerts.cap_write``: :func:`to_xml` writes UTF-8 CAP 1.2 back, so that
  ``parse(to_xml(alert)) == alert``;
- ``app.alerts.cap_areas``: :func:`match_communes` and :func:`whole_territory`
  tell which communes an alert's areas cover; :func:`push_urgency` and
  :func:`push_ttl` give the Web Push ``Urgency`` and ``TTL`` of an ``info`` block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Literal, NamedTuple, TypeVar, get_args

from app.i18n import gettext as _

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
"""The XML namespace of CAP 1.2; the root element is ``{CAP_NS}alert``."""

MAX_BYTES = 512 * 1024
"""Largest CAP document :func:`parse` reads (and :func:`to_xml` writes)."""

# --------------------------------------------------------------------------
# Enumerations, exactly as the CAP 1.2 specification (section 3.2).
# --------------------------------------------------------------------------

Status = Literal["Actual", "Exercise", "System", "Test", "Draft"]
MsgType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]
Scope = Literal["Public", "Restricted", "Private"]
Category = Literal[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
]
ResponseType = Literal[
    "Shelter",
    "Evacuate",
    "Prepare",
    "Execute",
    "Avoid",
    "Monitor",
    "Assess",
    "AllClear",
    "None",
]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
PushUrgency = Literal["very-low", "low", "normal", "high"]

STATUSES: tuple[Status, ...] = get_args(Status)
MSG_TYPES: tuple[MsgType, ...] = get_args(MsgType)
SCOPES: tuple[Scope, ...] = get_args(Scope)
CATEGORIES: tuple[Category, ...] = get_args(Category)
RESPONSE_TYPES: tuple[ResponseType, ...] = get_args(ResponseType)
URGENCIES: tuple[Urgency, ...] = get_args(Urgency)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
CERTAINTIES: tuple[Certainty, ...] = get_args(Certainty)
PUSH_URGENCIES: tuple[PushUrgency, ...] = get_args(PushUrgency)

_Code = TypeVar("_Code", bound=str)


def one_of(value: str, allowed: tuple[_Code, ...], path: str) -> _Code:
    """``value`` as one of the codes of a CAP list (a stored alert's fields), else CapError."""
    for code in allowed:
        if code == value:
            return code
    raise CapError(path, f"{value!r} ∉ {', '.join(allowed)}")


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


class CapError(ValueError):
    """A CAP document or object that is not valid CAP 1.2.

    ``path`` names the field (``alert.info[0].area[0].polygon[1]``, or
    ``document`` for the XML itself); ``message`` says what is wrong, in the
    current locale (French first).
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path} : {message}")
        self.path = path
        self.message = message


Point = tuple[float, float]
"""A WGS 84 point as CAP writes it: (latitude, longitude)."""


class CapValue(NamedTuple):
    """A ``valueName``/``value`` pair (``eventCode``, ``parameter``, ``geocode``)."""

    valueName: str
    value: str


class CapReference(NamedTuple):
    """One entry of ``references``: the ``sender,identifier,sent`` of an earlier message."""

    sender: str
    identifier: str
    sent: datetime


class CapCircle(NamedTuple):
    """A CAP ``circle``: centre (latitude, longitude) and radius in kilometres."""

    center: Point
    radius_km: float


@dataclass(kw_only=True)
class CapResource:
    """A CAP ``resource`` block: a file that goes with an ``info``."""

    resourceDesc: str
    mimeType: str
    size: int | None = None
    uri: str | None = None
    derefUri: str | None = None
    digest: str | None = None


@dataclass(kw_only=True)
class CapArea:
    """A CAP ``area`` block: the union of its polygons, circles and geocodes.

    ``polygons`` are closed rings of (lat, lon) points (first == last, at
    least 4 points); ``altitude`` and ``ceiling`` are in feet above mean sea
    level, as CAP has them.
    """

    areaDesc: str
    polygons: list[list[Point]] = field(default_factory=list)
    circles: list[CapCircle] = field(default_factory=list)
    geocodes: list[CapValue] = field(default_factory=list)
    altitude: float | None = None
    ceiling: float | None = None


@dataclass(kw_only=True)
class CapInfo:
    """A CAP ``info`` block: one event, in one language, for some areas."""

    language: str = "en-US"
    category: list[Category]
    event: str
    responseType: list[ResponseType] = field(default_factory=list)
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    audience: str | None = None
    eventCode: list[CapValue] = field(default_factory=list)
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    senderName: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameter: list[CapValue] = field(default_factory=list)
    resources: list[CapResource] = field(default_factory=list)
    areas: list[CapArea] = field(default_factory=list)


@dataclass(kw_only=True)
class CapAlert:
    """A CAP 1.2 ``alert`` message.

    ``addresses`` and ``incidents`` are CAP "group listings" split into their
    items; ``references`` are parsed into :class:`CapReference` triples.
    Every datetime carries its UTC offset.
    """

    identifier: str
    sender: str
    sent: datetime
    status: Status
    msgType: MsgType
    source: str | None = None
    scope: Scope
    restriction: str | None = None
    addresses: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    note: str | None = None
    references: list[CapReference] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    infos: list[CapInfo] = field(default_factory=list)


# --------------------------------------------------------------------------
# Lexical forms
# --------------------------------------------------------------------------

_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?"
)


def parse_time(text: str, path: str = "time") -> datetime:
    """Parse a CAP ``dateTime`` (``2026-11-22T07:15:00+01:00``) into an aware datetime.

    Refuses a time without offset, the ``Z`` designator and fractions of a
    second, as the CAP 1.2 schema does; ``-00:00`` and ``+00:00`` give UTC.
    """
    m = _TIME_RE.fullmatch(text.strip())
    if m is None:
        raise CapError(
            path,
            _("date-heure illisible : « {value} » (attendu AAAA-MM-JJThh:mm:ss±hh:mm)").format(
                value=text.strip()
            ),
        )
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    if fraction is not None:
        raise CapError(
            path,
            _("les fractions de seconde ne sont pas admises par CAP 1.2 : « {value} »").format(
                value=text.strip()
            ),
        )
    if offset is None:
        raise CapError(
            path,
            _(
                "date-heure sans décalage horaire : « {value} » "
                "(attendu ±hh:mm à la fin ; UTC s'écrit -00:00)"
            ).format(value=text.strip()),
        )
    if offset == "Z":
        raise CapError(
            path,
            _(
                "le suffixe « Z » est interdit par CAP 1.2 ; UTC s'écrit -00:00 : « {value} »"
            ).format(value=text.strip()),
        )
    off_hours, off_minutes = int(offset[1:3]), int(offset[4:6])
    if off_minutes >= 60 or off_hours * 60 + off_minutes > 14 * 60:
        raise CapError(path, _("décalage horaire hors limites : « {value} »").format(value=offset))
    delta = timedelta(hours=off_hours, minutes=off_minutes)
    tz = UTC if not delta else timezone(-delta if offset[0] == "-" else delta)
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
        )
    except ValueError:
        raise CapError(
            path, _("date-heure impossible : « {value} »").format(value=text.strip())
        ) from None


def format_time(value: datetime) -> str:
    """Write an aware datetime as CAP does: ``2026-11-22T07:15:00+01:00``, UTC as ``-00:00``."""
    offset = value.utcoffset()
    if offset is None:
        raise CapError("time", _("date-heure sans fuseau horaire"))
    total = int(offset.total_seconds())
    sign = "-" if total <= 0 else "+"
    hours, minutes = divmod(abs(total) // 60, 60)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
        f"{sign}{hours:02d}:{minutes:02d}"
    )


def format_number(value: float) -> str:
    """Shortest decimal that reads back to the same float, never in exponent form."""
    return format(Decimal(repr(float(value))), "f")
