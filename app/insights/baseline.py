"""Energy against a measured baseline: meter readings or invoices per cabinet and month of the years
before the renovation (``insights_energy_baselines``), imported as CSV, against what the domain
measures now (``app.interfaces.EnergyMeters``: lighting, per cabinet).

A month's baseline for a cabinet is the mean of its imported readings for the same calendar month
(November against the Novembers imported, of years before the month shown). The saving is compared
only where a cabinet has both; in kWh, in euros (the invoices' own price per kWh when they give
one, else the stated factor) and tonnes of CO₂; per cabinet (with the groups it feeds), per commune
and for the territory, against the promised target, with the remaining gap and the cabinets that
hold it back. The modelled old lamp is shown alongside, labelled as modelled. A baseline belongs to
the territory it was imported on (its cabinets'); everything here is the session's territory's
(``scope``).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from app import months
from app.db import upsert
from app.i18n import gettext as _
from app.insights import registry
from app.insights import scope as insights_scope
from app.interfaces import EnergyMeters, MeteredPlace
from app.models.insights import InsightsEnergyBaseline

MAX_LINES = 50_000
HEADER = ("armoire", "mois", "kwh", "euros")


class BaselineError(ValueError):
    """A CSV that cannot be imported; the message is French and says which line."""


@dataclass(frozen=True)
class Reading:
    cabinet: str
    month: str
    kwh: float
    euros: float | None


def _number(text: str, line: int, what: str, required: bool) -> float | None:
    text = text.strip().replace("\u202f", "").replace(" ", "").replace(",", ".")
    if not text:
        if required:
            raise BaselineError(_("Ligne %(n)s : %(w)s manquant.") % {"n": line, "w": what})
        return None
    try:
        value = float(text)
    except ValueError:
        raise BaselineError(
            _("Ligne %(n)s : %(w)s n'est pas un nombre (« %(v)s »).")
            % {"n": line, "w": what, "v": text[:20]}
        ) from None
    if not 0 <= value < 1e9 or value != value:
        raise BaselineError(
            _("Ligne %(n)s : %(w)s doit être un nombre positif.") % {"n": line, "w": what}
        )
    return value


def parse(text: str, places: Sequence[MeteredPlace], current: str) -> list[Reading]:
    """The readings of a CSV ``armoire;mois;kwh;euros`` (a header line optional, ``,`` also accepted
    as separator with decimal points), each line checked; the first fault refuses the whole file."""
    known = {p.code for p in places}
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise BaselineError(_("Le fichier est vide : une ligne par armoire et par mois attendue."))
    if len(lines) > MAX_LINES:
        raise BaselineError(_("Trop de lignes (au plus %(n)s).") % {"n": MAX_LINES})
    delimiter = ";" if ";" in lines[0] else ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    first = [cell.strip().lower() for cell in rows[0]]
    start = 1 if first and first[0] in ("armoire", "cabinet", "cabinet_id") else 0
    seen: set[tuple[str, str]] = set()
    out = []
    for number, cells in enumerate(rows[start:], start=start + 1):
        if len(cells) not in (3, 4):
            raise BaselineError(
                _("Ligne %(n)s : 3 ou 4 colonnes attendues (armoire, mois, kWh, euros).")
                % {"n": number}
            )
        cabinet, month = cells[0].strip(), cells[1].strip()
        if cabinet not in known:
            raise BaselineError(
                _("Ligne %(n)s : armoire inconnue « %(c)s ».") % {"n": number, "c": cabinet[:64]}
            )
        if not months.valid(month):
            raise BaselineError(
                _("Ligne %(n)s : mois invalide « %(m)s » (AAAA-MM attendu).")
                % {"n": number, "m": month[:20]}
            )
        if month >= current:
            raise BaselineError(
                _("Ligne %(n)s : le mois %(m)s n'est pas terminé.") % {"n": number, "m": month}
            )
        if (cabinet, month) in seen:
            raise BaselineError(
                _("Ligne %(n)s : l'armoire %(c)s a déjà une ligne pour %(m)s.")
                % {"n": number, "c": cabinet, "m": month}
            )
        seen.add((cabinet, month))
        kwh = _number(cells[2], number, "kWh", True)
        euros = (
            _number(cells[3], number, _("le montant en euros"), False) if len(cells) == 4 else None
        )
        out.append(Reading(cabinet, month, kwh or 0.0, euros))
    return out


def save(session: Session, readings: Sequence[Reading], now: dt.datetime) -> int:
    """Write the readings in the request's write session (a cabinet's month imported again replaces
    the earlier one); the caller commits. They belong to the session's territory (the readings'
    cabinets are its own: ``parse`` knows no other), else to the default territory."""
    territory = insights_scope.territory_id(session)
    rows = [
        {
            "cabinet_id": r.cabinet,
            "month": r.month,
            "kwh": r.kwh,
            "euros": r.euros,
            "imported_at": now,
            **({"territory_id": territory} if territory else {}),
        }
        for r in readings
    ]
    upsert(
        session,
        InsightsEnergyBaseline,
        ["cabinet_id", "month"],
        rows,
        replace=("kwh", "euros", "imported_at"),
    )
    return len(rows)


@dataclass
class Saving:
    """Measured against baseline for one cabinet, a commune or the territory."""

    code: str
    name: str
    commune: str
    feeds: tuple[str, ...]
    measured_kwh: float
    baseline_kwh: float
    euros_per_kwh: float
    target: float
    years: tuple[str, ...] = ()

    @property
    def saved_kwh(self) -> float:
        return self.baseline_kwh - self.measured_kwh

    @property
    def saving(self) -> float | None:
        return self.saved_kwh / self.baseline_kwh if self.baseline_kwh > 0 else None

    @property
    def saved_euros(self) -> float:
        return self.saved_kwh * self.euros_per_kwh

    @property
    def gap_kwh(self) -> float:
        """kWh still to save to reach the target."""
        return max(0.0, self.measured_kwh - (1 - self.target) * self.baseline_kwh)


@dataclass
class Comparison:
    meter: EnergyMeters
    month: str
    cabinets: list[Saving] = field(default_factory=list)
    communes: list[Saving] = field(default_factory=list)
    total: Saving | None = None
    without_baseline: list[str] = field(default_factory=list)  # measured, no baseline imported
    without_measure: list[str] = field(default_factory=list)  # a baseline, nothing measured
    modelled: tuple[float, float] | None = None  # (measured, modelled old lamp), whole fleet
    imported: int = 0  # readings imported in all

    @property
    def holding_back(self) -> list[Saving]:
        """The cabinets short of the target, the largest gap first."""
        return sorted(
            (c for c in self.cabinets if c.gap_kwh > 0), key=lambda c: (-c.gap_kwh, c.code)
        )

    @property
    def co2_t(self) -> float | None:
        return None if self.total is None else self.total.saved_kwh * self.meter.co2.per_unit / 1000

    @property
    def target_text(self) -> str:
        """The target's source, translated here: it holds a "%" that the templates' formatting
        gettext would read as a placeholder."""
        return _(self.meter.target_source)

    @property
    def modelled_saving(self) -> float | None:
        if self.modelled is None or self.modelled[1] <= 0:
            return None
        return 1 - self.modelled[0] / self.modelled[1]


def _sum(code: str, name: str, parts: Sequence[Saving], target: float, commune: str = "") -> Saving:
    measured = sum(p.measured_kwh for p in parts)
    baseline = sum(p.baseline_kwh for p in parts)
    euros = sum(p.baseline_kwh * p.euros_per_kwh for p in parts)
    return Saving(
        code, name, commune, (), measured, baseline, euros / baseline if baseline else 0.0, target
    )


def compare(session: Session, month: str, meter: EnergyMeters | None = None) -> Comparison | None:
    """The month's measured energy against the baseline, per cabinet, commune and territory."""
    if meter is None:
        meters = registry.energy_meters()
        if not meters:
            return None
        meter = meters[0]
    out = Comparison(meter, month)
    places = {p.code: p for p in meter.places(session)}
    readings: dict[str, list[InsightsEnergyBaseline]] = defaultdict(list)
    query = select(InsightsEnergyBaseline).where(col(InsightsEnergyBaseline.month) < month)
    territory = insights_scope.territory_id(session)
    if territory is not None:
        query = query.where(col(InsightsEnergyBaseline.territory_id) == territory)
    for r in session.scalars(query):
        out.imported += 1
        if r.month[5:] == month[5:]:
            readings[r.cabinet_id].append(r)
    measured = {
        cabinet: kwh
        for (m, cabinet), kwh in meter.measured(session, month, month).items()
        if m == month
    }
    for code in sorted(set(readings) | set(measured)):
        place = places.get(code)
        if place is None:
            continue
        if code not in readings:
            out.without_baseline.append(code)
            continue
        if code not in measured:
            out.without_measure.append(code)
            continue
        rows = readings[code]
        baseline = sum(r.kwh for r in rows) / len(rows)
        priced = [r for r in rows if r.euros is not None and r.kwh > 0]
        price = (
            sum(r.euros or 0.0 for r in priced) / sum(r.kwh for r in priced)
            if priced
            else meter.euros.per_unit
        )
        out.cabinets.append(
            Saving(
                code,
                place.name,
                place.commune,
                place.feeds,
                measured[code],
                baseline,
                price,
                meter.target,
                tuple(sorted(r.month[:4] for r in rows)),
            )
        )
    names = {c.insee: c.name for c in session.scalars(insights_scope.communes(session))}
    by_commune: dict[str, list[Saving]] = defaultdict(list)
    for c in out.cabinets:
        by_commune[c.commune].append(c)
    out.communes = sorted(
        (
            _sum(insee, names.get(insee, _("Commune inconnue")), parts, meter.target, insee)
            for insee, parts in by_commune.items()
        ),
        key=lambda s: s.name,
    )
    if out.cabinets:
        out.total = _sum("", _("Territoire"), out.cabinets, meter.target)
    # the modelled old lamp, shown beside a measured comparison only (it models every month back)
    out.modelled = meter.modelled(session, month) if out.cabinets else None
    return out


def rows_for_export(comparison: Comparison) -> list[dict[str, object]]:
    """One row per cabinet, commune (``level``) and the territory, the values the page shows."""
    out: list[dict[str, object]] = []
    levels = [("cabinet", c) for c in comparison.cabinets]
    levels += [("commune", c) for c in comparison.communes]
    if comparison.total is not None:
        levels.append(("territory", comparison.total))
    for level, s in levels:
        out.append(
            {
                "month": comparison.month,
                "level": level,
                "code": s.code,
                "name": s.name,
                "commune_insee": s.commune,
                "groups": " | ".join(s.feeds),
                "baseline_kwh": round(s.baseline_kwh, 1),
                "measured_kwh": round(s.measured_kwh, 1),
                "saved_kwh": round(s.saved_kwh, 1),
                "saving_pct": None if s.saving is None else round(s.saving * 100, 1),
                "target_pct": round(s.target * 100),
                "gap_kwh": round(s.gap_kwh, 1),
                "saved_euros": round(s.saved_euros, 2),
                "saved_t_co2e": round(s.saved_kwh * comparison.meter.co2.per_unit / 1000, 3),
                "baseline_years": " ".join(s.years),
            }
        )
    return out


COLUMNS = (
    "month",
    "level",
    "code",
    "name",
    "commune_insee",
    "groups",
    "baseline_kwh",
    "measured_kwh",
    "saved_kwh",
    "saving_pct",
    "target_pct",
    "gap_kwh",
    "saved_euros",
    "saved_t_co2e",
    "baseline_years",
)
