"""CAP areas on the territory and CAP info in Web Push: which communes an alert's areas cover (polygon, circle, geocode), and the ``Urgency`` and ``TTL`` of an ``info`` block."""

from __future__ import annotations

import math
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
