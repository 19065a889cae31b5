"""The territories one install serves: which one a request is for, and what it looks like.

The web app keeps an in-process map from host name to :class:`Branding` (a frozen snapshot
of a ``territories`` row), so choosing a request's territory is a dictionary lookup, never a
query. The map is built on the first request and built again when a territory changes in
this process (:func:`changed`, called by ``eclor territory`` and the demo), or after
:data:`RELOAD_SECONDS` when another process may have changed one. A host no territory
claims gets the default territory: the first row.

Everything that used to take "the first ``Territory`` row" goes through
:func:`default_territory`, the one place that says which one that is.

Days, months and wall-clock hours are cut in the time zone of the territory the data belongs to:
:func:`zone` (by territory id, or the session's territory), :func:`commune_zone` (by commune) and
:meth:`Branding.zone` (a request's), all from one map per database read once and kept like the
host map, so a job or the telemetry relay asks a dictionary, never the database, per row.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from app import i18n
from app.models.territory import Commune, Territory
from app.scope import extras as scope_extras

log = logging.getLogger("eclor.territories")

RELOAD_SECONDS = 60.0
"""How old the host map may get before it is read again (a change made by another process)."""

_generation = 0
_generation_lock = threading.Lock()


def changed() -> None:
    """Say a territory was added or changed in this process: every map is read again."""
    global _generation
    with _generation_lock:
        _generation += 1


def row_in(session: Session, model: Any, key: Any, territory_id: int) -> Any:
    """The row of ``model`` (a table with ``territory_id``) of that key if it belongs to the
    territory, else None (as if it did not exist): another territory's row is not found."""
    row = session.get(model, key) if key not in (None, "") else None
    return row if row is not None and row.territory_id == territory_id else None


def default_territory(session: Session) -> Territory | None:
    """The install's default territory (the first one): for what is not yet per territory."""
    return session.scalars(select(Territory).order_by(col(Territory.id))).first()


_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _mix(colour: str, other: str, share: float) -> str:
    """``colour`` moved ``share`` of the way towards ``other`` (both ``#rrggbb``)."""
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


# Where a host serves its territory's icons (app.territory_icons), and the drawing's version:
# changing how the icons are drawn changes every territory's icon addresses.
ICON_PATH = "/territory-icons/"
ICON_STYLE = "1"

# The shades eclor.css gives its own green (a territory's other colours have theirs worked out).
SHADES = {"#0b5d3b": ("#07432a", "#e3f1ea")}


@dataclass(frozen=True)
class Branding:
    """What a page, the manifest and an e-mail say of their territory."""

    id: int
    slug: str
    name: str
    short_name: str
    publisher: str
    timezone: str
    lat: float
    lon: float
    colour_primary: str = "#0b5d3b"
    colour_accent: str = "#f4be3c"
    contact_email: str = ""
    legal_text: str = ""
    mail_sender: str = ""
    opendata_licence: str = ""
    opendata_licence_name: str = ""
    opendata_publisher: str = ""
    languages: tuple[str, ...] = ("fr", "en")
    hosts: tuple[str, ...] = field(default_factory=tuple)
    tile_url: str = ""  # its own map tiles, else the install's
    tile_attribution: str = ""
    is_default: bool = False  # the install's default territory (the first): unknown hosts get it

    @classmethod
    def of(cls, row: Territory) -> Branding:
        assert row.id is not None
        return cls(
            id=row.id,
            slug=row.slug,
            name=row.name,
            short_name=row.short_name or row.name,
            publisher=row.publisher or row.name,
            timezone=row.timezone,
            lat=row.lat,
            lon=row.lon,
            colour_primary=row.colour_primary if _HEX.fullmatch(row.colour_primary) else "#0b5d3b",
            colour_accent=row.colour_accent if _HEX.fullmatch(row.colour_accent) else "#f4be3c",
            contact_email=row.contact_email,
            legal_text=row.legal_text,
            mail_sender=row.mail_sender,
            opendata_licence=row.opendata_licence,
            opendata_licence_name=row.opendata_licence_name,
            opendata_publisher=row.opendata_publisher,  # empty: the install's (app.opendata.scope)
            languages=tuple(row.languages or ("fr",)),
            hosts=tuple(row.hosts or ()),
            tile_url=row.tile_url,
            tile_attribution=row.tile_attribution,
        )

    @property
    def zone(self) -> ZoneInfo:
        """The territory's time zone: where its days, months and opening hours are cut."""
        return i18n.zone(self.timezone)

    @property
    def locales(self) -> tuple[str, ...]:
        """The territory's languages Eclor can show, first preferred (``app.i18n.offered``)."""
        return i18n.offered(self.languages)

    def css(self) -> str:
        """The territory's colours as the custom properties of eclor.css (served from a route:
        the CSP allows no inline style)."""
        primary = self.colour_primary
        dark, soft = SHADES.get(
            primary, (_mix(primary, "#000000", 0.3), _mix(primary, "#ffffff", 0.88))
        )
        return (
            ":root{"
            f"--green:{primary};--green-dark:{dark};--green-soft:{soft};"
            f"--accent:{self.colour_accent}"
            "}\n"
        )

    @property
    def css_version(self) -> str:
        return hashlib.sha256(self.css().encode()).hexdigest()[:10]

    @property
    def icon_version(self) -> str:
        """The version of the territory's icons (app.territory_icons): what they are drawn from."""
        drawn_from = f"{ICON_STYLE}|{self.short_name}|{self.colour_primary}|{self.colour_accent}"
        return hashlib.sha256(drawn_from.encode()).hexdigest()[:10]

    def icon_url(self, name: str, *, by_slug: bool = False) -> str:
        """The address of one of the territory's icons, with its version (kept a year); on its
        own hosts, or ``by_slug`` on any host (a page that shows several territories)."""
        url = f"{ICON_PATH}{name}?v={self.icon_version}"
        return f"{url}&territory={self.slug}" if by_slug else url


# The first territory as the foundation migration made it: the answer when no row exists yet.
FALLBACK = Branding(
    id=0,
    slug="phva",
    name="Communauté de communes du Pays-Haut Val d'Alzette",
    short_name="Pays-Haut",
    publisher="Communauté de communes du Pays-Haut Val d’Alzette",
    timezone="Europe/Paris",
    lat=49.455,
    lon=5.95,
    is_default=True,
)


@dataclass(frozen=True)
class Directory:
    """The install's territories by host name, and the default one."""

    default: Branding
    by_host: dict[str, Branding]
    by_slug: dict[str, Branding]

    def for_host(self, host: str) -> Branding:
        return self.by_host.get(host, self.default)


def read(session: Session) -> Directory:
    rows = [Branding.of(t) for t in session.scalars(select(Territory).order_by(col(Territory.id)))]
    if not rows:
        return Directory(FALLBACK, {}, {FALLBACK.slug: FALLBACK})
    rows[0] = replace(rows[0], is_default=True)
    by_host: dict[str, Branding] = {}
    for branding in rows:
        for host in branding.hosts:
            by_host.setdefault(host.lower(), branding)
    return Directory(rows[0], by_host, {b.slug: b for b in rows})


class HostMap:
    """One app's map from host to territory, read again when it changed or got old."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.directory: Directory | None = None
        self.generation = -1
        self.read_at = 0.0

    def stale(self) -> bool:
        return (
            self.directory is None
            or self.generation != _generation
            or time.monotonic() - self.read_at > RELOAD_SECONDS
        )

    def reload(self) -> Directory:
        """Read the territories (in a worker thread: it queries the database)."""
        generation = _generation
        try:
            with Session(self.engine) as session:
                directory = read(session)
        except SQLAlchemyError:
            # The database is away: keep serving the last map (or the first territory's defaults),
            # and try again on the next request.
            log.warning("territories not read", exc_info=True)
            return self.directory or Directory(FALLBACK, {}, {FALLBACK.slug: FALLBACK})
        self.directory, self.generation, self.read_at = directory, generation, time.monotonic()
        return directory


def tile_origin(url: str) -> str:
    """The origin a tile URL loads from, as a CSP source (``{s}`` subdomains as ``*.``)."""
    parts = urlsplit(url.replace("{s}", "a"))
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin.replace("://a.", "://*.") if "{s}" in url else origin


def host_name(raw: str) -> str:
    """The Host header's name, lower case, without its port."""
    host = raw.lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def commune_key(country: str, code: str) -> str:
    """The commune's key (``communes.insee``, 5 characters) for its official code: the INSEE code
    in France; elsewhere the country's initial and the code's digits (Luxembourg ``LU0204`` ->
    ``L0204``), which no INSEE code (digits, or 2A/2B and digits) can be."""
    if country == "FR":
        return code
    return country[0] + code[len(country) :]


_SESSION_KEY = "eclor_territory"


def bind(session: Session, territory: Branding) -> Session:
    """Say which territory a session works for (a home panel's loader reads it: :func:`of_session`)."""
    session.info[_SESSION_KEY] = territory
    return session


def of_session(session: Session) -> Branding:
    """The territory :func:`bind` gave the session, else the fallback (outside a request)."""
    territory = session.info.get(_SESSION_KEY)
    return territory if isinstance(territory, Branding) else FALLBACK


def bound(session: Session) -> Branding | None:
    """The territory :func:`bind` gave the session, or None (outside a request: the whole install)."""
    territory = session.info.get(_SESSION_KEY)
    return territory if isinstance(territory, Branding) else None


def request_territory(request: Any) -> Branding:
    """The territory the request's host names (set by the web middleware, app.web)."""
    return scope_extras(request.scope).get("eclor_territory", FALLBACK)


def site_url(request: Any, default: str) -> str:
    """The address links in e-mails point to: the host the request came on when it is one of its
    territory's, else the install's ``base_url`` (``default``)."""
    territory = request_territory(request)
    url = request.base_url
    if url.hostname and url.hostname.lower() in territory.hosts:
        return f"{url.scheme}://{url.netloc}"
    return default


# --- time zones ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Zones:
    """Every territory's time zone and every commune's territory, read in two queries and kept."""

    by_territory: dict[int, ZoneInfo]
    territory_of_commune: dict[str, int]
    default: ZoneInfo  # the default territory's (the first)
    generation: int
    read_at: float

    def of(self, territory_id: int | None) -> ZoneInfo:
        """The zone of a territory (None or unknown: the default territory's)."""
        if territory_id is None:
            return self.default
        return self.by_territory.get(territory_id, self.default)

    def of_commune(self, insee: str | None) -> ZoneInfo:
        return self.of(self.territory_of_commune.get(insee or ""))


_zones: dict[str, Zones] = {}


def zones(session: Session) -> Zones:
    """The time-zone map of the session's database: read on first use, again when a territory
    changed in this process or after :data:`RELOAD_SECONDS` (another process may have changed one)."""
    key = str(session.get_bind().engine.url)
    kept = _zones.get(key)
    if (
        kept is not None
        and kept.generation == _generation
        and time.monotonic() - kept.read_at <= RELOAD_SECONDS
    ):
        return kept
    generation = _generation
    rows = session.execute(
        select(col(Territory.id), col(Territory.timezone)).order_by(col(Territory.id))
    ).all()
    by_territory = {int(tid): i18n.zone(name) for tid, name in rows}
    communes = dict(session.execute(select(col(Commune.insee), col(Commune.territory_id))).all())
    default = by_territory[int(rows[0][0])] if rows else i18n.zone(FALLBACK.timezone)
    kept = Zones(by_territory, communes, default, generation, time.monotonic())
    _zones[key] = kept
    return kept


def zone(session: Session, territory_id: int | None = None) -> ZoneInfo:
    """The time zone of the territory ``territory_id`` (a row's); without one, of the territory the
    session works for (:func:`bind`), else of the default territory (a figure of the whole install
    is cut at the default territory's midnight)."""
    if territory_id is None:
        territory = bound(session)
        if territory is not None:
            return territory.zone
    return zones(session).of(territory_id)


def commune_zone(session: Session, insee: str | None) -> ZoneInfo:
    """The time zone of the territory a commune belongs to (a shop's, a building's ...)."""
    return zones(session).of_commune(insee)
