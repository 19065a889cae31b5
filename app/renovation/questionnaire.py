"""The questionnaire: one step per form post, the answers carried from step to step in the form
itself (nothing is stored before the resident asks for an appointment). :func:`read` checks the
answers given so far and says which question comes next: the quantities only for works counted
per m² or per item, the occupant's age only for works adapting the home."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.i18n import gettext as _
from app.models.renovation import IncomeCeiling
from app.numbers import parse_int
from app.renovation.engine import (
    BRACKETS,
    HEATINGS,
    HOME_TYPES,
    OCCUPANTS,
    WORKS,
    Household,
    Limits,
    limits,
)

STEPS = ("commune", "home", "heating", "household", "income", "works", "quantities", "occupant")
FIELDS = {
    "commune": ("commune",),
    "home": ("home_type", "built_year"),
    "heating": ("heating",),
    "household": ("persons",),
    "income": ("bracket",),
    "works": ("works",),
    "quantities": tuple(f"q_{w.key}" for w in WORKS.values() if w.unit),
    "occupant": ("occupant",),
}
MAX_PERSONS = 20


@dataclass
class Reading:
    household: Household
    step: str  # the next question, or "results"
    errors: dict[str, str] = field(default_factory=dict)
    bounds: Limits | None = None  # the income ceilings for the household's size

    @property
    def number(self) -> int:
        return STEPS.index(self.step) + 1 if self.step in STEPS else len(STEPS)

    def carry(self) -> list[tuple[str, str]]:
        """The answers given before the current step, as hidden fields."""
        return [(k, v) for k, v in fields_of(self.household) if k not in FIELDS.get(self.step, ())]


def _one(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return value.strip()[:40] if isinstance(value, str) else ""


def _many(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str) and v]


def fields_of(h: Household) -> list[tuple[str, str]]:
    out = [
        ("commune", h.commune),
        ("home_type", h.home_type),
        ("built_year", "" if h.built_year is None else str(h.built_year)),
        ("heating", h.heating),
        ("persons", "" if h.persons is None else str(h.persons)),
        ("bracket", h.bracket),
        *(("works", w) for w in h.works),
        *((f"q_{k}", str(v)) for k, v in h.quantities.items()),
        ("occupant", h.occupant),
    ]
    return [(k, v) for k, v in out if v]


def _present(data: dict[str, Any], step: str) -> bool:
    return any(_many(data, f) for f in FIELDS[step])


def read(
    data: dict[str, Any],
    communes: dict[str, str],
    year: int,
    ceilings: Sequence[IncomeCeiling],
) -> Reading:
    """Check each step in order; stop at the first one unanswered or wrong."""
    h = Household()
    submitted = _one(data, "step")
    bounds: Limits | None = None

    def stop(step: str, errors: dict[str, str] | None = None) -> Reading:
        if not errors and step == submitted:
            errors = {FIELDS[step][0]: _("Répondez à cette question pour continuer.")}
        return Reading(h, step, errors or {}, bounds)

    # Where the resident lives.
    if not _present(data, "commune"):
        return stop("commune")
    h.commune = _one(data, "commune")
    if h.commune not in communes:
        return stop("commune", {"commune": _("Choisissez une commune du territoire.")})

    # The home.
    if not _present(data, "home"):
        return stop("home")
    errors: dict[str, str] = {}
    h.home_type = _one(data, "home_type")
    if h.home_type not in HOME_TYPES:
        errors["home_type"] = _("Indiquez s’il s’agit d’une maison ou d’un appartement.")
    built = parse_int(_one(data, "built_year").replace(" ", ""), max_digits=4)
    if built is None or not 1500 <= built <= year:
        errors["built_year"] = _(
            "Indiquez l’année de construction en quatre chiffres, au plus tard %(y)s."
        ) % {"y": year}
    else:
        h.built_year = built
    if errors:
        return stop("home", errors)

    # Heating.
    if not _present(data, "heating"):
        return stop("heating")
    h.heating = _one(data, "heating")
    if h.heating not in HEATINGS:
        return stop("heating", {"heating": _("Choisissez votre chauffage dans la liste.")})

    # Household size, then its income bracket (choices labelled with the ceilings).
    if not _present(data, "household"):
        return stop("household")
    persons = parse_int(_one(data, "persons"), max_digits=3)
    if persons is None or not 1 <= persons <= MAX_PERSONS:
        return stop(
            "household",
            {
                "persons": _("Indiquez un nombre de personnes entre 1 et %(n)s.")
                % {"n": MAX_PERSONS}
            },
        )
    h.persons = persons
    bounds = limits(ceilings, persons)
    if not _present(data, "income"):
        return stop("income")
    h.bracket = _one(data, "bracket")
    if h.bracket not in BRACKETS:
        return stop("income", {"bracket": _("Choisissez la tranche de votre revenu fiscal.")})

    # The project.
    if not _present(data, "works"):
        return stop("works")
    works = _many(data, "works")
    if not set(works) <= set(WORKS):
        return stop("works", {"works": _("Choix de travaux invalide.")})
    h.works = [w for w in WORKS if w in works]

    counted = [WORKS[w] for w in h.works if WORKS[w].unit]
    if counted:
        if not _present(data, "quantities"):
            return stop("quantities")
        errors = {}
        for work in counted:
            name = f"q_{work.key}"
            value = parse_int(_one(data, name).replace(" ", ""), max_digits=5)
            if value is None or not 1 <= value <= 10_000:
                errors[name] = _("Un nombre entier entre 1 et 10 000 est attendu.")
            else:
                h.quantities[work.key] = value
        if errors:
            return stop("quantities", errors)

    if "adaptation" in h.works:
        if not _present(data, "occupant"):
            return stop("occupant")
        h.occupant = _one(data, "occupant")
        if h.occupant not in OCCUPANTS:
            return stop("occupant", {"occupant": _("Choisissez une situation dans la liste.")})

    return Reading(h, "results", {}, bounds)


def read_cost(data: dict[str, Any]) -> tuple[int | None, str]:
    """The works cost entered on the result page (euros), or a French message."""
    raw = _one(data, "cost").replace(" ", "").replace("\u202f", "").replace("€", "")
    if not raw:
        return None, ""
    value = parse_int(raw, max_digits=7)
    if value is None or not 1 <= value <= 2_000_000:
        return None, _("Indiquez le coût des travaux en euros, sans centimes (par exemple 18000).")
    return value, ""
