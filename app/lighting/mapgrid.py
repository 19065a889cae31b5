"""The overview map of a large fleet: lights counted per grid cell in SQL, one mark per cell.

Past ``MAX_DOTS`` lights the staff overview (``app.routes.lighting``) draws
clusters instead of one dot per light: the page carries at most
``COLUMNS × ROWS`` marks whatever the size of the fleet, each coloured by the
worst state in its cell (fault, then offline, then unknown, off, dimmed, on)
and sized by its count. States are those of the lights' rows (the offline flag
is kept up to date by the relay's sweep), counted by the database.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session

from app.models.lighting import Streetlight

MAX_DOTS = 1500
COLUMNS, ROWS = 64, 42
WORST_FIRST = ("fault", "offline", "unknown", "off", "dimmed", "on")


def state_expression() -> Any:
    """The state of a light as SQL, in the order of ``app.routes.lighting.light_state``."""
    return case(
        (Streetlight.offline.is_(True), "offline"),  # type: ignore[attr-defined]
        (Streetlight.status != "ok", "fault"),
        (Streetlight.actual_level.is_(None), "unknown"),  # type: ignore[union-attr]
        (Streetlight.actual_level == 0, "off"),
        (Streetlight.actual_level < 100, "dimmed"),  # type: ignore[operator]
        else_="on",
    )


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Streetlight)) or 0)


def clusters(
    session: Session, project: Any, bbox: tuple[float, float, float, float]
) -> dict[str, Any]:
    """Marks per grid cell ``(x, y, worst state, lights, radius)`` and the lights per state."""
    south, north, west, east = bbox
    cell_lat = (north - south) / ROWS or 1e-6
    cell_lon = (east - west) / COLUMNS or 1e-6
    state = state_expression().label("state")
    row = func.floor((Streetlight.lat - south) / cell_lat).label("row")
    col = func.floor((Streetlight.lon - west) / cell_lon).label("col")
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for r, c, st, n, lat, lon in session.execute(
        select(
            row, col, state, func.count(), func.avg(Streetlight.lat), func.avg(Streetlight.lon)
        ).group_by(row, col, state)
    ).all():
        cell = cells.setdefault((int(r), int(c)), {"n": 0, "states": {}, "lat": 0.0, "lon": 0.0})
        cell["n"] += n
        cell["states"][st] = n
        cell["lat"] += float(lat) * n
        cell["lon"] += float(lon) * n
    marks = []
    totals: dict[str, int] = {}
    for cell in cells.values():
        for st, n in cell["states"].items():
            totals[st] = totals.get(st, 0) + n
        worst = next(s for s in WORST_FIRST if s in cell["states"])
        x, y = project(cell["lat"] / cell["n"], cell["lon"] / cell["n"])
        marks.append(
            (x, y, worst, cell["n"], round(min(11.0, 2.6 + math.sqrt(cell["n"]) * 0.45), 1))
        )
    order = {s: i for i, s in enumerate(reversed(WORST_FIRST))}
    marks.sort(key=lambda m: order[m[2]])  # problems drawn last, on top
    return {"clusters": marks, "map_counts": totals, "total": sum(totals.values())}


def bounds(session: Session) -> list[tuple[float, float]]:
    """The fleet's corners (two points), for the map's projection."""
    south, north, west, east = session.execute(
        select(
            func.min(Streetlight.lat),
            func.max(Streetlight.lat),
            func.min(Streetlight.lon),
            func.max(Streetlight.lon),
        )
    ).one()
    return [(south, west), (north, east)] if south is not None else []
