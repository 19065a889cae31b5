"""CAP areas on the territory and CAP info in Web Push: which communes an alert's areas cover (polygon, circle, geocode), and the ``Urgency`` and ``TTL`` of an ``info`` block."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from app import geo
from app.alerts.cap import CapArea, CapInfo, CapValue, PushUrgency

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
        # NUTS 3 codes of the départements of Grand Est, NUTS 2016 and 2021 (the same codes).
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
        # The same départements in NUTS 2013 (and 2010), before the regions merged: Lorraine
        # FR41, Alsace FR42, Champagne-Ardenne FR21. Services still send these codes.
        "FR411": "54",
        "FR412": "55",
        "FR413": "57",
        "FR414": "88",
        "FR421": "67",
        "FR422": "68",
        "FR211": "08",
        "FR212": "10",
        "FR213": "51",
        "FR214": "52",
    }
)
"""NUTS 3 codes (2013, 2016, 2021) → French département code.

A NUTS value names every département whose NUTS 3 code it begins with: a
region at level 2 (``FRF3`` Lorraine since 2016, ``FR41`` in NUTS 2013) or 1
(``FRF``, ``FR4``), and ``FR`` the whole country. Codes not listed here (other
countries, such as Luxembourg's ``LU000``) match no commune through a geocode;
pass a larger mapping to :func:`match_communes` for territories elsewhere."""

_INSEE_NAMES = frozenset(
    {
        "insee",
        "codeinsee",
        "inseecode",
        "inseecom",
        "codgeo",
        "cog",
        "codecommune",
        "codeinseecommune",
        "lau",
        "lau2",
        "lauid",
        "laucode",
    }
)
_DEPARTEMENT_NAMES = frozenset(
    {
        "departement",
        "département",
        "dept",
        "dep",
        "codedepartement",
        "codedep",
        "inseedep",
        "frdept",
        "numdep",
    }
)
_EMMA_NAMES = frozenset({"emmaid", "emma"})
_EMMA_FR_RE = re.compile(r"FR(0\d\d|0?2[AB])")  # FR057; NUTS codes never begin with FR0


def _name_key(name: str) -> str:
    """A geocode's valueName compared loosely: ``CODE_INSEE``, ``code-insee`` → ``codeinsee``."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


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


def _nuts_matches(value: str, departement: str, region_codes: Mapping[str, str]) -> bool:
    return any(code.startswith(value) and dep == departement for code, dep in region_codes.items())


def _geocode_matches(geocode: CapValue, commune: Commune, region_codes: Mapping[str, str]) -> bool:
    name = _name_key(geocode[0])
    value = geocode[1].strip().upper()
    if not value:
        return False
    departement = _departement_of(commune.insee)
    if name in _INSEE_NAMES:
        if value.startswith("FR") and len(value) == 7:  # LAU codes written with the country
            value = value[2:]
        if len(value) == 5:
            return commune.insee.upper() == value
        return departement == _normalise_departement(value)
    if name in _DEPARTEMENT_NAMES:
        return departement == _normalise_departement(value)
    if name.startswith("nuts"):
        return _nuts_matches(value, departement, region_codes)
    if name in _EMMA_NAMES:
        # MeteoAlarm's EMMA_ID: a NUTS code, or "FR" and the département on three characters.
        emma = _EMMA_FR_RE.fullmatch(value)
        if emma is not None:
            return departement == _normalise_departement(emma.group(1))
        return _nuts_matches(value, departement, region_codes)
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

    - ``INSEE`` (any case and spelling: ``CODE_INSEE``, ``COG``, ``LAU``…): a
      5-character value is a commune code (``FR57038`` too), a 2- or
      3-character one a département code;
    - ``DEPARTEMENT`` / ``DEPT`` / ``CODE_DEP``: a département code (``57``, ``054``);
    - ``NUTS3``, ``NUTS2``, ``NUTS`` (any NUTS version): a NUTS code of any level
      looked up in ``region_codes`` (``FRF33`` and NUTS 2013's ``FR413`` →
      Moselle, ``FRF3``/``FR41`` → Lorraine);
    - ``EMMA_ID``: MeteoAlarm's code, ``FR057`` for a département or a NUTS code.

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
