"""The territory's own aids, written by staff in a form: an amount or a rate of the works (with
ceilings) and conditions on commune, income bracket, home age, occupant and works; an aid belongs
to the territory whose staff wrote it."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.i18n import gettext as _
from app.models.renovation import AidRule
from app.numbers import parse_int
from app.renovation import scope
from app.renovation.engine import BRACKETS, OCCUPANTS, WORKS


def _many(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return [value] if isinstance(value, str) and value else []


def _text(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name, "")
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def _number(
    data: dict[str, Any], name: str, errors: dict[str, str], *, low: int, high: int
) -> int | None:
    raw = _text(data, name, 20).replace(" ", "").replace("\u202f", "")
    if not raw:
        return None
    value = parse_int(raw, max_digits=9)
    if value is None or not low <= value <= high:
        errors[name] = _("Un nombre entier entre %(a)s et %(b)s est attendu.") % {
            "a": low,
            "b": high,
        }
        return None
    return value


def from_form(
    data: dict[str, Any], communes: dict[str, str], year: int
) -> tuple[AidRule | None, dict[str, str]]:
    """The local aid the form describes, or the French message of each wrong field."""
    errors: dict[str, str] = {}
    title = _text(data, "title", 160)
    if len(title) < 5:
        errors["title"] = _("Donnez le nom de l’aide (5 caractères au moins).")
    calc = _text(data, "calc", 8)
    if calc not in ("fixed", "rate"):
        errors["calc"] = _("Choisissez un montant fixe ou un taux des travaux.")
    amount = _number(data, "amount", errors, low=1, high=1_000_000)
    rate = _number(data, "rate", errors, low=1, high=100)
    if calc == "fixed" and amount is None and "amount" not in errors:
        errors["amount"] = _("Donnez le montant de l’aide en euros.")
    if calc == "rate" and rate is None and "rate" not in errors:
        errors["rate"] = _("Donnez le taux de l’aide, en pour cent des travaux.")
    expense_ceiling = _number(data, "expense_ceiling", errors, low=1, high=10_000_000)
    aid_ceiling = _number(data, "aid_ceiling", errors, low=1, high=10_000_000)
    min_home_age = _number(data, "min_home_age", errors, low=0, high=500)
    built_before = _number(data, "built_before", errors, low=1500, high=2100)
    brackets = _many(data, "brackets")
    if not set(brackets) <= set(BRACKETS):
        errors["brackets"] = _("Choix invalide.")
    chosen = _many(data, "communes")
    if not set(chosen) <= set(communes):
        errors["communes"] = _("Choisissez des communes du territoire.")
    occupants = _many(data, "occupants")
    if not set(occupants) <= set(OCCUPANTS):
        errors["occupants"] = _("Choix invalide.")
    works = _many(data, "works")
    if not set(works) <= set(WORKS):
        errors["works"] = _("Choix invalide.")
    source_url = _text(data, "source_url", 300)
    if not source_url.startswith(("https://", "http://")) or " " in source_url:
        errors["source_url"] = _(
            "Donnez l’adresse (https://…) de la délibération ou de la page qui fonde l’aide."
        )
    rule_year = _number(data, "year", errors, low=2020, high=2100) or year
    if errors:
        return None, errors
    return (
        AidRule(
            key="",
            year=rule_year,
            scope="local",
            program="local",
            title=title,
            kind="grant",
            calc=calc,
            amount=amount or 0 if calc == "fixed" else 0,
            rate=rate or 0 if calc == "rate" else 0,
            expense_ceiling=expense_ceiling,
            aid_ceiling=aid_ceiling,
            brackets=",".join(b for b in BRACKETS if b in brackets),
            communes=",".join(sorted(chosen)),
            min_home_age=min_home_age,
            built_before=built_before,
            occupants=",".join(o for o in OCCUPANTS if o in occupants),
            works=",".join(w for w in WORKS if w in works),
            source_url=source_url,
            source_title=_text(data, "source_title", 200),
            note=_text(data, "note", 400),
        ),
        {},
    )


def add(session: Session, rule: AidRule, staff_id: int) -> AidRule:
    rule.created_by = staff_id
    rule.territory_id = scope.territory_id(session)
    session.add(rule)
    session.flush()
    rule.key = f"local-{rule.id}"
    session.add(rule)
    return rule


def set_active(session: Session, rule: AidRule, active: bool) -> None:
    rule.active = active
    session.add(rule)
