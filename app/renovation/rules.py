"""The rules as rows: loading a versioned file of national rules (``eclor renovation rules load``,
the demo), reading the rules of the current year, and the local aids staff write in a form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from app.i18n import gettext as _
from app.models.renovation import AidRule, IncomeCeiling
from app.renovation import scope
from app.renovation.engine import BRACKETS, OCCUPANTS, WORKS, N_

FORMAT = "eclor-renovation-rules/1"
NATIONAL_FILE = Path(__file__).with_name("national-2026.json")
PROGRAMS = ("mpr", "cee", "ecoptz", "mpa", "local")
PROGRAM_LABELS = {
    "mpr": N_("MaPrimeRénov’"),
    "cee": N_("Certificats d’économies d’énergie"),
    "ecoptz": N_("Éco-prêt à taux zéro"),
    "mpa": N_("MaPrimeAdapt’"),
    "local": N_("Aide locale"),
}


class RuleError(ValueError):
    """A rule or a rules file refused, with a French message."""


def _ints(item: dict[str, Any], name: str, *, optional: bool = True) -> int | None:
    value = item.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 10_000_000:
        raise RuleError(
            _("Règle %(k)s : %(f)s doit être un nombre entier positif.")
            % {"k": item.get("key", "?"), "f": name}
        )
    return value


def _names(item: dict[str, Any], name: str, allowed: set[str] | None) -> str:
    value = item.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError(
            _("Règle %(k)s : %(f)s doit être une liste.") % {"k": item.get("key", "?"), "f": name}
        )
    if allowed is not None and not set(value) <= allowed:
        raise RuleError(
            _("Règle %(k)s : valeur inconnue dans %(f)s.") % {"k": item.get("key", "?"), "f": name}
        )
    return ",".join(value)


def _rule(item: Any, year: int) -> AidRule:
    if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not item["key"]:
        raise RuleError(_("Chaque règle doit avoir une clé."))
    key = item["key"][:80]
    if item.get("program") not in PROGRAMS or item.get("kind", "grant") not in ("grant", "loan"):
        raise RuleError(_("Règle %(k)s : programme ou type d’aide inconnu.") % {"k": key})
    if item.get("calc", "fixed") not in ("fixed", "per_unit", "rate"):
        raise RuleError(_("Règle %(k)s : mode de calcul inconnu.") % {"k": key})
    if not str(item.get("source_url", "")).startswith("https://"):
        raise RuleError(_("Règle %(k)s : la source doit être une adresse https.") % {"k": key})
    rate = _ints(item, "rate") or 0
    if rate > 100:
        raise RuleError(_("Règle %(k)s : le taux passe 100 %%.") % {"k": key})
    return AidRule(
        key=key,
        year=year,
        scope="national",
        program=item["program"],
        title=str(item.get("title", ""))[:160] or key,
        kind=item.get("kind", "grant"),
        calc=item.get("calc", "fixed"),
        amount=_ints(item, "amount") or 0,
        rate=rate,
        expense_ceiling=_ints(item, "expense_ceiling"),
        aid_ceiling=_ints(item, "aid_ceiling"),
        unit_ceiling=_ints(item, "unit_ceiling"),
        brackets=_names(item, "brackets", set(BRACKETS)),
        communes=_names(item, "communes", None),
        min_home_age=_ints(item, "min_home_age"),
        built_before=_ints(item, "built_before"),
        occupants=_names(item, "occupants", set(OCCUPANTS)),
        works=_names(item, "works", set(WORKS)),
        heating=_names(item, "heating", None),
        works_min=_ints(item, "works_min"),
        works_max=_ints(item, "works_max"),
        source_url=str(item["source_url"])[:300],
        source_title=str(item.get("source_title", ""))[:200],
        note=str(item.get("note", ""))[:400],
        verified=bool(item.get("verified", True)),
    )


def _ceilings(block: Any, year: int) -> list[IncomeCeiling]:
    if not isinstance(block, dict) or not isinstance(block.get("rows"), list):
        raise RuleError(_("Le fichier doit donner les plafonds de ressources de l’année."))
    out = []
    for row in block["rows"]:
        if (
            not isinstance(row, list)
            or len(row) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in row)
            or not row[1] < row[2] < row[3]
        ):
            raise RuleError(_("Plafonds de ressources invalides : %(r)s") % {"r": row})
        out.append(
            IncomeCeiling(
                year=year,
                region=str(block.get("region", "hors_idf"))[:8],
                persons=row[0],
                very_modest=row[1],
                modest=row[2],
                intermediate=row[3],
                source_url=str(block.get("source_url", ""))[:300],
                note=str(block.get("note", ""))[:400],
                verified=bool(block.get("verified", True)),
            )
        )
    if sorted(c.persons for c in out) != [0, 1, 2, 3, 4, 5]:
        raise RuleError(_("Il faut les plafonds de 1 à 5 personnes et par personne en plus."))
    return out


def parse(data: Any) -> tuple[int, list[AidRule], list[IncomeCeiling]]:
    """Check a rules file's content; raise :class:`RuleError` with the first problem."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RuleError(
            _("Ce n’est pas un fichier de règles Eclor (format %(f)s).") % {"f": FORMAT}
        )
    year = data.get("year")
    if not isinstance(year, int) or not 2020 <= year <= 2100:
        raise RuleError(_("L’année des règles est invalide."))
    rules = [_rule(item, year) for item in data.get("rules") or []]
    if not rules:
        raise RuleError(_("Le fichier ne contient aucune règle."))
    keys = [r.key for r in rules]
    if len(set(keys)) != len(keys):
        raise RuleError(_("Deux règles ont la même clé."))
    return year, rules, _ceilings(data.get("ceilings"), year)


def load(session: Session, data: Any) -> tuple[int, int]:
    """Replace the national rules and the ceilings of the file's year (all or nothing)."""
    year, rules, ceilings = parse(data)
    session.execute(
        delete(AidRule).where(col(AidRule.year) == year, col(AidRule.scope) == "national")
    )
    session.execute(delete(IncomeCeiling).where(col(IncomeCeiling.year) == year))
    session.add_all(rules)
    session.add_all(ceilings)
    session.flush()
    return year, len(rules)


def load_file(session: Session, path: Path) -> tuple[int, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RuleError(_("Fichier illisible : %(e)s") % {"e": exc}) from exc
    return load(session, data)


def current_year(session: Session) -> int | None:
    """The year of the newest national rules loaded."""
    return session.scalar(
        select(func.max(col(AidRule.year))).where(col(AidRule.scope) == "national")
    )


def rules_of(session: Session, year: int) -> list[AidRule]:
    """The national rules of the year and every active local aid of the session's territory."""
    return list(
        session.scalars(
            select(AidRule)
            .where(
                *scope.rules_here(session),
                col(AidRule.active).is_(True),
                (col(AidRule.year) == year) | (col(AidRule.scope) == "local"),
            )
            .order_by(col(AidRule.id))
        ).all()
    )


def ceilings_of(session: Session, year: int) -> list[IncomeCeiling]:
    return list(session.scalars(select(IncomeCeiling).where(col(IncomeCeiling.year) == year)).all())


def local_aids(session: Session) -> list[AidRule]:
    """The local aids of the session's territory, newest first."""
    return list(
        session.scalars(
            select(AidRule)
            .where(col(AidRule.scope) == "local", *scope.rules_here(session))
            .order_by(col(AidRule.id).desc())
        ).all()
    )
