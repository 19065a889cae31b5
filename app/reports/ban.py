"""The national address base (BAN) as a local table: loading an extract, and finding an address.

Open311 partners place a report by ``address_id`` (a BAN id) or by an
``address_string`` such as ``12 rue Carnot, 54190 Villerupt``. Both are read
from the ``ban_addresses`` table the territory loads with ``eclor addresses
load FILE.csv`` (the BAN's own CSV export, ``;``-separated): nothing is asked
of the network at request time. An address that names only a commune is
placed by commune, and said to be so.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.models.reports import BanAddress
from app.models.territory import Commune

DEMO_EXTRACT = Path(__file__).parent / "data" / "ban-demo-phva.csv"
REQUIRED_COLUMNS = ("id", "numero", "rep", "nom_voie", "code_postal", "code_insee", "lon", "lat")
_ABBREVIATIONS = {
    "r": "rue",
    "av": "avenue",
    "ave": "avenue",
    "bd": "boulevard",
    "bld": "boulevard",
    "pl": "place",
    "ch": "chemin",
    "imp": "impasse",
    "all": "allee",
    "rte": "route",
    "st": "saint",
    "ste": "sainte",
    "gal": "general",
    "mal": "marechal",
}
_NUMBER_RE = re.compile(r"^(\d{1,4})\s*(bis|ter|quater|[a-h])?\b\s*,?\s*")

Precision = Literal["housenumber", "street", "commune"]


class BanFileError(ValueError):
    pass


def key(text: str) -> str:
    """Lower case, no accents, no punctuation, usual abbreviations spelt out, single spaces."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9]+", " ", plain).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


@dataclass(frozen=True)
class Place:
    """Where an address puts a report: a point, or only a commune (``lat``/``lon`` None)."""

    precision: Precision
    commune_insee: str
    label: str
    lat: float | None = None
    lon: float | None = None
    address_id: str | None = None


def _label(row: BanAddress) -> str:
    number = f"{row.number}{' ' + row.rep if row.rep else ''} " if row.number else ""
    return f"{number}{row.street}, {row.postcode} {row.commune_name}"


def by_id(session: Session, address_id: str) -> Place | None:
    row = session.get(BanAddress, address_id.strip())
    if row is None:
        return None
    return Place("housenumber", row.commune_insee, _label(row), row.lat, row.lon, row.id)


def _contains(text: str, words: str) -> bool:
    return bool(words) and f" {words} " in f" {text} "


def find(session: Session, address: str) -> Place | None:
    """The place an address string names: its number in its street, else the street, else the commune.

    The commune is recognised by name or postal code; the street by the
    longest BAN street name of that commune found in the text. None when not
    even a commune of the territory is named.
    """
    text = key(address)
    communes = list(session.scalars(select(Commune)))
    named = [c for c in communes if _contains(text, key(c.name)) or _contains(text, c.postcode)]
    # a postal code shared by several communes (57390) is settled by the name when there is one
    by_name = [c for c in named if _contains(text, key(c.name))]
    candidates = by_name or named
    insees = [c.insee for c in candidates] or [c.insee for c in communes]
    rows = session.scalars(
        select(BanAddress).where(col(BanAddress.commune_insee).in_(insees))
    ).all()
    streets: dict[tuple[str, str], list[BanAddress]] = {}
    for row in rows:
        streets.setdefault((row.commune_insee, row.street_key), []).append(row)
    matches = [k for k in streets if _contains(text, k[1])]
    if matches:
        best = max(len(k[1]) for k in matches)
        chosen = [k for k in matches if len(k[1]) == best]
        if len(chosen) == 1 or candidates:
            commune_insee, street_key = chosen[0]
            return _in_street(streets[(commune_insee, street_key)], text.split(street_key)[0])
    if len(candidates) == 1:
        commune = candidates[0]
        return Place("commune", commune.insee, f"{commune.postcode} {commune.name}")
    return None


def _in_street(rows: list[BanAddress], before_street: str) -> Place:
    m = _NUMBER_RE.match(before_street.strip())
    if m is not None:
        number, rep = int(m.group(1)), (m.group(2) or "")
        for row in rows:
            if row.number == number and key(row.rep) == rep:
                return Place(
                    "housenumber", row.commune_insee, _label(row), row.lat, row.lon, row.id
                )
    # the street without that number: its middle address stands for it
    ordered = sorted(rows, key=lambda r: (r.number or 0, r.rep))
    middle = ordered[len(ordered) // 2]
    label = f"{middle.street}, {middle.postcode} {middle.commune_name}"
    return Place("street", middle.commune_insee, label, middle.lat, middle.lon)


def _rows(lines: Iterable[str], territory: set[str]) -> Iterable[BanAddress]:
    reader = csv.DictReader(lines, delimiter=";")
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BanFileError("not a BAN CSV extract: missing column(s) " + ", ".join(missing))
    for line, record in enumerate(reader, start=2):
        insee = (record.get("code_insee") or "").strip()
        if insee not in territory:
            continue
        try:
            number = int(record["numero"]) if (record.get("numero") or "").strip() else None
            lat, lon = float(record["lat"]), float(record["lon"])
        except ValueError:
            raise BanFileError(f"line {line}: numero, lat or lon unreadable") from None
        street = (record.get("nom_voie") or "").strip()
        ident = (record.get("id") or "").strip()
        if not ident or not street or len(ident) > 40:
            raise BanFileError(f"line {line}: id or nom_voie missing")
        yield BanAddress(
            id=ident,
            commune_insee=insee,
            commune_name=(record.get("nom_commune") or "").strip()[:120],
            postcode=(record.get("code_postal") or "").strip()[:5],
            number=number,
            rep=(record.get("rep") or "").strip()[:10],
            street=street[:200],
            street_key=key(street)[:200],
            lat=lat,
            lon=lon,
            source=(record.get("source_position") or "").strip()[:40],
        )


def load(session: Session, data: bytes) -> tuple[int, list[str]]:
    """Load a BAN CSV extract: the communes of the territory it holds replace theirs.

    Returns the number of addresses loaded and the communes they cover;
    addresses of communes outside the territory are left out. Raises
    :class:`BanFileError` for a file that is not a BAN extract.
    """
    text = data.decode("utf-8-sig")
    territory = set(session.scalars(select(col(Commune.insee))))
    rows = list(_rows(io.StringIO(text), territory))
    communes = sorted({row.commune_insee for row in rows})
    if communes:
        session.execute(delete(BanAddress).where(col(BanAddress.commune_insee).in_(communes)))
    seen: set[str] = set()
    for row in rows:
        if row.id not in seen:
            seen.add(row.id)
            session.add(row)
    session.flush()
    return len(seen), communes


def load_demo(session: Session) -> str | None:
    """The demo territory's address extract (generated, labelled demo), once."""
    if session.scalars(select(col(BanAddress.id)).limit(1)).first() is not None:
        return None
    count, communes = load(session, DEMO_EXTRACT.read_bytes())
    return f"{count} demo addresses (not real BAN data) in {len(communes)} communes"
