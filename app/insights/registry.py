"""The figures, trip sources and energy meters of every domain, handed over by ``app.domains.install``."""

from __future__ import annotations

from collections.abc import Iterable

from app.interfaces import EnergyMeters, MonthlyFigure, TripSource

_FIGURES: list[MonthlyFigure] = []
_TRIPS: list[TripSource] = []
_METERS: list[EnergyMeters] = []


def install(
    figures: Iterable[MonthlyFigure],
    trips: Iterable[TripSource],
    meters: Iterable[EnergyMeters] = (),
) -> None:
    _FIGURES[:] = sorted(figures, key=lambda f: f.order)
    _TRIPS[:] = list(trips)
    _METERS[:] = list(meters)


def figures(theme: str | None = None) -> list[MonthlyFigure]:
    return [f for f in _FIGURES if theme is None or f.theme == theme]


def figure(name: str) -> MonthlyFigure | None:
    return next((f for f in _FIGURES if f.name == name), None)


def trip_sources() -> list[TripSource]:
    return list(_TRIPS)


def energy_meters() -> list[EnergyMeters]:
    return list(_METERS)
