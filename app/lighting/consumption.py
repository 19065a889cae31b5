"""Energy of a light: power at a level, energy over a period or a year under a program, savings against the usual baselines.

Energy model
------------
``P = nominal × (floor + (1 − floor) × level / 100)`` when ``level > 0`` and
``P = standby`` when ``level = 0``: an LED driver does not dim to zero power (it
draws roughly ``floor`` = 10 % of nominal at the lowest dimming level) and the
control node draws ~0.5–1 W when the lamp is off. With ``floor = 0`` and
``standby = 0`` this is REFERENCE's ``E = Σ P × level × Δt``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Final, Literal

from app.lighting.calendars import ProgramSource, program_on
from app.lighting.nights import level_in_night, points_utc
from app.lighting.programs import (
    N_,
    UTC,
    LightingError,
    Position,
    Program,
    check_level,
    night_of,
    require_aware,
)

# --------------------------------------------------------------------------- energy


def power_w(
    nominal_w: float, level: int, driver_floor: float = 0.10, standby_w: float = 0.7
) -> float:
    """Electrical power (W) of a lamp at ``level``; the model is in the module docstring.

    ``nominal_w`` is the power at 100 % (ballast included for discharge lamps).
    """
    if nominal_w < 0:
        raise ValueError("nominal_w must be >= 0")
    if not 0.0 <= driver_floor < 1.0:
        raise ValueError("driver_floor must be in [0, 1)")
    if standby_w < 0:
        raise ValueError("standby_w must be >= 0")
    check_level(level, "level", LightingError)
    if level == 0:
        return standby_w
    return nominal_w * (driver_floor + (1.0 - driver_floor) * level / 100.0)


def energy_kwh(
    samples: Iterable[tuple[dt.datetime, float]],
    method: Literal["trapezoid", "step"] = "trapezoid",
    max_gap_s: float | None = None,
) -> float:
    """Energy (kWh) from power samples (timestamp, W).

    ``trapezoid`` interpolates linearly between samples (power readings);
    ``step`` holds each value until the next sample (level changes, commands).
    Samples are sorted by time; an interval longer than ``max_gap_s`` (a device
    that stopped reporting) is left out rather than guessed.
    """
    ordered = sorted(samples, key=lambda item: item[0])
    for moment, _power in ordered:
        require_aware(moment, "sample timestamp")
    total_wh = 0.0
    for (t0, p0), (t1, p1) in pairwise(ordered):
        seconds = (t1.astimezone(UTC) - t0.astimezone(UTC)).total_seconds()
        if seconds <= 0 or (max_gap_s is not None and seconds > max_gap_s):
            continue
        mean = (p0 + p1) / 2.0 if method == "trapezoid" else p0
        total_wh += mean * seconds / 3600.0
    return total_wh / 1000.0


def energy_between_kwh(
    program: ProgramSource,
    nominal_w: float,
    position: Position,
    start: dt.datetime,
    end: dt.datetime,
    *,
    driver_floor: float = 0.10,
    standby_w: float = 0.7,
) -> float:
    """Energy (kWh) of one lamp following ``program`` from ``start`` to ``end``.

    Integrated exactly between level changes (no per-minute sampling), so a
    year takes a few milliseconds. Presence boosts are not simulated.
    """
    require_aware(start, "start")
    require_aware(end, "end")
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if hi <= lo:
        return 0.0
    first = night_of(start, position)
    last = night_of(end, position)
    level = level_in_night(program_on(program, first), first, position, lo, None)
    cursor = lo
    watts = {lvl: power_w(nominal_w, lvl, driver_floor, standby_w) for lvl in range(101)}
    total_wh = 0.0
    day = first
    while day <= last:
        for moment, new_level in points_utc(program_on(program, day), day, position):
            if moment <= cursor:
                continue
            if moment >= hi:
                break
            total_wh += watts[level] * (moment - cursor).total_seconds() / 3600.0
            cursor, level = moment, new_level
        day += dt.timedelta(days=1)
    total_wh += watts[level] * (hi - cursor).total_seconds() / 3600.0
    return total_wh / 1000.0


def yearly_energy_kwh(
    program: ProgramSource,
    nominal_w: float,
    position: Position,
    year: int,
    *,
    driver_floor: float = 0.10,
    standby_w: float = 0.7,
) -> float:
    """Energy (kWh) of one lamp over the calendar ``year`` (local time)."""
    tz = position.tz
    start = dt.datetime(year, 1, 1, tzinfo=tz)
    end = dt.datetime(year + 1, 1, 1, tzinfo=tz)
    return energy_between_kwh(
        program, nominal_w, position, start, end, driver_floor=driver_floor, standby_w=standby_w
    )


def savings(actual_kwh: float, baseline_kwh: float) -> float:
    """Fraction saved against a baseline: 0.73 means 73 % less (negative: more)."""
    if baseline_kwh <= 0:
        raise ValueError("baseline_kwh must be > 0")
    return 1.0 - actual_kwh / baseline_kwh


@dataclass(frozen=True)
class Baseline:
    """A reference lamp and program the savings page compares against.

    ``label`` and ``description`` are French source strings: pass them through
    ``app.i18n.gettext`` when rendering. ``reference_kwh`` is REFERENCE's
    published figure for Lorraine; :meth:`yearly_kwh` recomputes it for a
    position and year with the same model (power proportional to level, no
    driver floor, no standby), so the page can show both.
    """

    key: str
    label: str
    description: str
    nominal_w: float
    program: Program
    reference_kwh: float
    driver_floor: float = 0.0
    standby_w: float = 0.0

    def yearly_kwh(self, position: Position, year: int) -> float:
        """The baseline's energy for one lamp at ``position`` over ``year``."""
        return yearly_energy_kwh(
            self.program,
            self.nominal_w,
            position,
            year,
            driver_floor=self.driver_floor,
            standby_w=self.standby_w,
        )


_ALL_NIGHT = Program.from_pairs([("dusk", 100), ("dawn", 0)], name="Toute la nuit")
_DIMMED_22_06 = Program.from_pairs(
    [("dusk", 100), ("22:00", 50), ("06:00", 100), ("dawn", 0)],
    name="Abaissement à 50 % de 22 h à 6 h",
)

BASELINES: Final[Mapping[str, Baseline]] = {
    baseline.key: baseline
    for baseline in (
        Baseline(
            key="hps_150_all_night",
            label=N_("Sodium haute pression 150 W, toute la nuit"),
            description=N_(
                "Ancienne lanterne au sodium haute pression de 150 W (170 W avec son "
                "ballast), allumée à pleine puissance du crépuscule à l'aube (soleil à "
                "3° sous l'horizon), sans abaissement : environ 699 kWh par an et par "
                "point lumineux en Lorraine."
            ),
            nominal_w=170.0,
            program=_ALL_NIGHT,
            reference_kwh=699.0,
        ),
        Baseline(
            key="led_70_all_night",
            label=N_("LED 70 W, toute la nuit"),
            description=N_(
                "Lanterne LED de 70 W allumée à pleine puissance du crépuscule à l'aube "
                "(soleil à 3° sous l'horizon), sans abaissement : environ 288 kWh par an."
            ),
            nominal_w=70.0,
            program=_ALL_NIGHT,
            reference_kwh=288.0,
        ),
        Baseline(
            key="led_70_dimmed_50",
            label=N_("LED 70 W, abaissée à 50 % de 22 h à 6 h"),
            description=N_(
                "Lanterne LED de 70 W allumée du crépuscule à l'aube, abaissée à 50 % "
                "entre 22 h et 6 h : environ 187 kWh par an (puissance proportionnelle "
                "au niveau, sans plancher du driver ni veille)."
            ),
            nominal_w=70.0,
            program=_DIMMED_22_06,
            reference_kwh=187.0,
        ),
    )
}
