"""Headline figures by theme: this month against the same month last year and the last 12 months
against the 12 before, for the territory and per commune, per 1,000 residents, in euros and CO₂.

Figures come from the domains (``app.interfaces.MonthlyFigure``, through ``registry``). Complete
months are kept in ``insights_monthly`` once computed (recomputed after ``REFRESH``, so a late
change reaches the pages within hours), with the territory's figure of each month in a row of its
own (commune ``TOTAL``), so a page comparing 24 months reads 24 rows per figure, not 24 × every
commune; the current month is always computed afresh. Every figure is the session's territory's
(``scope``): its domains' rows, its communes, its own kept months. Counts
(``kind`` ``count``) under the open-data threshold are hidden, for the territory, each commune
and each month alike.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, or_
from sqlmodel import Session, col, select

from app import months
from app.db import upsert, write_session
from app.insights import registry
from app.insights import scope as insights_scope
from app.insights.opendata import hidden
from app.interfaces import MonthlyFigure
from app.models.insights import InsightsMonthly, InsightsPopulation
from app.models.territory import Commune
from app.territories import zone

N_ = str  # marks a string for extraction; translated where it is shown

REFRESH = dt.timedelta(hours=6)
EMPTY = "*"  # the commune of the row that marks a month computed with nothing in it
TOTAL = "="  # the commune of the row that holds the territory's figure for the month
THEMES: tuple[tuple[str, str, str], ...] = (
    (
        "reports",
        N_("Signalements"),
        N_("Les dépôts sauvages signalés par les habitants et leur traitement."),
    ),
    (
        "energy",
        N_("Éclairage et énergie"),
        N_("L'énergie de l'éclairage public, son coût et ses émissions."),
    ),
    (
        "mobility",
        N_("Mobilité"),
        N_("Le covoiturage des deux côtés de la frontière et les passages frontaliers."),
    ),
    ("waste", N_("Déchèterie"), N_("La fréquentation des déchèteries, comptée aux barrières.")),
    (
        "air",
        N_("Qualité de l'air"),
        N_("Les concentrations moyennes mesurées par les capteurs du territoire."),
    ),
    ("shops", N_("Commerces"), N_("Le retrait de commandes chez les commerçants du territoire.")),
    ("sharing", N_("Partage"), N_("Les prêts et les dons d'objets entre voisins.")),
)
THEME_NAMES = {slug: title for slug, title, _intro in THEMES}
MAX_HEADLINES = 5

Values = dict[tuple[str, str], float]
ByMonth = dict[str, dict[str, float]]  # month -> commune -> value


@dataclass
class Kept:
    """A figure over some months: the territory's figure per month (``totals``; a month missing has
    nothing measured) and the communes' figures (``cells``) for the months asked in detail."""

    totals: dict[str, float] = field(default_factory=dict)
    cells: ByMonth = field(default_factory=lambda: defaultdict(dict))


def month_total(figure: MonthlyFigure, cells: Mapping[str, float]) -> float | None:
    """The territory's figure for one month from its communes' (commune ``""``: the territory's own
    mean when the figure gives one): summed, or averaged for means (None when nothing measured)."""
    if figure.kind == "mean":
        if "" in cells:
            return cells[""]
        found = [v for c, v in cells.items() if c]
        return sum(found) / len(found) if found else None
    return float(sum(cells.values()))


def values(
    session: Session,
    figure: MonthlyFigure,
    first: str,
    last: str,
    now: dt.datetime,
    detail: Sequence[str] = (),
) -> Kept:
    """The figure from ``first`` to ``last``: the territory's per month, the communes' for the months
    in ``detail``. Complete months are read from their kept rows (the territory's row ``TOTAL``,
    written once when the month is computed, so a page never sums every commune of 24 months);
    months not kept (or kept too long ago) and the current month are computed."""
    current = months.of(now, zone(session))
    out = Kept()
    territory = insights_scope.key(session)
    complete_last = min(last, months.shift(current, -1))
    if first <= complete_last:
        wanted = [m for m in detail if first <= m <= complete_last]
        kept = session.execute(
            select(
                col(InsightsMonthly.month), col(InsightsMonthly.commune), col(InsightsMonthly.value)
            ).where(
                col(InsightsMonthly.territory_id) == territory,
                col(InsightsMonthly.figure) == figure.name,
                col(InsightsMonthly.month) >= first,
                col(InsightsMonthly.month) <= complete_last,
                col(InsightsMonthly.computed_at) >= now - REFRESH,
                or_(
                    col(InsightsMonthly.commune).in_((TOTAL, EMPTY)),
                    col(InsightsMonthly.month).in_(wanted),
                ),
            )
        ).all()
        have = set()
        for month, commune, value in kept:
            if commune == TOTAL:
                have.add(month)
                out.totals[month] = value
            elif commune == EMPTY:
                have.add(month)
            else:
                out.cells[month][commune] = value
        missing = [m for m in months.between(first, complete_last) if m not in have]
        if missing:
            fresh = _index(figure.load(session, missing[0], missing[-1]), missing)
            _keep(session, figure, missing, fresh, now)
            _add(figure, out, fresh, detail)
    if last >= current >= first:
        _add(figure, out, _index(figure.load(session, current, current), [current]), detail)
    return out


def _index(data: Mapping[tuple[str, str], float], wanted: Sequence[str]) -> ByMonth:
    out: ByMonth = {m: {} for m in wanted}
    for (month, commune), value in data.items():
        if month in out:
            out[month][commune] = float(value)
    return out


def _add(figure: MonthlyFigure, out: Kept, fresh: ByMonth, detail: Sequence[str]) -> None:
    for month, cells in fresh.items():
        total = month_total(figure, cells)
        if total is not None:
            out.totals[month] = total
        if month in detail:
            out.cells[month] = dict(cells)


def _keep(
    session: Session,
    figure: MonthlyFigure,
    missing: Sequence[str],
    fresh: ByMonth,
    now: dt.datetime,
) -> None:
    """Keep the computed months: each commune's row and the territory's (``TOTAL``, or ``EMPTY``
    when nothing was measured)."""
    territory = insights_scope.key(session)
    rows = []
    for m in missing:
        cells = fresh.get(m, {})
        rows += [
            {
                "territory_id": territory,
                "figure": figure.name,
                "month": m,
                "commune": c,
                "value": v,
                "computed_at": now,
            }
            for c, v in cells.items()
        ]
        total = month_total(figure, cells)
        rows.append(
            {
                "territory_id": territory,
                "figure": figure.name,
                "month": m,
                "commune": EMPTY if total is None else TOTAL,
                "value": 0.0 if total is None else total,
                "computed_at": now,
            }
        )
    with write_session(session.get_bind()) as writer:
        writer.execute(
            delete(InsightsMonthly).where(
                col(InsightsMonthly.territory_id) == territory,
                col(InsightsMonthly.figure) == figure.name,
                col(InsightsMonthly.month).in_(list(missing)),
            )
        )
        upsert(
            writer,
            InsightsMonthly,
            ["territory_id", "figure", "month", "commune"],
            rows,
            replace=("value", "computed_at"),
        )


@dataclass(frozen=True)
class CommuneInfo:
    insee: str
    name: str
    population: int | None
    source: str


def communes(session: Session) -> list[CommuneInfo]:
    """The session's territory's communes, with their populations."""
    places = list(session.scalars(insights_scope.communes(session).order_by(col(Commune.name))))
    pops = {
        p.insee: p
        for p in session.scalars(
            select(InsightsPopulation).where(
                col(InsightsPopulation.insee).in_([c.insee for c in places])
            )
        )
    }
    out = []
    for c in places:
        p = pops.get(c.insee)
        out.append(
            CommuneInfo(
                c.insee, c.name, p.population if p else None, f"{p.source} ({p.year})" if p else ""
            )
        )
    return out


@dataclass
class CommuneRow:
    insee: str
    name: str
    value: float | None
    last_year: float | None
    per_1000: float | None


@dataclass
class Headline:
    figure: MonthlyFigure
    month: str
    value: float | None  # None: hidden (a count under the threshold) or nothing measured
    last_year: float | None
    change: float | None  # percent, this month against the same month last year
    last12: float | None
    prev12: float | None
    change12: float | None
    per_1000: float | None
    euros: float | None
    co2_t: float | None
    series: list[tuple[str, float | None]] = field(default_factory=list)  # the last 12 months
    communes: list[CommuneRow] = field(default_factory=list)

    @property
    def hidden(self) -> bool:
        return self.value is None


def _over(
    figure: MonthlyFigure, totals: Mapping[str, float], month_list: Sequence[str]
) -> float | None:
    """The territory's figure over some months: summed, or the mean of the months' means."""
    if figure.kind == "mean":
        found = [totals[m] for m in month_list if m in totals]
        return sum(found) / len(found) if found else None
    return float(sum(totals.get(m, 0.0) for m in month_list))


def _cell(figure: MonthlyFigure, kept: Kept, month: str, commune: str) -> float | None:
    cells = kept.cells.get(month) or {}
    if figure.kind == "mean":
        return cells.get(commune)
    return cells.get(commune, 0.0)


def _shown(figure: MonthlyFigure, value: float | None) -> float | None:
    return hidden(value) if figure.kind == "count" else value


def _pct(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return (now - before) / before * 100


def _per_1000(figure: MonthlyFigure, value: float | None, population: int | None) -> float | None:
    if figure.kind == "mean" or not figure.per_resident or value is None or not population:
        return None
    return value / population * 1000


def headline(
    session: Session,
    figure: MonthlyFigure,
    month: str,
    now: dt.datetime,
    places: Sequence[CommuneInfo],
    with_communes: bool = True,
) -> Headline:
    """The figure's headline for ``month``; each commune's row only ``with_communes`` (the theme
    pages and their exports; the index and the summary show the territory alone)."""
    first = months.shift(month, -23)
    last_year_month = months.shift(month, -12)
    detail = (month, last_year_month) if with_communes else ()
    kept = values(session, figure, first, month, now, detail)
    last12 = months.between(months.shift(month, -11), month)
    prev12 = months.between(first, months.shift(month, -12))
    value = _shown(figure, _over(figure, kept.totals, [month]))
    before = _shown(figure, _over(figure, kept.totals, [last_year_month]))
    t12 = _shown(figure, _over(figure, kept.totals, last12))
    p12 = _shown(figure, _over(figure, kept.totals, prev12))
    population = sum(c.population or 0 for c in places) or None
    rows = []
    for c in places if with_communes else ():
        v = _shown(figure, _cell(figure, kept, month, c.insee))
        rows.append(
            CommuneRow(
                c.insee,
                c.name,
                v,
                _shown(figure, _cell(figure, kept, last_year_month, c.insee)),
                _per_1000(figure, v, c.population),
            )
        )
    return Headline(
        figure=figure,
        month=month,
        value=value,
        last_year=before,
        change=_pct(value, before),
        last12=t12,
        prev12=p12,
        change12=_pct(t12, p12),
        per_1000=_per_1000(figure, value, population),
        euros=value * figure.euros.per_unit if figure.euros and value is not None else None,
        co2_t=value * figure.co2.per_unit / 1000 if figure.co2 and value is not None else None,
        series=[(m, _shown(figure, _over(figure, kept.totals, [m]))) for m in last12],
        communes=rows,
    )


def theme(session: Session, slug: str, month: str, now: dt.datetime) -> list[Headline]:
    places = communes(session)
    return [
        headline(session, f, month, now, places) for f in registry.figures(slug)[:MAX_HEADLINES]
    ]


def summary(session: Session, month: str, now: dt.datetime) -> dict[str, list[Headline]]:
    """Every theme's headlines for the territory (no commune rows: the index and summary show none)."""
    places = communes(session)
    out: dict[str, list[Headline]] = defaultdict(list)
    for slug, _title, _intro in THEMES:
        out[slug] = [
            headline(session, f, month, now, places, with_communes=False)
            for f in registry.figures(slug)[:MAX_HEADLINES]
        ]
    return out


def rows_for_export(headlines: Sequence[Headline]) -> list[dict[str, object]]:
    """One row per figure and commune (and the territory, commune ""), the same values the page shows."""
    out: list[dict[str, object]] = []
    for h in headlines:
        out.append(
            {
                "figure": h.figure.name,
                "month": h.month,
                "commune_insee": "",
                "commune": "",
                "value": h.value,
                "unit": h.figure.unit,
                "same_month_last_year": h.last_year,
                "change_pct": None if h.change is None else round(h.change, 1),
                "last_12_months": h.last12,
                "previous_12_months": h.prev12,
                "change_12_pct": None if h.change12 is None else round(h.change12, 1),
                "per_1000_residents": None if h.per_1000 is None else round(h.per_1000, 2),
                "euros": None if h.euros is None else round(h.euros, 2),
                "t_co2e": None if h.co2_t is None else round(h.co2_t, 3),
                "hidden": h.hidden,
            }
        )
        for c in h.communes:
            out.append(
                {
                    "figure": h.figure.name,
                    "month": h.month,
                    "commune_insee": c.insee,
                    "commune": c.name,
                    "value": c.value,
                    "unit": h.figure.unit,
                    "same_month_last_year": c.last_year,
                    "change_pct": None
                    if _pct(c.value, c.last_year) is None
                    else round(_pct(c.value, c.last_year) or 0, 1),
                    "last_12_months": None,
                    "previous_12_months": None,
                    "change_12_pct": None,
                    "per_1000_residents": None if c.per_1000 is None else round(c.per_1000, 2),
                    "euros": None
                    if h.figure.euros is None or c.value is None
                    else round(c.value * h.figure.euros.per_unit, 2),
                    "t_co2e": None
                    if h.figure.co2 is None or c.value is None
                    else round(c.value * h.figure.co2.per_unit / 1000, 3),
                    "hidden": c.value is None and h.figure.kind == "count",
                }
            )
    return out
