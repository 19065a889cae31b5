"""History of any entity's measures for staff: a range (day, week, month, year) read from the one
time-series store, served as JSON (for the side panel), CSV and a plain server-side SVG chart."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlmodel import Session

from app import timeseries
from app.i18n import gettext as _
from app.territories import zone as territory_zone

N_ = str  # marks a string for extraction; translated where it is shown

RANGES: dict[str, tuple[dt.timedelta, str]] = {
    "day": (dt.timedelta(days=1), "PT1H"),
    "week": (dt.timedelta(days=7), "PT3H"),
    "month": (dt.timedelta(days=30), "P1D"),
    "year": (dt.timedelta(days=365), "P1D"),
}
RANGE_LABELS = {"day": N_("Jour"), "week": N_("Semaine"), "month": N_("Mois"), "year": N_("Année")}

# measure -> (label, unit shown, factor from the stored value, how a period adds up: mean or sum)
MEASURES: dict[str, tuple[str, str, float, str]] = {
    "illuminanceLevel": (N_("Niveau d'éclairage"), "%", 100.0, "mean"),
    "powerConsumption": (N_("Puissance moyenne par point lumineux"), "W", 1.0, "mean"),
    "energyConsumed": (N_("Énergie consommée"), "kWh", 1.0, "sum"),
    "no2": (N_("Dioxyde d'azote (NO₂)"), "µg/m³", 1.0, "mean"),
    "pm10": (N_("Particules PM10"), "µg/m³", 1.0, "mean"),
    "pm25": (N_("Particules PM2,5"), "µg/m³", 1.0, "mean"),
    "o3": (N_("Ozone (O₃)"), "µg/m³", 1.0, "mean"),
    "intensity": (N_("Véhicules par période"), "", 1.0, "mean"),
    "occupancy": (N_("Taux d'occupation"), "%", 100.0, "mean"),
    "averageVehicleSpeed": (N_("Vitesse moyenne"), "km/h", 1.0, "mean"),
    "congested": (N_("Part du temps saturé"), "%", 100.0, "mean"),
    "fillingLevel": (N_("Taux de remplissage"), "%", 100.0, "mean"),
    "arrivals": (N_("Arrivées"), "", 1.0, "sum"),
    "admissions": (N_("Entrées"), "", 1.0, "sum"),
    "exits": (N_("Sorties"), "", 1.0, "sum"),
    "bays": (N_("Quais occupés"), "", 1.0, "mean"),
}


class HistoryError(ValueError):
    """A bad request for history, with a French message."""


@dataclass
class Series:
    measure: str
    label: str
    unit: str
    points: list[
        tuple[dt.datetime, float | None, float | None, float | None, int]
    ]  # start, value, min, max, n


def load(session: Session, entity: str, range_: str, now: dt.datetime) -> list[Series]:
    if range_ not in RANGES:
        raise HistoryError(_("Période inconnue : choisissez jour, semaine, mois ou année."))
    if not entity.startswith("urn:ngsi-ld:") or len(entity) > 120:
        raise HistoryError(_("Identifiant d'objet invalide."))
    span, duration = RANGES[range_]
    zone = territory_zone(session)  # the days of the territory the entity belongs to
    end = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    start = end - span
    if duration.startswith("P1D"):
        start = dt.datetime.combine(start.astimezone(zone).date(), dt.time(0), tzinfo=zone)
    measures = timeseries.measures_of(session, entity)
    series = timeseries.aggregate(
        session, entity, measures, start, end, timeseries.Period.parse(duration), zone
    )
    out = []
    for name in measures:
        label, unit, factor, how = MEASURES.get(name, (name, "", 1.0, "mean"))
        points = []
        for b in series[name]:
            value = (b.total if how == "sum" else b.mean) if b.count else None
            points.append(
                (
                    b.start,
                    None if value is None else value * factor,
                    None if b.low is None or how == "sum" else b.low * factor,
                    None if b.high is None or how == "sum" else b.high * factor,
                    b.count,
                )
            )
        out.append(Series(name, _(label), unit, points))
    return out


def as_json(entity: str, range_: str, series: list[Series]) -> dict[str, Any]:
    return {
        "entity": entity,
        "range": range_,
        "series": [
            {
                "measure": s.measure,
                "label": s.label,
                "unit": s.unit,
                "points": [
                    {
                        "start": p[0].isoformat(),
                        "value": _round(p[1]),
                        "min": _round(p[2]),
                        "max": _round(p[3]),
                        "samples": p[4],
                    }
                    for p in s.points
                ],
            }
            for s in series
        ],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def as_csv(series: list[Series]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["measure", "unit", "start", "value", "min", "max", "samples"])
    for s in series:
        for p in s.points:
            writer.writerow(
                [
                    s.measure,
                    s.unit,
                    p[0].isoformat(),
                    *("" if v is None else f"{v:.3f}" for v in p[1:4]),
                    p[4],
                ]
            )
    return buffer.getvalue()


def _fmt(value: float) -> str:
    text = f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
    return text.replace(".", ",")


def as_svg(series: list[Series], tz: Any) -> str:
    """One small line chart per measure (mean, with the min–max band), sized by its viewBox for any screen."""
    width, row_h, pad_l, pad_r = 640, 150, 56, 12
    if not series:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 40" role="img">'
            f'<text x="8" y="24" font-size="14">{escape(_("Aucune mesure enregistrée."))}</text></svg>'
        )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {row_h * len(series)}" '
        f'role="img" class="chart" font-family="system-ui, sans-serif">'
    ]
    for index, s in enumerate(series):
        top = index * row_h
        plot_top, plot_h = top + 26, row_h - 52
        values = [v for p in s.points for v in (p[1], p[2], p[3]) if v is not None]
        title = escape(f"{s.label} ({s.unit})" if s.unit else s.label)
        parts.append(f'<text x="4" y="{top + 16}" font-size="13" font-weight="600">{title}</text>')
        if not values:
            parts.append(f'<text x="{pad_l}" y="{plot_top + plot_h / 2}" font-size="12">—</text>')
            continue
        low, high = min(values), max(values)
        if high == low:
            high = low + 1
        n = max(1, len(s.points) - 1)

        def x(i: int) -> float:
            return pad_l + (width - pad_l - pad_r) * i / n

        def y(v: float) -> float:
            return plot_top + plot_h - (v - low) / (high - low) * plot_h  # noqa: B023

        parts.append(
            f'<line x1="{pad_l}" y1="{plot_top + plot_h}" x2="{width - pad_r}" y2="{plot_top + plot_h}" '
            'stroke="#999" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{pad_l - 4}" y="{plot_top + 10}" font-size="11" text-anchor="end">{_fmt(high)}</text>'
        )
        parts.append(
            f'<text x="{pad_l - 4}" y="{plot_top + plot_h}" font-size="11" text-anchor="end">{_fmt(low)}</text>'
        )
        band_top = [(x(i), y(p[3])) for i, p in enumerate(s.points) if p[3] is not None]
        band_low = [(x(i), y(p[2])) for i, p in enumerate(s.points) if p[2] is not None]
        if band_top and band_low and len(band_top) == len(band_low):
            ring = band_top + band_low[::-1]
            parts.append(
                '<polygon fill="#2a6f97" fill-opacity="0.15" points="'
                + " ".join(f"{a:.1f},{b:.1f}" for a, b in ring)
                + '"/>'
            )
        segment: list[str] = []
        for i, p in enumerate(s.points):
            if p[1] is None:
                if len(segment) > 1:
                    parts.append(
                        f'<polyline fill="none" stroke="#2a6f97" stroke-width="2" points="{" ".join(segment)}"/>'
                    )
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(p[1]):.1f}")
            if len(s.points) < 60:
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(p[1]):.1f}" r="2.5" fill="#2a6f97"/>')
        if len(segment) > 1:
            parts.append(
                f'<polyline fill="none" stroke="#2a6f97" stroke-width="2" points="{" ".join(segment)}"/>'
            )
        first, last = s.points[0][0].astimezone(tz), s.points[-1][0].astimezone(tz)
        parts.append(
            f'<text x="{pad_l}" y="{plot_top + plot_h + 16}" font-size="11">'
            f"{first:%d/%m %H:%M}</text>"
        )
        parts.append(
            f'<text x="{width - pad_r}" y="{plot_top + plot_h + 16}" font-size="11" text-anchor="end">'
            f"{last:%d/%m %H:%M}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
