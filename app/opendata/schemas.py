"""Table Schema (frictionless) descriptions of datasets, and validation of uploaded rows against one.

``table_schema`` describes a contributed dataset; ``check_row`` checks one
uploaded row against a schema (types, required, enum, bounds) and refuses
cells that look like personal data (an e-mail address, a phone number).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from app.i18n import gettext as _
from app.opendata.contrib import Column, OpenDataset

TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "yearmonth", "time")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\d.])(?:\+|00)?\d(?:[ .-]?\d){8,13}(?![\d.])")
TRUE = {"true", "vrai", "1", "oui", "yes"}
FALSE = {"false", "faux", "0", "non", "no"}


def field_of(column: Column) -> dict[str, Any]:
    field: dict[str, Any] = {"name": column.name, "type": column.type, "title": column.title}
    if column.description:
        field["description"] = column.description
    if column.unit:
        field["description"] = (field.get("description", "") + f" (unité : {column.unit})").strip()
    if column.type == "datetime":
        field["format"] = "%Y-%m-%dT%H:%M:%SZ"
    constraints: dict[str, Any] = {}
    if column.required:
        constraints["required"] = True
    if column.enum:
        constraints["enum"] = list(column.enum)
    if column.minimum is not None:
        constraints["minimum"] = column.minimum
    if column.maximum is not None:
        constraints["maximum"] = column.maximum
    if constraints:
        field["constraints"] = constraints
    return field


def table_schema(dataset: OpenDataset) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "$schema": "https://frictionlessdata.io/schemas/table-schema.json",
        "name": dataset.slug,
        "title": dataset.title,
        "description": dataset.description,
        "fields": [field_of(c) for c in dataset.columns],
        "missingValues": [""],
    }
    return schema


def columns_of(schema: dict[str, Any]) -> tuple[Column, ...]:
    """The columns an uploaded Table Schema declares; ValueError (French) when it is not usable."""
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list) or not fields or len(fields) > 60:
        raise ValueError(_("Le schéma doit décrire entre 1 et 60 colonnes (« fields »)."))
    out: list[Column] = []
    for field in fields:
        if (
            not isinstance(field, dict)
            or not isinstance(field.get("name"), str)
            or not field["name"].strip()
        ):
            raise ValueError(_("Chaque colonne du schéma doit avoir un nom (« name »)."))
        kind = field.get("type", "string")
        if kind not in TYPES:
            raise ValueError(_("Type de colonne inconnu : %(type)s.") % {"type": str(kind)[:40]})
        given = field.get("constraints")
        constraints = given if isinstance(given, dict) else {}
        listed = constraints.get("enum")
        enum = listed if isinstance(listed, list) else []
        out.append(
            Column(
                field["name"].strip()[:80],
                kind,
                str(field.get("title") or field["name"])[:200],
                str(field.get("description") or "")[:500],
                bool(constraints.get("required")),
                tuple(str(v) for v in enum),
                _num(constraints.get("minimum")),
                _num(constraints.get("maximum")),
            )
        )
    if len({c.name for c in out}) != len(out):
        raise ValueError(_("Deux colonnes du schéma portent le même nom."))
    return tuple(out)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _typed(column: Column, text: str) -> Any:
    kind = column.type
    if kind == "string":
        return text
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise ValueError(text)
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "datetime":
        return dt.datetime.fromisoformat(text)
    if kind == "yearmonth":
        return dt.date.fromisoformat(text + "-01") and text
    if kind == "time":
        return dt.time.fromisoformat(text)
    raise ValueError(kind)


def looks_personal(text: str) -> bool:
    return bool(EMAIL.search(text) or PHONE.search(text))


def check_row(columns: tuple[Column, ...], values: dict[str, Any], line: int) -> dict[str, Any]:
    """The row with typed values; ValueError with a French message naming the line and column."""
    out: dict[str, Any] = {}
    for column in columns:
        raw = values.get(column.name)
        text = "" if raw is None else str(raw).strip()
        where = {"line": line, "column": column.name}
        if text == "":
            if column.required:
                raise ValueError(
                    _("Ligne %(line)s : la colonne « %(column)s » est obligatoire.") % where
                )
            out[column.name] = None
            continue
        if looks_personal(text):
            raise ValueError(
                _(
                    "Ligne %(line)s, colonne « %(column)s » : on dirait une adresse e-mail ou un "
                    "numéro de téléphone ; les données ouvertes n'en publient pas."
                )
                % where
            )
        try:
            value = _typed(column, text)
        except ValueError:
            raise ValueError(
                _(
                    "Ligne %(line)s : « %(value)s » n'est pas du type %(type)s attendu dans la "
                    "colonne « %(column)s »."
                )
                % {**where, "value": text[:40], "type": column.type}
            ) from None
        if column.enum and text not in column.enum:
            raise ValueError(
                _(
                    "Ligne %(line)s : « %(value)s » n'est pas une valeur permise de la colonne "
                    "« %(column)s »."
                )
                % {**where, "value": text[:40]}
            )
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (
                (column.minimum is not None and value < column.minimum)
                or (column.maximum is not None and value > column.maximum)
            )
        ):
            raise ValueError(
                _("Ligne %(line)s : %(value)s est hors des bornes de la colonne « %(column)s ».")
                % {**where, "value": text[:40]}
            )
        out[column.name] = value if column.type in ("integer", "number", "boolean") else text
    return out
