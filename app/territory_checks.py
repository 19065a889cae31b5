"""What makes a set-up row of a territory's bundle unusable (``app.territory_setup``): each check
gives a French message, or None, the way the staff forms check the same rows."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from app.models.maintenance import RULE_KINDS, RULE_LAYERS, RULE_OPS, SEVERITY_NAMES


def json_object(text: Any) -> bool:
    try:
        return isinstance(text, str) and isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


# A dataset's slug (app.opendata.staff.SLUG) and the longest theme and frequency codes.
DATASET_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{1,60}")
DATASET_CODES = {"theme": 8, "frequency": 10}


def choice_problem(row: dict[str, Any], communes: set[str]) -> str | None:
    """What makes a publication choice of a bundle unusable, or None."""
    slug = row["slug"]
    if not isinstance(slug, str) or not DATASET_SLUG.fullmatch(slug):
        return f"identifiant de jeu de données « {slug} » invalide"
    if not isinstance(row["published"], bool):
        return f"« {slug} » : « published » doit être vrai ou faux"
    return None


def dataset_problem(row: dict[str, Any], communes: set[str]) -> str | None:
    """What makes a dataset description of a bundle unusable (as staff's form checks it), or None."""
    slug = row["slug"]
    if not isinstance(slug, str) or not DATASET_SLUG.fullmatch(slug):
        return f"identifiant de jeu de données « {slug} » invalide"
    texts = ("title", "description", "keywords", "table_schema", *DATASET_CODES)
    if any(not isinstance(row[key], str) for key in texts):
        return f"« {slug} » : chaque colonne doit être un texte"
    if not 3 <= len(row["title"].strip()) <= 200:
        return f"« {slug} » : le titre doit faire de 3 à 200 caractères"
    if any(len(row[key]) > longest for key, longest in DATASET_CODES.items()):
        return f"« {slug} » : thème ou fréquence inconnus"
    if len(row["description"]) > 4000 or len(row["keywords"]) > 300:
        return f"« {slug} » : description ou mots-clés trop longs"
    schema = json.loads(row["table_schema"]) if json_object(row["table_schema"]) else None
    if not (isinstance(schema, dict) and isinstance(schema.get("fields"), list)):
        return f"« {slug} » n’a pas de Table Schema lisible"
    return None


def solar_problem(row: dict[str, Any], communes: set[str]) -> str | None:
    """What makes a solar target of a bundle unusable (as staff's form checks it), or None."""
    year = row["year"]
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        return f"année « {year} » invalide (de 2000 à 2100)"

    def number(value: Any) -> bool:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )

    if not number(row["production_mwh"]) or not 0 < row["production_mwh"] <= 10_000_000:
        return f"{year} : la production visée est un nombre de MWh positif"
    capacity = row["capacity_kw"]
    if capacity is not None and (not number(capacity) or not 0 < capacity <= 100_000_000):
        return f"{year} : la puissance visée est un nombre de kWc positif"
    for column in ("purchase_eur_kwh", "sale_eur_kwh"):
        if not number(row[column]) or not 0 <= row[column] <= 10:
            return f"{year} : un prix par kWh est compris entre 0 et 10 €"
    return None


def rule_problem(row: dict[str, Any], communes: set[str]) -> str | None:
    """What makes a maintenance rule of a bundle unusable, or None."""
    texts = {"name": 120, "subject": 64, "measure": 40, "category": 32, "alert_title": 120}
    for column, limit in texts.items():
        if not isinstance(row[column], str) or len(row[column]) > limit:
            return f"« {column} » doit être un texte de {limit} caractères au plus"
    if not row["name"].strip():
        return "une règle n’a pas de nom"
    choices = {
        "kind": RULE_KINDS,
        "layer": RULE_LAYERS,
        "op": RULE_OPS,
        "severity": SEVERITY_NAMES,
    }
    for column, allowed in choices.items():
        if row[column] not in allowed:
            return f"« {row['name']} » : {column} « {row[column]} » inconnu"
    for column in ("count", "radius_m", "days", "duration_s", "quiet_s"):
        value = row[column]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**7:
            return f"« {row['name']} » : {column} doit être un nombre entier positif"
    if isinstance(row["threshold"], bool) or not isinstance(row["threshold"], int | float):
        return f"« {row['name']} » : threshold doit être un nombre"
    if not isinstance(row["prepare_alert"], bool) or not isinstance(row["active"], bool):
        return f"« {row['name']} » : prepare_alert et active valent true ou false"
    if not isinstance(row.get("team", ""), str):
        return f"« {row['name']} » : « team » doit être le code d’une équipe"
    if row["commune_insee"] is not None and row["commune_insee"] not in communes:
        return f"« {row['name']} » : la commune « {row['commune_insee']} » n’est pas du territoire"
    return None


CATEGORY_CODE = re.compile(r"[a-z][a-z0-9_]{1,31}")


def category_problem(row: dict[str, Any], communes: set[str]) -> str | None:
    """What makes a report category of a bundle unusable (as the settings page checks it), or None."""
    code = row["code"]
    if not isinstance(code, str) or not CATEGORY_CODE.fullmatch(code):
        return f"code de catégorie « {str(code)[:40]} » invalide"
    if not isinstance(row["label"], str) or not 2 <= len(row["label"].strip()) <= 80:
        return f"« {code} » : le nom doit faire de 2 à 80 caractères"
    if not isinstance(row["hint"], str) or len(row["hint"]) > 200:
        return f"« {code} » : l’exemple doit être un texte de 200 caractères au plus"
    position = row["position"]
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= 10**6:
        return f"« {code} » : position doit être un nombre entier positif"
    if not isinstance(row["active"], bool):
        return f"« {code} » : active vaut true ou false"
    return None


TEAM_CODE = re.compile(r"[a-z][a-z0-9_]{1,19}")  # app.maintenance.teams.CODE


def team_problem(row: dict[str, Any], communes: set[str]) -> str | None:
    """What makes a maintenance team of a bundle unusable (as the teams' form checks it), or None."""
    code, name = row["code"], row["name"]
    if not isinstance(code, str) or not TEAM_CODE.fullmatch(code):
        return f"code d’équipe « {code} » invalide (minuscules, chiffres et _, 2 à 20)"
    if not isinstance(name, str) or not 2 <= len(name.strip()) <= 60:
        return f"« {code} » : le nom doit compter de 2 à 60 caractères"
    if not isinstance(row["active"], bool):
        return f"« {code} » : « active » doit être vrai ou faux"
    return None
