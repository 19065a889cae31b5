"""Lighting inventory import: streetlights (and their groups and cabinets) from CSV or GeoJSON.

CSV: a header line, comma or semicolon separated, UTF-8 (a BOM is fine), with
the columns ``id, lat, lon`` and optionally ``device_id, group, group_name,
cabinet, commune, street, model, technology, nominal_w, circuit,
reporting_period_s``. GeoJSON: a ``FeatureCollection`` of ``Point`` features
whose properties use the same names (``id`` may be the feature's ``id``).

An import is all or nothing: every row is checked first, and one bad row
stops it with its line (or feature) number and a French message. Known ids are
updated, new ones created; groups and cabinets named by the rows are created
when missing.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app import events
from app.i18n import gettext as _
from app.lighting import scope as territory
from app.models.lighting import LightCabinet, LightGroup, Streetlight

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
TECHNOLOGIES = ("LED", "HPS", "LPS", "MH", "CFL", "MV", "OTHER")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class InventoryError(ValueError):
    """A file that cannot be imported; the message is French and names the line."""


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    groups_created: int
    cabinets_created: int


def _text(row: dict[str, Any], name: str, limit: int) -> str:
    value = row.get(name)
    if value is None:
        return ""
    value = str(value).strip()
    if len(value) > limit:
        raise ValueError(
            _("« {name} » fait plus de {limit} caractères.").format(name=name, limit=limit)
        )
    return value


def _float(
    row: dict[str, Any], name: str, low: float, high: float, default: float | None = None
) -> float:
    raw = row.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if default is None:
            raise ValueError(_("« {name} » est obligatoire.").format(name=name))
        return default
    try:
        value = (
            float(str(raw).strip().replace(",", "."))
            if not isinstance(raw, int | float)
            else float(raw)
        )
    except ValueError:
        raise ValueError(
            _("« {name} » doit être un nombre (reçu : {value}).").format(name=name, value=raw)
        ) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(
            _("« {name} » doit être entre {low} et {high} (reçu : {value}).").format(
                name=name, low=low, high=high, value=raw
            )
        )
    return value


def _identifier(value: str, name: str) -> str:
    if not _ID.match(value):
        raise ValueError(
            _(
                "« {name} » invalide : « {value} » (lettres, chiffres, tiret, point, souligné ; "
                "64 caractères au plus)."
            ).format(name=name, value=value)
        )
    return value


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """One light's fields, checked; raises ValueError with a French message."""
    light_id = _identifier(_text(row, "id", 64), "id")
    technology = (_text(row, "technology", 20) or "LED").upper()
    if technology not in TECHNOLOGIES:
        raise ValueError(
            _("Technologie inconnue « {value} » (attendu : {choices}).").format(
                value=technology, choices=", ".join(TECHNOLOGIES)
            )
        )
    group = _text(row, "group", 64)
    cabinet = _text(row, "cabinet", 64)
    commune = _text(row, "commune", 5)
    if commune and not re.fullmatch(r"\d[\dAB]\d{3}|[A-Z]\d{4}", commune):
        raise ValueError(_("Code INSEE de commune invalide : « {value} ».").format(value=commune))
    return {
        "id": light_id,
        "device_id": _identifier(_text(row, "device_id", 64) or light_id, "device_id"),
        "lat": _float(row, "lat", -90, 90),
        "lon": _float(row, "lon", -180, 180),
        "group_id": _identifier(group, "group") if group else None,
        "group_name": _text(row, "group_name", 200),
        "cabinet_id": _identifier(cabinet, "cabinet") if cabinet else None,
        "commune_insee": commune or None,
        "street": _text(row, "street", 200),
        "model": _text(row, "model", 120),
        "technology": technology,
        "nominal_w": _float(row, "nominal_w", 1, 2000, 70.0),
        "circuit": _text(row, "circuit", 64),
        "reporting_period_s": int(_float(row, "reporting_period_s", 1, 86400, 60)),
    }


def read_rows(data: bytes, filename: str = "") -> list[tuple[str, dict[str, Any]]]:
    """(where, raw row) pairs from CSV or GeoJSON bytes; ``where`` is "ligne 3" or "objet 2"."""
    if len(data) > MAX_BYTES:
        raise InventoryError(_("Fichier trop gros (10 Mo au plus)."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InventoryError(_("Le fichier doit être encodé en UTF-8.")) from None
    stripped = text.lstrip()
    if not stripped:
        raise InventoryError(_("Le fichier est vide."))
    if stripped.startswith("{") or filename.lower().endswith((".geojson", ".json")):
        return _geojson_rows(stripped)
    return _csv_rows(text)


def _geojson_rows(text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InventoryError(_("GeoJSON illisible : {error}.").format(error=exc)) from None
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        raise InventoryError(_("Un GeoJSON d'inventaire est une FeatureCollection de points."))
    rows = []
    for index, feature in enumerate(doc["features"], start=1):
        where = _("objet {n}").format(n=index)
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if (
            not isinstance(geometry, dict)
            or geometry.get("type") != "Point"
            or not isinstance(geometry.get("coordinates"), list)
            or len(geometry["coordinates"]) < 2
        ):
            raise InventoryError(
                _("{where} : une géométrie Point est attendue.").format(where=where)
            )
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise InventoryError(
                _("{where} : « properties » doit être un objet.").format(where=where)
            )
        lon, lat = geometry["coordinates"][:2]
        row = {**props, "lat": lat, "lon": lon}
        row.setdefault("id", feature.get("id"))
        rows.append((where, row))
    return rows


def _csv_rows(text: str) -> list[tuple[str, dict[str, Any]]]:
    first = text.splitlines()[0] if text.splitlines() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    missing = [name for name in ("id", "lat", "lon") if name not in fields]
    if missing:
        raise InventoryError(
            _("Colonnes obligatoires absentes : {names}.").format(names=", ".join(missing))
        )
    rows = []
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): v for k, v in raw.items()}
        rows.append((_("ligne {n}").format(n=number), row))
    return rows


def _territories(
    session: Session, rows: list[dict[str, Any]], territory_id: int | None
) -> dict[str, int]:
    """The territory of each row's commune; with ``territory_id`` (an import by that territory's
    staff) a commune of another territory, or a light, group or cabinet id another territory
    already has, is refused."""
    found = territory.commune_territories(
        session, {r["commune_insee"] for r in rows if r["commune_insee"]}
    )
    if territory_id is None:
        return found
    for number, row in enumerate(rows, start=1):
        commune = row["commune_insee"]
        if commune and found.get(commune, territory_id) != territory_id:
            raise InventoryError(
                _(
                    "Point lumineux {n} : la commune « {commune} » n'est pas de ce territoire."
                ).format(n=number, commune=commune)
            )
        owned: tuple[tuple[Any, str | None], ...] = (
            (Streetlight, row["id"]),
            (LightGroup, row["group_id"]),
            (LightCabinet, row["cabinet_id"]),
        )
        for model, key in owned:
            existing = session.get(model, key) if key else None
            if existing is not None and existing.territory_id != territory_id:
                raise InventoryError(
                    _("Point lumineux {n} : l'identifiant « {id} » est déjà pris.").format(
                        n=number, id=key
                    )
                )
    return found


def import_inventory(
    session: Session, data: bytes, filename: str = "", territory_id: int | None = None
) -> ImportResult:
    """Check every row, then create or update the lights, groups and cabinets (in the caller's
    transaction). Each new row belongs to its commune's territory, else to ``territory_id`` (the
    importing staff's; None: the default territory), which the import must stay inside."""
    raw_rows = read_rows(data, filename)
    if not raw_rows:
        raise InventoryError(_("Aucun point lumineux dans le fichier."))
    if len(raw_rows) > MAX_ROWS:
        raise InventoryError(
            _("Trop de lignes : {limit} au plus par import.").format(limit=MAX_ROWS)
        )
    rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    devices: dict[str, str] = {}
    for where, raw in raw_rows:
        try:
            row = clean_row(raw)
        except ValueError as exc:
            raise InventoryError(f"{where} : {exc}") from None
        if row["id"] in seen:
            raise InventoryError(
                _("{where} : l'identifiant « {id} » figure déjà en {other}.").format(
                    where=where, id=row["id"], other=seen[row["id"]]
                )
            )
        if row["device_id"] in devices:
            raise InventoryError(
                _("{where} : l'équipement « {id} » figure déjà en {other}.").format(
                    where=where, id=row["device_id"], other=devices[row["device_id"]]
                )
            )
        seen[row["id"]] = where
        devices[row["device_id"]] = where
        rows.append(row)
    communes = _territories(session, rows, territory_id)

    def owner(commune: str | None) -> int | None:
        return communes.get(commune or "", territory_id)

    groups_created = cabinets_created = created = updated = 0
    for cabinet_id in sorted({r["cabinet_id"] for r in rows if r["cabinet_id"]}):
        if session.get(LightCabinet, cabinet_id) is None:
            first = next(r for r in rows if r["cabinet_id"] == cabinet_id)
            session.add(
                LightCabinet(
                    id=cabinet_id,
                    name=_("Armoire {id}").format(id=cabinet_id),
                    commune_insee=first["commune_insee"],
                    territory_id=owner(first["commune_insee"]),
                    lat=first["lat"],
                    lon=first["lon"],
                )
            )
            cabinets_created += 1
    session.flush()
    for group_id in sorted({r["group_id"] for r in rows if r["group_id"]}):
        if session.get(LightGroup, group_id) is None:
            first = next(r for r in rows if r["group_id"] == group_id)
            session.add(
                LightGroup(
                    id=group_id,
                    name=first["group_name"] or group_id,
                    commune_insee=first["commune_insee"],
                    territory_id=owner(first["commune_insee"]),
                    cabinet_id=first["cabinet_id"],
                )
            )
            groups_created += 1
    session.flush()
    for row in rows:
        row.pop("group_name")
        light = session.get(Streetlight, row["id"])
        if light is None:
            session.add(Streetlight(**row, territory_id=owner(row["commune_insee"])))
            created += 1
        else:
            for name, value in row.items():
                setattr(light, name, value)
            updated += 1
    session.flush()
    if rows:  # the live map and the layer's kept bytes of each territory touched follow it
        touched = sorted({owner(row["commune_insee"]) or 0 for row in rows})
        events.publish_many(
            session,
            [
                ("lights", "*", "inventory", {"created": created, "updated": updated}, t or None)
                for t in touched
            ],
        )
    return ImportResult(created, updated, groups_created, cabinets_created)
