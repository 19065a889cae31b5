"""The rule engine of the renovation guide: which aids a household may claim, and how much.

Pure functions over plain values: the rules are data (``AidRule`` rows, national ones loaded from
a versioned file, local ones written by staff) and the household is the questionnaire's answers.
The pages, the tests and the CLI call :func:`evaluate` and :func:`remaining_cost`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.i18n import gettext as _
from app.models.renovation import AidRule, IncomeCeiling


def N_(message: str) -> str:
    return message


# Income brackets of MaPrimeRénov' (Anah), from the most modest.
BRACKETS = {
    "tres_modeste": N_("Très modestes (MaPrimeRénov’ Bleu)"),
    "modeste": N_("Modestes (MaPrimeRénov’ Jaune)"),
    "intermediaire": N_("Intermédiaires (MaPrimeRénov’ Violet)"),
    "superieure": N_("Supérieures (MaPrimeRénov’ Rose)"),
}

HOME_TYPES = {"maison": N_("Maison"), "appartement": N_("Appartement")}

HEATINGS = {
    "fioul": N_("Chaudière au fioul"),
    "gaz": N_("Chaudière au gaz"),
    "charbon": N_("Chaudière au charbon"),
    "electricite": N_("Radiateurs électriques"),
    "bois": N_("Bois (poêle, chaudière)"),
    "pac": N_("Pompe à chaleur"),
    "reseau": N_("Réseau de chaleur"),
    "autre": N_("Autre ou je ne sais pas"),
}

# Who lives in the home, for MaPrimeAdapt' (age of the occupant concerned, or disability).
OCCUPANTS = {
    "moins_60": N_("Moins de 60 ans"),
    "60_69": N_("60 à 69 ans, sans perte d’autonomie évaluée"),
    "60_69_gir": N_("60 à 69 ans, avec une perte d’autonomie évaluée (GIR 1 à 6)"),
    "70_plus": N_("70 ans ou plus"),
    "handicap": N_(
        "En situation de handicap (taux d’incapacité d’au moins 50 pour cent, ou prestation de "
        "compensation du handicap)"
    ),
}


@dataclass(frozen=True)
class Work:
    key: str
    label: str
    energy: bool  # counts for the eco-loan's tiers
    unit: str = ""  # "" (one item), "m2", "fenetres"
    unit_label: str = ""


WORKS: dict[str, Work] = {
    w.key: w
    for w in (
        Work("pac_air_eau", N_("Pompe à chaleur air/eau"), True),
        Work("pac_geo", N_("Pompe à chaleur géothermique"), True),
        Work("chaudiere_granules", N_("Chaudière à granulés de bois"), True),
        Work("poele_granules", N_("Poêle à granulés de bois"), True),
        Work(
            "isolation_murs_ext",
            N_("Isolation des murs par l’extérieur"),
            True,
            "m2",
            N_("Surface de murs à isoler (m²)"),
        ),
        Work(
            "fenetres",
            N_("Remplacement de fenêtres à simple vitrage"),
            True,
            "fenetres",
            N_("Nombre de fenêtres à remplacer"),
        ),
        Work("vmc_double_flux", N_("Ventilation double flux"), True),
        Work(
            "adaptation",
            N_("Adapter le logement à l’âge ou au handicap (douche, monte-escalier…)"),
            False,
        ),
    )
}


@dataclass
class Household:
    """The answers of the questionnaire (the engine reads only these)."""

    commune: str = ""
    home_type: str = ""
    built_year: int | None = None
    heating: str = ""
    persons: int | None = None
    bracket: str = ""
    works: list[str] = field(default_factory=list)
    quantities: dict[str, int] = field(default_factory=dict)
    occupant: str = ""
    cost: int | None = None  # euros of works entered on the result page

    def home_age(self, year: int) -> int | None:
        return None if self.built_year is None else year - self.built_year

    def energy_works(self) -> int:
        return sum(1 for w in self.works if w in WORKS and WORKS[w].energy)


@dataclass(frozen=True)
class Aid:
    """An aid the household may claim: ``amount`` in euros, or None when it is a rate and no
    works cost was entered (``up_to`` then says the most it can be)."""

    rule: AidRule
    amount: int | None
    up_to: int | None

    @property
    def is_loan(self) -> bool:
        return self.rule.kind == "loan"


def split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def applies(rule: AidRule, household: Household, year: int) -> bool:
    """Whether every condition of the rule holds for the household (empty lists: any)."""
    if not rule.active:
        return False
    if rule.brackets and household.bracket not in split(rule.brackets):
        return False
    if rule.communes and household.commune not in split(rule.communes):
        return False
    age = household.home_age(year)
    if rule.min_home_age is not None and (age is None or age < rule.min_home_age):
        return False
    if rule.built_before is not None and (
        household.built_year is None or household.built_year >= rule.built_before
    ):
        return False
    if rule.occupants and household.occupant not in split(rule.occupants):
        return False
    if rule.heating and household.heating not in split(rule.heating):
        return False
    if rule.works and not set(split(rule.works)) & set(household.works):
        return False
    count = household.energy_works()
    if rule.works_min is not None and count < rule.works_min:
        return False
    if rule.works_max is not None and count > rule.works_max:
        return False
    return True


def _cap(value: int, ceiling: int | None) -> int:
    return value if ceiling is None else min(value, ceiling)


def amount(rule: AidRule, household: Household) -> Aid:
    """What the rule pays this household."""
    if rule.calc == "per_unit":
        units = sum(household.quantities.get(w, 0) for w in split(rule.works))
        units = _cap(units, rule.unit_ceiling)
        return Aid(rule, _cap(units * rule.amount, rule.aid_ceiling), None)
    if rule.calc == "rate":
        most = rule.expense_ceiling
        up_to = None if most is None else _cap(most * rule.rate // 100, rule.aid_ceiling)
        if household.cost is None:
            return Aid(rule, None, up_to)
        base = _cap(household.cost, rule.expense_ceiling)
        return Aid(rule, _cap(base * rule.rate // 100, rule.aid_ceiling), up_to)
    return Aid(rule, _cap(rule.amount, rule.aid_ceiling), None)


def evaluate(rules: Iterable[AidRule], household: Household, year: int) -> list[Aid]:
    """The aids of the household, national first then local, in the rules' order; an aid worth
    nothing (a per-m² aid with no surface) is left out."""
    out = [amount(r, household) for r in rules if applies(r, household, year)]
    out = [a for a in out if a.amount is None or a.amount > 0]
    return sorted(out, key=lambda a: (a.rule.scope != "national", a.rule.id or 0))


def grants_total(aids: Sequence[Aid]) -> int:
    return sum(a.amount or 0 for a in aids if not a.is_loan)


def remaining_cost(cost: int, aids: Sequence[Aid]) -> int:
    """The works cost less the grants (never below zero); loans are not subtracted."""
    return max(0, cost - grants_total(aids))


@dataclass(frozen=True)
class Limits:
    very_modest: int
    modest: int
    intermediate: int


def limits(ceilings: Sequence[IncomeCeiling], persons: int) -> Limits | None:
    """The ceilings for a household of ``persons`` (past five, each person adds row 0's figures)."""
    rows = {c.persons: c for c in ceilings}
    if persons <= 5:
        row = rows.get(persons)
        return None if row is None else Limits(row.very_modest, row.modest, row.intermediate)
    five, extra = rows.get(5), rows.get(0)
    if five is None or extra is None:
        return None
    n = persons - 5
    return Limits(
        five.very_modest + n * extra.very_modest,
        five.modest + n * extra.modest,
        five.intermediate + n * extra.intermediate,
    )


def bracket_of(bounds: Limits, income: int) -> str:
    """The bracket of a revenu fiscal de référence (each ceiling included)."""
    if income <= bounds.very_modest:
        return "tres_modeste"
    if income <= bounds.modest:
        return "modeste"
    if income <= bounds.intermediate:
        return "intermediaire"
    return "superieure"


def euros(value: int) -> str:
    """Euros as French pages write them: ``25\u202f115\u00a0€``."""
    return f"{value:,}".replace(",", "\u202f") + "\u00a0€"


def bracket_choices(bounds: Limits) -> list[tuple[str, str]]:
    """The income question's choices, each with its ceiling for this household size."""
    return [
        ("tres_modeste", _("Jusqu’à %(a)s") % {"a": euros(bounds.very_modest)}),
        (
            "modeste",
            _("De %(a)s à %(b)s") % {"a": euros(bounds.very_modest + 1), "b": euros(bounds.modest)},
        ),
        (
            "intermediaire",
            _("De %(a)s à %(b)s")
            % {"a": euros(bounds.modest + 1), "b": euros(bounds.intermediate)},
        ),
        ("superieure", _("Plus de %(a)s") % {"a": euros(bounds.intermediate)}),
    ]
