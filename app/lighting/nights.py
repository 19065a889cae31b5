"""A program over real nights: sun events at the position, the level at an instant, the schedule of level changes and the next change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from astral import sun as astral_sun

from app.lighting.calendars import ProgramSource, program_on
from app.lighting.programs import (
    EPSILON,
    NOON,
    UTC,
    Position,
    Program,
    Step,
    SunEvent,
    local_to_utc,
    night_of,
    require_aware,
)

# --------------------------------------------------------------------------- nights


@lru_cache(maxsize=16384)
def _sun_utc(
    position: Position, day: dt.date, event: SunEvent, twilight_deg: float
) -> dt.datetime | None:
    """The event on the local date ``day`` in UTC, or None when it does not happen."""
    observer = position.observer
    tz = position.tz
    try:
        if event is SunEvent.SUNSET:
            moment = astral_sun.sunset(observer, day, tzinfo=tz)
        elif event is SunEvent.SUNRISE:
            moment = astral_sun.sunrise(observer, day, tzinfo=tz)
        elif event is SunEvent.DUSK:
            moment = astral_sun.dusk(observer, day, depression=twilight_deg, tzinfo=tz)
        else:
            moment = astral_sun.dawn(observer, day, depression=twilight_deg, tzinfo=tz)
    except ValueError:
        return None
    return moment.astimezone(UTC)


def sun_utc(
    position: Position, day: dt.date, event: SunEvent, twilight_deg: float
) -> dt.datetime | None:
    """A sun event on the local date ``day`` in UTC, or None when it does not happen that day."""
    return _sun_utc(position, day, event, twilight_deg)


def _sun_is_up(position: Position, moment: dt.datetime) -> bool:
    return astral_sun.elevation(position.observer, moment) > -0.833


@dataclass(frozen=True)
class _Night:
    """One night of one program, resolved to instants (UTC)."""

    start: dt.datetime  # noon of the day
    end: dt.datetime  # noon of the next day
    dark_from: dt.datetime
    dark_until: dt.datetime
    times: tuple[dt.datetime, ...]  # effective start of each present step, non-decreasing
    levels: tuple[int, ...]

    def step_level(self, moment: dt.datetime, carry: int) -> int:
        level = carry
        for time, step_level in zip(self.times, self.levels, strict=True):
            if time > moment:
                break
            level = step_level
        return level

    def is_dark(self, moment: dt.datetime) -> bool:
        return self.dark_from <= moment < self.dark_until


@lru_cache(maxsize=8192)
def _night(program: Program, day: dt.date, position: Position) -> _Night:
    tz = position.tz
    next_day = day + dt.timedelta(days=1)
    start = local_to_utc(day, NOON, tz)
    end = local_to_utc(next_day, NOON, tz)

    # Resolve every step; sun-anchored ones are the fixed points, kept in list order.
    resolved: list[tuple[Step, dt.datetime]] = []
    for step in program.steps:
        if step.time is not None:
            on = day if step.time >= NOON else next_day
            resolved.append((step, local_to_utc(on, step.time, tz)))
            continue
        assert step.event is not None
        on = day if step.event.is_evening else next_day
        moment = _sun_utc(position, on, step.event, program.twilight_deg)
        if moment is not None:
            resolved.append((step, moment + dt.timedelta(minutes=step.offset_min)))

    anchors: list[dt.datetime | None] = []
    latest: dt.datetime | None = None
    for step, moment in resolved:
        if step.is_sun_anchored:
            latest = moment if latest is None else max(latest, moment)
            anchors.append(latest)
        else:
            anchors.append(None)

    times: list[dt.datetime] = []
    for index, (step, moment) in enumerate(resolved):
        effective = anchors[index]
        if effective is None:
            low = next((a for a in reversed(anchors[:index]) if a is not None), None)
            high = next((a for a in anchors[index + 1 :] if a is not None), None)
            effective = moment
            if low is not None and effective < low:
                effective = low
            if high is not None and effective > high:
                effective = high
        times.append(min(max(effective, start), end))

    # The dark hours: sunset to sunrise, unless sun-anchored steps say otherwise.
    sunset = _sun_utc(position, day, SunEvent.SUNSET, program.twilight_deg)
    sunrise = _sun_utc(position, next_day, SunEvent.SUNRISE, program.twilight_deg)
    if sunset is None:
        dark_from = start if not _sun_is_up(position, start) else end
    else:
        dark_from = sunset
    if sunrise is None:
        dark_until = end
    else:
        dark_until = sunrise
    for (step, _moment), time in zip(resolved, times, strict=True):
        if step.event is None:
            continue
        if step.event.is_evening and step.level > 0 and time < dark_from:
            dark_from = time
        if not step.event.is_evening and step.level == 0 and time > dark_until:
            dark_until = time
    dark_from = min(max(dark_from, start), end)
    dark_until = min(max(dark_until, dark_from), end)
    return _Night(
        start=start,
        end=end,
        dark_from=dark_from,
        dark_until=dark_until,
        times=tuple(times),
        levels=tuple(step.level for step, _ in resolved),
    )


def _carry(program: Program, day: dt.date, position: Position) -> int:
    """The level in force when the night of ``day`` begins: the program's last step."""
    previous = _night(program, day - dt.timedelta(days=1), position)
    return previous.levels[-1] if previous.levels else 0


def level_in_night(
    program: Program,
    day: dt.date,
    position: Position,
    moment: dt.datetime,
    presence_until: dt.datetime | None,
) -> int:
    night = _night(program, day, position)
    if not night.is_dark(moment):
        return 0
    level = night.step_level(moment, _carry(program, day, position))
    if program.boost_level is not None and presence_until is not None and moment < presence_until:
        level = max(level, program.boost_level)
    return level


def level_at(
    program: ProgramSource,
    when: dt.datetime,
    position: Position,
    presence_until: dt.datetime | None = None,
) -> int:
    """The level (0..100) the program asks for at ``when``.

    ``program`` may be a :class:`Calendar`, which picks the night's program.
    ``presence_until`` is when the latest presence boost ends (see
    :meth:`Program.boost_until`); it only matters for programs with a boost.
    """
    require_aware(when, "when")
    if presence_until is not None:
        require_aware(presence_until, "presence_until")
        presence_until = presence_until.astimezone(UTC)
    day = night_of(when, position)
    return level_in_night(
        program_on(program, day), day, position, when.astimezone(UTC), presence_until
    )


def points_utc(program: Program, day: dt.date, position: Position) -> list[tuple[dt.datetime, int]]:
    """Every instant where the level may change in the night of ``day`` (UTC), with its level.

    The first point is the night's start (noon), so the list fully describes
    the level from noon to the next noon.
    """
    night = _night(program, day, position)
    candidates = sorted({night.start, night.dark_from, night.dark_until, *night.times})
    return [
        (moment, level_in_night(program, day, position, moment, None))
        for moment in candidates
        if moment < night.end
    ]


def _changes_utc(
    program: Program, day: dt.date, position: Position
) -> list[tuple[dt.datetime, int]]:
    """Level changes within the night of ``day`` (UTC), relative to the level just before it."""
    night = _night(program, day, position)
    before = level_in_night(
        program, day - dt.timedelta(days=1), position, night.start - EPSILON, None
    )
    changes: list[tuple[dt.datetime, int]] = []
    for moment, level in points_utc(program, day, position):
        if level != before:
            changes.append((moment, level))
            before = level
    return changes


def schedule(
    program: ProgramSource, day: dt.date, position: Position
) -> list[tuple[dt.datetime, int]]:
    """The level changes over the night that starts on the evening of ``day``.

    Each item is (local time, new level), in order, between noon on ``day`` and
    noon the next day. A change is listed when the level differs from the level
    just before it, so a night that starts and ends off lists its switch-on
    first and its switch-off last. Presence boosts are not part of a schedule.
    """
    tz = position.tz
    return [
        (moment.astimezone(tz), level)
        for moment, level in _changes_utc(program_on(program, day), day, position)
    ]


def next_change(
    program: ProgramSource, when: dt.datetime, position: Position
) -> tuple[dt.datetime, int] | None:
    """The first programmed change strictly after ``when`` (local time, level), within two nights."""
    require_aware(when, "when")
    moment = when.astimezone(UTC)
    day = night_of(when, position)
    for offset in range(3):
        current = day + dt.timedelta(days=offset)
        for change, level in _changes_utc(program_on(program, current), current, position):
            if change > moment:
                return change.astimezone(position.tz), level
    return None
