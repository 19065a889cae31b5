"""Foresight: what housing programmes bring to the roads, the border crossings and the waste centre.

A scenario is housing programmes (homes per commune and year) and assumptions, each with its
source, all editable: people per home, the share of residents who work in Luxembourg, the share
of those commuters who leave in the morning peak, the share who drive, the people per car, the
share of drivers who could carpool and the waste-centre visits per home and year. For each year up
to ``HORIZON`` years out, per corridor (the commune's nearest border crossing):

- new residents = homes built so far × people per home;
- cross-border commuters = new residents × cross-border share;
- morning peak commuters = commuters × peak share; peak car trips = those × car share ÷ people per car;
- carpool potential = peak commuters who drive × share who could carpool;
- waste-centre visits a year = homes built so far × visits per home.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.csvsafe import csv_cell
from app.i18n import gettext as _

N_ = str  # marks a string for extraction; translated where it is shown

HORIZON = 20
MAX_HOMES = 100_000


class ForesightError(ValueError):
    """Input that cannot make a scenario, with a French message."""


@dataclass(frozen=True)
class Assumption:
    name: str
    label: str  # French source string
    default: float
    source: str  # French source string
    minimum: float = 0.0
    maximum: float = 1.0


ASSUMPTIONS = (
    Assumption(
        "people_per_home",
        N_("Personnes par logement"),
        2.2,
        N_("INSEE, recensement : taille moyenne des ménages en Moselle (environ 2,2)"),
        0.5,
        8.0,
    ),
    Assumption(
        "cross_border_share",
        N_("Part des habitants travaillant au Luxembourg"),
        0.30,
        N_("La collectivité : trois habitants sur dix travaillent au Luxembourg"),
    ),
    Assumption(
        "peak_share",
        N_("Part des navetteurs partant à l'heure de pointe du matin"),
        0.70,
        N_("Hypothèse, à caler sur les comptages horaires des passages frontaliers"),
    ),
    Assumption(
        "car_share",
        N_("Part des navetteurs en voiture"),
        0.85,
        N_("Hypothèse : enquêtes de mobilité des frontaliers (environ 85 sur 100 en voiture)"),
    ),
    Assumption(
        "people_per_car",
        N_("Personnes par voiture"),
        1.2,
        N_("Taux d'occupation des trajets domicile-travail vers le Luxembourg (environ 1,2)"),
        1.0,
        5.0,
    ),
    Assumption(
        "carpool_share",
        N_("Part des conducteurs qui pourraient covoiturer"),
        0.25,
        N_("Hypothèse, à comparer aux demandes de covoiturage sans réponse"),
    ),
    Assumption(
        "waste_visits_per_home",
        N_("Passages à la déchèterie par logement et par an"),
        5.0,
        N_("Hypothèse, à caler sur les passages comptés aux barrières"),
        0.0,
        100.0,
    ),
)
DEFAULTS = {a.name: a.default for a in ASSUMPTIONS}


@dataclass(frozen=True)
class Programme:
    commune: str  # INSEE code
    year: int
    homes: int


@dataclass
class YearFigures:
    year: int
    homes: int = 0
    residents: float = 0.0
    commuters: float = 0.0
    peak_commuters: float = 0.0
    peak_car_trips: float = 0.0
    carpool_potential: float = 0.0
    waste_visits: float = 0.0
    corridors: dict[str, float] = field(default_factory=dict)  # peak car trips per corridor


@dataclass
class Scenario:
    name: str
    programmes: list[Programme]
    assumptions: dict[str, float]
    years: list[YearFigures]


def parse_programmes(text: str, communes: Mapping[str, str], first_year: int) -> list[Programme]:
    """Lines ``commune;year;homes`` (INSEE code or name; ``,`` or ``;``); a French message per bad line."""
    by_name = {name.casefold(): insee for insee, name in communes.items()}
    out: list[Programme] = []
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.replace(",", ";").split(";")]
        if len(parts) != 3:
            errors.append(_("Ligne %(n)s : écrivez commune;année;logements.") % {"n": number})
            continue
        commune = parts[0] if parts[0] in communes else by_name.get(parts[0].casefold())
        if commune is None:
            errors.append(
                _("Ligne %(n)s : commune inconnue « %(c)s ».") % {"n": number, "c": parts[0][:40]}
            )
            continue
        if not (parts[1].isascii() and parts[1].isdigit()) or not (
            first_year <= int(parts[1]) < first_year + HORIZON
        ):
            errors.append(
                _("Ligne %(n)s : l'année doit aller de %(a)s à %(b)s.")
                % {"n": number, "a": first_year, "b": first_year + HORIZON - 1}
            )
            continue
        if not (parts[2].isascii() and parts[2].isdigit()) or not (0 < int(parts[2]) <= MAX_HOMES):
            errors.append(
                _("Ligne %(n)s : le nombre de logements doit être un entier positif.")
                % {"n": number}
            )
            continue
        out.append(Programme(commune, int(parts[1]), int(parts[2])))
    if errors:
        raise ForesightError(" ".join(errors[:5]))
    return out


def parse_assumptions(values: Mapping[str, str | None]) -> dict[str, float]:
    out: dict[str, float] = {}
    for a in ASSUMPTIONS:
        raw = (values.get(a.name) or "").strip().replace(",", ".")
        if not raw:
            out[a.name] = a.default
            continue
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if raw.endswith("%"):
            value = math.nan
        if not math.isfinite(value) or not (a.minimum <= value <= a.maximum):
            raise ForesightError(
                _("« %(label)s » doit être un nombre entre %(a)s et %(b)s.")
                % {"label": _(a.label), "a": a.minimum, "b": a.maximum}
            )
        out[a.name] = value
    return out


def project(
    name: str,
    programmes: Sequence[Programme],
    assumptions: Mapping[str, float],
    corridors: Mapping[str, str],
    first_year: int,
) -> Scenario:
    """Year by year, ``HORIZON`` years from ``first_year``; ``corridors``: commune → its corridor."""
    a = assumptions
    years = []
    built: dict[str, int] = defaultdict(int)
    for year in range(first_year, first_year + HORIZON):
        for p in programmes:
            if p.year == year:
                built[p.commune] += p.homes
        figures = YearFigures(year)
        for commune, homes in built.items():
            residents = homes * a["people_per_home"]
            commuters = residents * a["cross_border_share"]
            peak = commuters * a["peak_share"]
            cars = peak * a["car_share"] / a["people_per_car"]
            figures.homes += homes
            figures.residents += residents
            figures.commuters += commuters
            figures.peak_commuters += peak
            figures.peak_car_trips += cars
            figures.carpool_potential += peak * a["car_share"] * a["carpool_share"]
            figures.waste_visits += homes * a["waste_visits_per_home"]
            corridor = corridors.get(commune, commune)
            figures.corridors[corridor] = figures.corridors.get(corridor, 0.0) + cars
        years.append(figures)
    return Scenario(name, list(programmes), dict(assumptions), years)


CSV_COLUMNS = (
    "scenario",
    "year",
    "corridor",
    "homes",
    "new_residents",
    "cross_border_commuters",
    "morning_peak_commuters",
    "morning_peak_car_trips",
    "carpool_potential",
    "waste_centre_visits_per_year",
)


def as_csv(scenarios: Sequence[Scenario]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for s in scenarios:
        for y in s.years:
            writer.writerow(
                [
                    s.name,
                    y.year,
                    "",
                    y.homes,
                    round(y.residents, 1),
                    round(y.commuters, 1),
                    round(y.peak_commuters, 1),
                    round(y.peak_car_trips, 1),
                    round(y.carpool_potential, 1),
                    round(y.waste_visits, 1),
                ]
            )
            for corridor, cars in sorted(y.corridors.items()):
                writer.writerow(
                    [
                        csv_cell(s.name),
                        y.year,
                        csv_cell(corridor),
                        "",
                        "",
                        "",
                        "",
                        round(cars, 1),
                        "",
                        "",
                    ]
                )
    return out.getvalue()


def corridors_of(
    communes: Mapping[str, tuple[float, float]], crossings: Sequence[tuple[str, float, float]]
) -> dict[str, str]:
    """Each commune's corridor: its nearest border crossing (by name), or Luxembourg when none is known."""
    out = {}
    for insee, (lat, lon) in communes.items():
        if crossings:
            out[insee] = min(
                crossings, key=lambda c: (c[1] - lat) ** 2 + ((c[2] - lon) * 0.65) ** 2
            )[0]
        else:
            out[insee] = "Luxembourg"
    return out
