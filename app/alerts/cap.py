"""CAP 1.2 (OASIS Common Alerting Protocol) for Eclor's alerts.

One module reads, checks and writes CAP 1.2 messages, matches their areas to
the territory's communes and maps them to Web Push settings:

- :func:`parse` turns a CAP 1.2 document (bytes) into :class:`CapAlert`
  dataclasses, refusing anything that is not valid CAP 1.2 with a
  :class:`CapError` that carries a field path (``alert.info[0].area[1].polygon[0]``)
  and a French message (through gettext).
- :func:`validate` checks a :class:`CapAlert` built in code against the same
  rules; :func:`to_xml` calls it and writes UTF-8 CAP 1.2 back, so that
  ``parse(to_xml(alert)) == alert``.
- :func:`match_communes` and :func:`whole_territory` tell which communes an
  alert's areas cover (polygon, circle, geocode).
- :func:`push_urgency` and :func:`push_ttl` give the Web Push ``Urgency`` and
  ``TTL`` of an ``info`` block.

Parsing is safe: the document is size-capped before parsing, read with
defusedxml with any DOCTYPE refused (so no entity, internal or external, is
ever expanded: no XXE, no billion laughs) and without network access.

Strictness follows the CAP 1.2 schema: elements in the schema's order, each
single element at most once, no unknown element, enumerations exactly as the
specification, times as ``YYYY-MM-DDThh:mm:ss±hh:mm`` (no ``Z``, no fraction
of a second; UTC is written ``-00:00``). XML signature and encryption blocks
(``ds:Signature``, ``xenc:EncryptedData``) allowed by the schema at the end of
``alert`` are skipped, not verified.
"""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, cast, get_args
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml.common import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from app import geo, xmltext
from app.i18n import gettext as _

__all__ = [
    "CAP_NS",
    "DEFAULT_TTL",
    "MAX_BYTES",
    "MAX_TTL",
    "MIN_TTL",
    "REGION_DEPARTEMENTS",
    "CapAlert",
    "CapArea",
    "CapCircle",
    "CapError",
    "CapInfo",
    "CapReference",
    "CapResource",
    "CapValue",
    "Commune",
    "format_time",
    "match_communes",
    "parse",
    "parse_time",
    "push_ttl",
    "push_urgency",
    "to_xml",
    "validate",
    "whole_territory",
]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
"""The XML namespace of CAP 1.2; the root element is ``{CAP_NS}alert``."""

MAX_BYTES = 512 * 1024
"""Largest CAP document :func:`parse` reads (and :func:`to_xml` writes)."""

_DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
_XENC_NS = "http://www.w3.org/2001/04/xmlenc#"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_OTHER_CAP_PREFIX = "urn:oasis:names:tc:emergency:cap:"

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

STATUSES: tuple[str, ...] = get_args(Status)
MSG_TYPES: tuple[str, ...] = get_args(MsgType)
SCOPES: tuple[str, ...] = get_args(Scope)
CATEGORIES: tuple[str, ...] = get_args(Category)
RESPONSE_TYPES: tuple[str, ...] = get_args(ResponseType)
URGENCIES: tuple[str, ...] = get_args(Urgency)
SEVERITIES: tuple[str, ...] = get_args(Severity)
CERTAINTIES: tuple[str, ...] = get_args(Certainty)

_NEEDS_REFERENCES = frozenset({"Update", "Cancel", "Ack", "Error"})


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
_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_INTEGER_RE = re.compile(r"\+?\d+")
_LANGUAGE_RE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_ABSOLUTE_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_MIME_RE = re.compile(r"[\w!#$&^.+\-]+/[\w!#$&^.+\-]+(?:\s*;.*)?", re.ASCII)
_LISTING_RE = re.compile(r'"([^"]*)"|([^\s"]+)|(")')
_IDENT_FORBIDDEN_RE = re.compile(r"[\s,<&]")
_XML_INVALID_CHAR_RE = re.compile(
    "[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
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


def _format_number(value: float) -> str:
    """Shortest decimal that reads back to the same float, never in exponent form."""
    return format(Decimal(repr(float(value))), "f")


def _parse_decimal(text: str, path: str, what: str) -> float:
    token = text.strip()
    if not _DECIMAL_RE.fullmatch(token):
        raise CapError(path, _("{what} illisible : « {value} »").format(what=what, value=token))
    return float(token)


def _parse_point(token: str, path: str) -> Point:
    parts = token.split(",")
    if len(parts) != 2:
        raise CapError(
            path,
            _("point illisible : « {value} » (attendu « latitude,longitude »)").format(value=token),
        )
    return (
        _parse_decimal(parts[0], path, _("latitude")),
        _parse_decimal(parts[1], path, _("longitude")),
    )


def _parse_polygon(text: str, path: str) -> list[Point]:
    return [_parse_point(token, path) for token in text.split()]


def _parse_circle(text: str, path: str) -> CapCircle:
    tokens = text.split()
    if len(tokens) != 2:
        raise CapError(
            path,
            _("cercle illisible : « {value} » (attendu « latitude,longitude rayon_km »)").format(
                value=text.strip()
            ),
        )
    return CapCircle(_parse_point(tokens[0], path), _parse_decimal(tokens[1], path, _("rayon")))


def _parse_listing(text: str, path: str) -> list[str]:
    """Split a CAP group listing: whitespace-separated, multi-word items in double quotes."""
    items: list[str] = []
    for m in _LISTING_RE.finditer(text):
        quoted, bare, stray = m.groups()
        if stray is not None:
            raise CapError(path, _("guillemet non fermé dans la liste"))
        items.append(quoted if quoted is not None else bare)
    return items


def _format_listing(items: Sequence[str]) -> str:
    return " ".join(f'"{item}"' if re.search(r"\s", item) else item for item in items)


def _parse_references(text: str, path: str) -> list[CapReference]:
    refs: list[CapReference] = []
    for index, token in enumerate(text.split()):
        parts = token.split(",")
        if len(parts) != 3:
            raise CapError(
                f"{path}[{index}]",
                _("référence illisible : « {value} » (attendu « sender,identifier,sent »)").format(
                    value=token
                ),
            )
        refs.append(CapReference(parts[0], parts[1], parse_time(parts[2], f"{path}[{index}]")))
    return refs


# --------------------------------------------------------------------------
# Reading XML
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """The children of one CAP element: their order, which repeat, which are required."""

    name: str
    children: tuple[str, ...]
    repeated: frozenset[str]
    required: frozenset[str]


_ALERT = _Shape(
    "alert",
    (
        "identifier",
        "sender",
        "sent",
        "status",
        "msgType",
        "source",
        "scope",
        "restriction",
        "addresses",
        "code",
        "note",
        "references",
        "incidents",
        "info",
    ),
    frozenset({"code", "info"}),
    frozenset({"identifier", "sender", "sent", "status", "msgType", "scope"}),
)
_INFO = _Shape(
    "info",
    (
        "language",
        "category",
        "event",
        "responseType",
        "urgency",
        "severity",
        "certainty",
        "audience",
        "eventCode",
        "effective",
        "onset",
        "expires",
        "senderName",
        "headline",
        "description",
        "instruction",
        "web",
        "contact",
        "parameter",
        "resource",
        "area",
    ),
    frozenset({"category", "responseType", "eventCode", "parameter", "resource", "area"}),
    frozenset({"category", "event", "urgency", "severity", "certainty"}),
)
_RESOURCE = _Shape(
    "resource",
    ("resourceDesc", "mimeType", "size", "uri", "derefUri", "digest"),
    frozenset(),
    frozenset({"resourceDesc", "mimeType"}),
)
_AREA = _Shape(
    "area",
    ("areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"),
    frozenset({"polygon", "circle", "geocode"}),
    frozenset({"areaDesc"}),
)
_VALUE = _Shape(
    "value pair",
    ("valueName", "value"),
    frozenset(),
    frozenset({"valueName", "value"}),
)


def _split_tag(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _sep, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def _only_whitespace(text: str | None) -> bool:
    return text is None or not text.strip()


def _check_attributes(element: Element, path: str) -> None:
    for name in element.attrib:
        ns, _local = _split_tag(name)
        if ns != _XSI_NS:
            raise CapError(path, _("attribut non admis par CAP 1.2 : « {name} »").format(name=name))


def _children(element: Element, path: str, shape: _Shape) -> dict[str, list[Element]]:
    """Check the children of ``element`` against ``shape`` and group them by name."""
    _check_attributes(element, path)
    if not _only_whitespace(element.text):
        raise CapError(path, _("texte inattendu entre les éléments"))
    found: dict[str, list[Element]] = {}
    last_rank = -1
    for child in element:
        if not isinstance(child.tag, str):  # comments and processing instructions
            continue
        if not _only_whitespace(child.tail):
            raise CapError(path, _("texte inattendu entre les éléments"))
        ns, local = _split_tag(child.tag)
        if ns != CAP_NS:
            if shape is _ALERT and ns in (_DSIG_NS, _XENC_NS):
                continue  # signature / encryption, allowed by the schema, not verified
            raise CapError(
                f"{path}.{local}",
                _("élément hors de l'espace de noms CAP 1.2 : « {tag} »").format(tag=child.tag),
            )
        if local not in shape.children:
            raise CapError(
                f"{path}.{local}",
                _("élément inconnu dans <{parent}> : <{name}>").format(
                    parent=shape.name, name=local
                ),
            )
        rank = shape.children.index(local)
        if rank < last_rank:
            raise CapError(
                f"{path}.{local}",
                _("élément hors de l'ordre du schéma CAP 1.2 : <{name}> après <{previous}>").format(
                    name=local, previous=shape.children[last_rank]
                ),
            )
        last_rank = rank
        if local in found and local not in shape.repeated:
            raise CapError(
                f"{path}.{local}",
                _("élément répété alors qu'il ne peut apparaître qu'une fois : <{name}>").format(
                    name=local
                ),
            )
        found.setdefault(local, []).append(child)
    for name in shape.children:
        if name in shape.required and name not in found:
            raise CapError(
                f"{path}.{name}",
                _("élément obligatoire manquant : <{name}>").format(name=name),
            )
    return found


def _text(element: Element, path: str) -> str:
    """The text of a leaf element (``""`` when empty)."""
    _check_attributes(element, path)
    if any(isinstance(child.tag, str) for child in element):
        raise CapError(path, _("cet élément ne contient que du texte, pas d'éléments"))
    return element.text or ""


def _leaf(found: dict[str, list[Element]], name: str, path: str) -> str | None:
    elements = found.get(name)
    return _text(elements[0], f"{path}.{name}") if elements else None


def _leaves(found: dict[str, list[Element]], name: str, path: str) -> list[str]:
    return [
        _text(element, f"{path}.{name}[{index}]")
        for index, element in enumerate(found.get(name, []))
    ]


def _token(found: dict[str, list[Element]], name: str, path: str) -> str | None:
    value = _leaf(found, name, path)
    return None if value is None else value.strip()


def _time(found: dict[str, list[Element]], name: str, path: str) -> datetime | None:
    value = _leaf(found, name, path)
    return None if value is None else parse_time(value, f"{path}.{name}")


def _values(found: dict[str, list[Element]], name: str, path: str) -> list[CapValue]:
    pairs: list[CapValue] = []
    for index, element in enumerate(found.get(name, [])):
        here = f"{path}.{name}[{index}]"
        inner = _children(element, here, _VALUE)
        pairs.append(
            CapValue(
                _text(inner["valueName"][0], f"{here}.valueName"),
                _text(inner["value"][0], f"{here}.value"),
            )
        )
    return pairs


def _read_resource(element: Element, path: str) -> CapResource:
    found = _children(element, path, _RESOURCE)
    size_text = _token(found, "size", path)
    size: int | None = None
    if size_text is not None:
        if not _INTEGER_RE.fullmatch(size_text):
            raise CapError(
                f"{path}.size",
                _("taille illisible : « {value} » (entier en octets attendu)").format(
                    value=size_text
                ),
            )
        size = int(size_text)
    return CapResource(
        resourceDesc=_leaf(found, "resourceDesc", path) or "",
        mimeType=_token(found, "mimeType", path) or "",
        size=size,
        uri=_token(found, "uri", path),
        derefUri=_leaf(found, "derefUri", path),
        digest=_token(found, "digest", path),
    )


def _read_area(element: Element, path: str) -> CapArea:
    found = _children(element, path, _AREA)
    altitude = _token(found, "altitude", path)
    ceiling = _token(found, "ceiling", path)
    return CapArea(
        areaDesc=_leaf(found, "areaDesc", path) or "",
        polygons=[
            _parse_polygon(text, f"{path}.polygon[{index}]")
            for index, text in enumerate(_leaves(found, "polygon", path))
        ],
        circles=[
            _parse_circle(text, f"{path}.circle[{index}]")
            for index, text in enumerate(_leaves(found, "circle", path))
        ],
        geocodes=_values(found, "geocode", path),
        altitude=None
        if altitude is None
        else _parse_decimal(altitude, f"{path}.altitude", _("altitude")),
        ceiling=None
        if ceiling is None
        else _parse_decimal(ceiling, f"{path}.ceiling", _("plafond")),
    )


def _read_info(element: Element, path: str) -> CapInfo:
    found = _children(element, path, _INFO)
    language = _token(found, "language", path)
    return CapInfo(
        language="en-US" if language is None else language,
        category=cast(list[Category], [v.strip() for v in _leaves(found, "category", path)]),
        event=_leaf(found, "event", path) or "",
        responseType=cast(
            list[ResponseType], [v.strip() for v in _leaves(found, "responseType", path)]
        ),
        urgency=cast(Urgency, _token(found, "urgency", path)),
        severity=cast(Severity, _token(found, "severity", path)),
        certainty=cast(Certainty, _token(found, "certainty", path)),
        audience=_leaf(found, "audience", path),
        eventCode=_values(found, "eventCode", path),
        effective=_time(found, "effective", path),
        onset=_time(found, "onset", path),
        expires=_time(found, "expires", path),
        senderName=_leaf(found, "senderName", path),
        headline=_leaf(found, "headline", path),
        description=_leaf(found, "description", path),
        instruction=_leaf(found, "instruction", path),
        web=_token(found, "web", path),
        contact=_leaf(found, "contact", path),
        parameter=_values(found, "parameter", path),
        resources=[
            _read_resource(child, f"{path}.resource[{index}]")
            for index, child in enumerate(found.get("resource", []))
        ],
        areas=[
            _read_area(child, f"{path}.area[{index}]")
            for index, child in enumerate(found.get("area", []))
        ],
    )


def _read_alert(root: Element) -> CapAlert:
    path = "alert"
    found = _children(root, path, _ALERT)
    addresses = _leaf(found, "addresses", path)
    incidents = _leaf(found, "incidents", path)
    references = _leaf(found, "references", path)
    sent = _time(found, "sent", path)
    if sent is None:  # unreachable: <sent> is required, _children checked it
        raise CapError(f"{path}.sent", _("élément obligatoire manquant : <sent>"))
    return CapAlert(
        identifier=_token(found, "identifier", path) or "",
        sender=_token(found, "sender", path) or "",
        sent=sent,
        status=cast(Status, _token(found, "status", path)),
        msgType=cast(MsgType, _token(found, "msgType", path)),
        source=_leaf(found, "source", path),
        scope=cast(Scope, _token(found, "scope", path)),
        restriction=_leaf(found, "restriction", path),
        addresses=[] if addresses is None else _parse_listing(addresses, f"{path}.addresses"),
        code=_leaves(found, "code", path),
        note=_leaf(found, "note", path),
        references=[]
        if references is None
        else _parse_references(references, f"{path}.references"),
        incidents=[] if incidents is None else _parse_listing(incidents, f"{path}.incidents"),
        infos=[
            _read_info(child, f"{path}.info[{index}]")
            for index, child in enumerate(found.get("info", []))
        ],
    )


def parse(xml_bytes: bytes | bytearray | memoryview, *, max_bytes: int = MAX_BYTES) -> CapAlert:
    """Read a CAP 1.2 document and return the checked :class:`CapAlert`.

    Raises :class:`CapError` (a ``ValueError``) for a document over
    ``max_bytes``, malformed XML, any DOCTYPE or entity declaration, a root
    other than ``{urn:oasis:names:tc:emergency:cap:1.2}alert``, and any
    breach of CAP 1.2 (see :func:`validate`).
    """
    if not isinstance(xml_bytes, (bytes, bytearray, memoryview)):
        raise TypeError("parse() takes the CAP document as bytes")
    data = bytes(xml_bytes)
    if len(data) > max_bytes:
        raise CapError(
            "document",
            _("document trop volumineux : {size} octets (maximum {limit})").format(
                size=len(data), limit=max_bytes
            ),
        )
    if not data.strip():
        raise CapError("document", _("document vide"))
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise CapError(
            "document",
            _("DOCTYPE refusé : un message CAP ne déclare ni DTD ni entité"),
        ) from None
    except EntitiesForbidden:
        raise CapError("document", _("déclaration d'entité refusée")) from None
    except ExternalReferenceForbidden:
        raise CapError("document", _("référence externe refusée")) from None
    except DefusedXmlException:
        raise CapError("document", _("construction XML refusée")) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise CapError(
            "document",
            _("XML mal formé (ligne {line}, colonne {column})").format(line=line, column=column),
        ) from None
    if not isinstance(root.tag, str):
        raise CapError("document", _("élément racine absent"))
    ns, local = _split_tag(root.tag)
    if ns != CAP_NS or local != "alert":
        if local == "alert" and ns is not None and ns.startswith(_OTHER_CAP_PREFIX):
            message = _("version de CAP non prise en charge : « {ns} » (seul CAP 1.2 l'est)")
        elif local == "alert":
            message = _("espace de noms absent ou inconnu : « {ns} » (attendu CAP 1.2)")
        else:
            message = _("l'élément racine doit être <alert> de CAP 1.2, pas <{local}>")
        raise CapError("alert", message.format(ns=ns or "", local=local))
    alert = _read_alert(root)
    validate(alert)
    return alert


# --------------------------------------------------------------------------
# Validation of objects
# --------------------------------------------------------------------------


def _check_string(value: object, path: str, *, required: bool = False) -> None:
    if not isinstance(value, str):
        raise CapError(path, _("texte attendu"))
    if required and not value.strip():
        raise CapError(path, _("valeur obligatoire vide"))
    bad = _XML_INVALID_CHAR_RE.search(value)
    if bad is not None:
        raise CapError(
            path,
            _("caractère interdit en XML : U+{code:04X}").format(code=ord(bad.group())),
        )


def _check_optional(value: object, path: str) -> None:
    if value is not None:
        _check_string(value, path)


def _check_enum(value: object, allowed: tuple[str, ...], path: str) -> None:
    if value not in allowed:
        raise CapError(
            path,
            _("valeur « {value} » non admise ; valeurs admises : {allowed}").format(
                value=value, allowed=", ".join(allowed)
            ),
        )


def _check_ident(value: object, path: str) -> None:
    _check_string(value, path, required=True)
    assert isinstance(value, str)
    if _IDENT_FORBIDDEN_RE.search(value):
        raise CapError(
            path,
            _("ni espace, ni virgule, ni « < », ni « & » admis : « {value} »").format(value=value),
        )


def _check_time(value: object, path: str) -> None:
    if not isinstance(value, datetime):
        raise CapError(path, _("date-heure attendue"))
    offset = value.utcoffset()
    if offset is None:
        raise CapError(path, _("date-heure sans fuseau horaire : le décalage est obligatoire"))
    if offset.total_seconds() % 60 or abs(offset) > timedelta(hours=14):
        raise CapError(path, _("décalage horaire non représentable en CAP 1.2"))
    if value.microsecond:
        raise CapError(path, _("les fractions de seconde ne sont pas admises par CAP 1.2"))


def _check_number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CapError(path, _("nombre attendu"))
    if not math.isfinite(value):
        raise CapError(path, _("nombre fini attendu"))
    return float(value)


def _check_point(point: object, path: str) -> None:
    if not isinstance(point, tuple) or len(point) != 2:
        raise CapError(path, _("point (latitude, longitude) attendu"))
    lat = _check_number(point[0], path)
    lon = _check_number(point[1], path)
    if not -90.0 <= lat <= 90.0:
        raise CapError(
            path, _("latitude hors de [-90, 90] : {value}").format(value=_format_number(lat))
        )
    if not -180.0 <= lon <= 180.0:
        raise CapError(
            path, _("longitude hors de [-180, 180] : {value}").format(value=_format_number(lon))
        )


def _check_values(values: object, path: str) -> None:
    if not isinstance(values, list):
        raise CapError(path, _("liste attendue"))
    for index, pair in enumerate(values):
        here = f"{path}[{index}]"
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise CapError(here, _("couple (valueName, value) attendu"))
        _check_string(pair[0], f"{here}.valueName", required=True)
        _check_string(pair[1], f"{here}.value")


def _check_listing(items: object, path: str) -> None:
    if not isinstance(items, list):
        raise CapError(path, _("liste attendue"))
    for index, item in enumerate(items):
        _check_string(item, f"{path}[{index}]", required=True)
        assert isinstance(item, str)
        if '"' in item:
            raise CapError(f"{path}[{index}]", _("guillemet interdit dans un élément de liste"))


def _check_area(area: object, path: str) -> None:
    if not isinstance(area, CapArea):
        raise CapError(path, _("bloc area attendu"))
    _check_string(area.areaDesc, f"{path}.areaDesc", required=True)
    for index, ring in enumerate(area.polygons):
        here = f"{path}.polygon[{index}]"
        if not isinstance(ring, list):
            raise CapError(here, _("liste de points attendue"))
        for point in ring:
            _check_point(point, here)
        if len(ring) < 4:
            raise CapError(
                here,
                _(
                    "un polygone compte au moins 4 points (le premier répété à la fin) : {count} donnés"
                ).format(count=len(ring)),
            )
        if ring[0] != ring[-1]:
            raise CapError(
                here,
                _("polygone non fermé : le dernier point doit être égal au premier"),
            )
    for index, circle in enumerate(area.circles):
        here = f"{path}.circle[{index}]"
        if not isinstance(circle, tuple) or len(circle) != 2:
            raise CapError(here, _("cercle ((latitude, longitude), rayon_km) attendu"))
        _check_point(circle[0], here)
        if _check_number(circle[1], here) < 0:
            raise CapError(here, _("rayon négatif : le rayon d'un cercle est ≥ 0 km"))
    _check_values(area.geocodes, f"{path}.geocode")
    if area.altitude is not None:
        _check_number(area.altitude, f"{path}.altitude")
    if area.ceiling is not None:
        _check_number(area.ceiling, f"{path}.ceiling")
        if area.altitude is None:
            raise CapError(f"{path}.ceiling", _("<ceiling> n'est admis qu'avec <altitude>"))


def _check_resource(resource: object, path: str) -> None:
    if not isinstance(resource, CapResource):
        raise CapError(path, _("bloc resource attendu"))
    _check_string(resource.resourceDesc, f"{path}.resourceDesc", required=True)
    _check_string(resource.mimeType, f"{path}.mimeType", required=True)
    if not _MIME_RE.fullmatch(resource.mimeType):
        raise CapError(
            f"{path}.mimeType",
            _("type MIME illisible : « {value} »").format(value=resource.mimeType),
        )
    if resource.size is not None and (
        isinstance(resource.size, bool) or not isinstance(resource.size, int) or resource.size < 0
    ):
        raise CapError(f"{path}.size", _("taille en octets : entier positif attendu"))
    _check_optional(resource.derefUri, f"{path}.derefUri")
    if resource.derefUri is not None:
        try:
            binascii.a2b_base64(
                "".join(resource.derefUri.split()).encode("ascii"), strict_mode=True
            )
        except (binascii.Error, UnicodeEncodeError):
            raise CapError(f"{path}.derefUri", _("contenu base64 illisible")) from None
    _check_optional(resource.uri, f"{path}.uri")
    if resource.uri is not None and (
        re.search(r"\s", resource.uri)
        or not resource.uri
        or (resource.derefUri is None and not _ABSOLUTE_URI_RE.fullmatch(resource.uri))
    ):
        raise CapError(
            f"{path}.uri",
            _("URI absolue attendue (relative seulement avec <derefUri>) : « {value} »").format(
                value=resource.uri
            ),
        )
    _check_optional(resource.digest, f"{path}.digest")
    if resource.digest is not None and resource.digest != resource.digest.strip():
        raise CapError(f"{path}.digest", _("espaces en trop autour de l'empreinte"))


def _check_info(info: object, path: str) -> None:
    if not isinstance(info, CapInfo):
        raise CapError(path, _("bloc info attendu"))
    _check_string(info.language, f"{path}.language", required=True)
    if not _LANGUAGE_RE.fullmatch(info.language):
        raise CapError(
            f"{path}.language",
            _("code de langue RFC 3066 attendu : « {value} »").format(value=info.language),
        )
    if not info.category:
        raise CapError(f"{path}.category", _("élément obligatoire manquant : <category>"))
    for index, category in enumerate(info.category):
        _check_enum(category, CATEGORIES, f"{path}.category[{index}]")
    _check_string(info.event, f"{path}.event", required=True)
    for index, response in enumerate(info.responseType):
        _check_enum(response, RESPONSE_TYPES, f"{path}.responseType[{index}]")
    _check_enum(info.urgency, URGENCIES, f"{path}.urgency")
    _check_enum(info.severity, SEVERITIES, f"{path}.severity")
    _check_enum(info.certainty, CERTAINTIES, f"{path}.certainty")
    _check_optional(info.audience, f"{path}.audience")
    _check_values(info.eventCode, f"{path}.eventCode")
    for name in ("effective", "onset", "expires"):
        value = getattr(info, name)
        if value is not None:
            _check_time(value, f"{path}.{name}")
    for name in ("senderName", "headline", "description", "instruction", "contact"):
        _check_optional(getattr(info, name), f"{path}.{name}")
    _check_optional(info.web, f"{path}.web")
    if info.web is not None and not _ABSOLUTE_URI_RE.fullmatch(info.web):
        raise CapError(
            f"{path}.web", _("URI absolue attendue : « {value} »").format(value=info.web)
        )
    _check_values(info.parameter, f"{path}.parameter")
    for index, resource in enumerate(info.resources):
        _check_resource(resource, f"{path}.resource[{index}]")
    for index, area in enumerate(info.areas):
        _check_area(area, f"{path}.area[{index}]")


def validate(alert: CapAlert) -> None:
    """Check ``alert`` against CAP 1.2; raise :class:`CapError` at the first breach.

    Beyond the schema's required elements and enumerations: ``restriction``
    is required when ``scope`` is Restricted, ``addresses`` when it is
    Private, ``references`` for Update, Cancel, Ack and Error; identifiers
    hold no space, comma, ``<`` or ``&``; times are aware, to the second;
    polygons are closed rings of at least 4 points; latitudes lie in
    [-90, 90], longitudes in [-180, 180]; circle radii are ≥ 0.
    """
    if not isinstance(alert, CapAlert):
        raise CapError("alert", _("message CAP attendu"))
    path = "alert"
    _check_ident(alert.identifier, f"{path}.identifier")
    _check_ident(alert.sender, f"{path}.sender")
    _check_time(alert.sent, f"{path}.sent")
    _check_enum(alert.status, STATUSES, f"{path}.status")
    _check_enum(alert.msgType, MSG_TYPES, f"{path}.msgType")
    _check_optional(alert.source, f"{path}.source")
    _check_enum(alert.scope, SCOPES, f"{path}.scope")
    _check_optional(alert.restriction, f"{path}.restriction")
    if alert.scope == "Restricted" and not (alert.restriction or "").strip():
        raise CapError(
            f"{path}.restriction",
            _("<restriction> est obligatoire quand <scope> vaut Restricted"),
        )
    _check_listing(alert.addresses, f"{path}.addresses")
    if alert.scope == "Private" and not alert.addresses:
        raise CapError(
            f"{path}.addresses",
            _("<addresses> est obligatoire quand <scope> vaut Private"),
        )
    if not isinstance(alert.code, list):
        raise CapError(f"{path}.code", _("liste attendue"))
    for index, code in enumerate(alert.code):
        _check_string(code, f"{path}.code[{index}]")
    _check_optional(alert.note, f"{path}.note")
    if not isinstance(alert.references, list):
        raise CapError(f"{path}.references", _("liste attendue"))
    for index, ref in enumerate(alert.references):
        here = f"{path}.references[{index}]"
        if not isinstance(ref, tuple) or len(ref) != 3:
            raise CapError(here, _("triplet (sender, identifier, sent) attendu"))
        _check_ident(ref[0], here)
        _check_ident(ref[1], here)
        _check_time(ref[2], here)
    if alert.msgType in _NEEDS_REFERENCES and not alert.references:
        raise CapError(
            f"{path}.references",
            _("<references> est obligatoire pour un message de type {msg_type}").format(
                msg_type=alert.msgType
            ),
        )
    _check_listing(alert.incidents, f"{path}.incidents")
    if not isinstance(alert.infos, list):
        raise CapError(f"{path}.info", _("liste attendue"))
    for index, info in enumerate(alert.infos):
        _check_info(info, f"{path}.info[{index}]")


# --------------------------------------------------------------------------
# Writing XML
# --------------------------------------------------------------------------


class _Writer:
    """Indented CAP XML, one element per line; text is escaped exactly."""

    def __init__(self) -> None:
        self.lines: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>']
        self.depth = 0

    def open(self, name: str, attrs: str = "") -> None:
        self.lines.append(f"{'  ' * self.depth}<{name}{attrs}>")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.lines.append(f"{'  ' * self.depth}</{name}>")

    def leaf(self, name: str, value: str | None) -> None:
        if value is not None:
            self.lines.append(f"{'  ' * self.depth}<{name}>{xmltext.text(value)}</{name}>")

    def values(self, name: str, pairs: Iterable[CapValue]) -> None:
        for pair in pairs:
            self.open(name)
            self.leaf("valueName", pair[0])
            self.leaf("value", pair[1])
            self.close(name)

    def result(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode("utf-8")


def _point_text(point: Point) -> str:
    return f"{_format_number(point[0])},{_format_number(point[1])}"


def to_xml(alert: CapAlert) -> bytes:
    """Write ``alert`` as a UTF-8 CAP 1.2 document, after :func:`validate`.

    Times keep their offset, UTC is written ``-00:00`` (never ``Z``); numbers
    are written in the shortest decimal form that reads back to the same
    float, so ``parse(to_xml(alert)) == alert``.
    """
    validate(alert)
    w = _Writer()
    w.open("alert", f' xmlns="{CAP_NS}"')
    w.leaf("identifier", alert.identifier)
    w.leaf("sender", alert.sender)
    w.leaf("sent", format_time(alert.sent))
    w.leaf("status", alert.status)
    w.leaf("msgType", alert.msgType)
    w.leaf("source", alert.source)
    w.leaf("scope", alert.scope)
    w.leaf("restriction", alert.restriction)
    if alert.addresses:
        w.leaf("addresses", _format_listing(alert.addresses))
    for code in alert.code:
        w.leaf("code", code)
    w.leaf("note", alert.note)
    if alert.references:
        w.leaf(
            "references",
            " ".join(f"{r[0]},{r[1]},{format_time(r[2])}" for r in alert.references),
        )
    if alert.incidents:
        w.leaf("incidents", _format_listing(alert.incidents))
    for info in alert.infos:
        w.open("info")
        w.leaf("language", info.language)
        for category in info.category:
            w.leaf("category", category)
        w.leaf("event", info.event)
        for response in info.responseType:
            w.leaf("responseType", response)
        w.leaf("urgency", info.urgency)
        w.leaf("severity", info.severity)
        w.leaf("certainty", info.certainty)
        w.leaf("audience", info.audience)
        w.values("eventCode", info.eventCode)
        for name in ("effective", "onset", "expires"):
            value = getattr(info, name)
            if value is not None:
                w.leaf(name, format_time(value))
        w.leaf("senderName", info.senderName)
        w.leaf("headline", info.headline)
        w.leaf("description", info.description)
        w.leaf("instruction", info.instruction)
        w.leaf("web", info.web)
        w.leaf("contact", info.contact)
        w.values("parameter", info.parameter)
        for resource in info.resources:
            w.open("resource")
            w.leaf("resourceDesc", resource.resourceDesc)
            w.leaf("mimeType", resource.mimeType)
            w.leaf("size", None if resource.size is None else str(resource.size))
            w.leaf("uri", resource.uri)
            w.leaf("derefUri", resource.derefUri)
            w.leaf("digest", resource.digest)
            w.close("resource")
        for area in info.areas:
            w.open("area")
            w.leaf("areaDesc", area.areaDesc)
            for ring in area.polygons:
                w.leaf("polygon", " ".join(_point_text(point) for point in ring))
            for circle in area.circles:
                w.leaf("circle", f"{_point_text(circle[0])} {_format_number(circle[1])}")
            w.values("geocode", area.geocodes)
            if area.altitude is not None:
                w.leaf("altitude", _format_number(area.altitude))
            if area.ceiling is not None:
                w.leaf("ceiling", _format_number(area.ceiling))
            w.close("area")
        w.close("info")
    w.close("alert")
    data = w.result()
    if len(data) > MAX_BYTES:
        raise CapError(
            "alert",
            _("message trop volumineux : {size} octets (maximum {limit})").format(
                size=len(data), limit=MAX_BYTES
            ),
        )
    return data


# --------------------------------------------------------------------------
# Areas and communes
# --------------------------------------------------------------------------


class Commune(NamedTuple):
    """A commune as area matching needs it: INSEE code, name and centre."""

    insee: str
    name: str
    lat: float
    lon: float


CommuneLike = Any
"""A :class:`Commune`, an object with ``insee``, ``name``, ``lat``, ``lon``
attributes (the ``Commune`` table), a mapping with those keys, or an
``(insee, name, lat, lon)`` sequence."""

REGION_DEPARTEMENTS: Mapping[str, str] = MappingProxyType(
    {
        # NUTS 3 codes (2021) of the départements of Grand Est: the values of NUTS3
        # geocodes, and of EMMA_ID geocodes where the publisher writes NUTS 3 codes.
        "FRF11": "67",  # Bas-Rhin
        "FRF12": "68",  # Haut-Rhin
        "FRF21": "08",  # Ardennes
        "FRF22": "10",  # Aube
        "FRF23": "51",  # Marne
        "FRF24": "52",  # Haute-Marne
        "FRF31": "54",  # Meurthe-et-Moselle
        "FRF32": "55",  # Meuse
        "FRF33": "57",  # Moselle
        "FRF34": "88",  # Vosges
    }
)
"""Region codes (``NUTS3``/``EMMA_ID`` geocode values) → French département code.

Codes not listed here (other countries, such as Luxembourg's ``LU000``)
match no commune through a geocode; pass a larger mapping to
:func:`match_communes` for territories elsewhere."""

_INSEE_NAMES = frozenset({"insee", "code_insee", "insee_code", "insee_com", "codgeo"})
_DEPARTEMENT_NAMES = frozenset(
    {"departement", "département", "dept", "dep", "code_departement", "insee_dep", "fr-dept"}
)
_REGION_NAMES = frozenset({"emma_id", "nuts3", "nuts"})


def _as_commune(item: CommuneLike) -> Commune:
    if isinstance(item, Commune):
        return item
    if isinstance(item, Mapping):
        return Commune(
            str(item["insee"]), str(item["name"]), float(item["lat"]), float(item["lon"])
        )
    if all(hasattr(item, name) for name in ("insee", "name", "lat", "lon")):
        return Commune(str(item.insee), str(item.name), float(item.lat), float(item.lon))
    if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 4:
        return Commune(str(item[0]), str(item[1]), float(item[2]), float(item[3]))
    raise TypeError(f"not a commune (insee, name, lat, lon): {item!r}")


def _departement_of(insee: str) -> str:
    """The département of an INSEE commune code (``57038`` → ``57``, ``97411`` → ``974``)."""
    return insee[:3] if insee[:2] in ("97", "98") else insee[:2]


def _normalise_departement(code: str) -> str:
    code = code.strip().upper()
    if len(code) == 1 and code.isdigit():
        return "0" + code
    if len(code) == 3 and code.startswith("0"):
        return code[1:]
    return code


def _geocode_matches(geocode: CapValue, commune: Commune, region_codes: Mapping[str, str]) -> bool:
    name = geocode[0].strip().casefold()
    value = geocode[1].strip().upper()
    if not value:
        return False
    if name in _INSEE_NAMES:
        if len(value) == 5:
            return commune.insee.upper() == value
        return _departement_of(commune.insee) == _normalise_departement(value)
    if name in _DEPARTEMENT_NAMES:
        return _departement_of(commune.insee) == _normalise_departement(value)
    if name in _REGION_NAMES:
        departement = region_codes.get(value)
        return departement is not None and _departement_of(commune.insee) == departement
    return False


def _area_covers(area: CapArea, commune: Commune, region_codes: Mapping[str, str]) -> bool:
    point = (commune.lat, commune.lon)
    return (
        any(geo.point_in_polygon(commune.lat, commune.lon, ring) for ring in area.polygons)
        or any(geo.distance_m(*circle[0], *point) <= circle[1] * 1000 for circle in area.circles)
        or any(_geocode_matches(code, commune, region_codes) for code in area.geocodes)
    )


def match_communes(
    areas: Iterable[CapArea],
    communes: Iterable[CommuneLike],
    *,
    region_codes: Mapping[str, str] = REGION_DEPARTEMENTS,
) -> set[str]:
    """The INSEE codes of the communes that ``areas`` cover.

    A commune is covered when its centre lies in one of the polygons (ray
    casting on latitude/longitude; a centre on an edge counts), within one of
    the circles (haversine distance ≤ radius), or when a geocode names it:

    - ``INSEE`` (any case, also ``CODE_INSEE``…): a 5-character value is a
      commune code, a 2- or 3-character one a département code;
    - ``DEPARTEMENT`` / ``DEPT``: a département code (``57``, ``054``);
    - ``NUTS3`` / ``EMMA_ID``: a region code looked up in ``region_codes``
      (``FRF33`` → Moselle, ``FRF31`` → Meurthe-et-Moselle).

    Unknown geocode names and codes match nothing: an area given only as
    Luxembourg (``LU000``) covers no French commune unless its polygons or
    circles reach them. Only a commune's centre is tested, not its outline.
    """
    area_list = list(areas)
    matched: set[str] = set()
    for item in communes:
        commune = _as_commune(item)
        if any(_area_covers(area, commune, region_codes) for area in area_list):
            matched.add(commune.insee)
    return matched


def whole_territory(
    areas: Iterable[CapArea],
    communes: Iterable[CommuneLike],
    *,
    region_codes: Mapping[str, str] = REGION_DEPARTEMENTS,
) -> bool:
    """True when ``areas`` cover every one of ``communes`` (and there is at least one)."""
    commune_list = [_as_commune(item) for item in communes]
    if not commune_list:
        return False
    matched = match_communes(areas, commune_list, region_codes=region_codes)
    return all(commune.insee in matched for commune in commune_list)


# --------------------------------------------------------------------------
# Web Push settings
# --------------------------------------------------------------------------

MIN_TTL = 60
"""Shortest push TTL, in seconds."""
MAX_TTL = 28 * 24 * 3600
"""Longest push TTL (4 weeks), in seconds: what push services keep at most."""
DEFAULT_TTL = 24 * 3600
"""Push TTL of an ``info`` without ``expires``, in seconds."""

_HIGH_SEVERITIES = frozenset({"Extreme", "Severe"})
_SOON = frozenset({"Immediate", "Expected"})


def push_urgency(info: CapInfo) -> PushUrgency:
    """The Web Push ``Urgency`` (RFC 8030) of an ``info``, from its urgency and severity.

    ===========  ================  ========  =====  =======
    urgency      Extreme, Severe   Moderate  Minor  Unknown
    ===========  ================  ========  =====  =======
    Immediate    high              normal    low    low
    Expected     high              normal    low    low
    Future       normal            normal    low    low
    Past         very-low          very-low  very-low  very-low
    Unknown      low               low       low    low
    ===========  ================  ========  =====  =======
    """
    urgency, severity = info.urgency, info.severity
    if urgency == "Past":
        return "very-low"
    if urgency not in _SOON and urgency != "Future":
        return "low"
    if severity in _HIGH_SEVERITIES:
        return "high" if urgency in _SOON else "normal"
    if severity == "Moderate":
        return "normal"
    return "low"


def push_ttl(info: CapInfo, now: datetime) -> int:
    """The Web Push ``TTL`` in seconds: until ``expires``, within [MIN_TTL, MAX_TTL].

    Without ``expires`` the TTL is :data:`DEFAULT_TTL` (24 h). An ``info``
    that has already expired still gets :data:`MIN_TTL`; whether to send it
    at all is the caller's decision. ``now`` must be aware.
    """
    if now.utcoffset() is None:
        raise ValueError("push_ttl() needs an aware 'now'")
    if info.expires is None:
        return DEFAULT_TTL
    remaining = math.floor((info.expires - now).total_seconds())
    return max(MIN_TTL, min(MAX_TTL, remaining))
