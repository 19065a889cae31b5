"""Maps of participation per commune: each commune's outline shaded by its count, drawn as SVG on
the server (no tiles, no script: readable offline and printed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.geo import parse_ring, svg_paths
from app.models.territory import Commune

STEPS = 5  # shades, from none to the highest count


@dataclass(frozen=True)
class Area:
    insee: str
    name: str
    path: str
    label_x: float
    label_y: float
    count: int
    step: int  # 0: nobody; 1..STEPS-1 by share of the highest count


@dataclass(frozen=True)
class CommuneMap:
    width: float
    height: float
    areas: list[Area]
    top: int


def commune_map(session: Session, counts: Mapping[str, int], width: float = 400.0) -> CommuneMap:
    """The communes that have an outline, shaded by ``counts`` (INSEE code → count)."""
    communes = session.scalars(
        select(Commune).where(col(Commune.outline).is_not(None)).order_by(col(Commune.name))
    ).all()
    shapes = {c.insee: parse_ring(c.outline or "") for c in communes}
    height, paths, labels = svg_paths(shapes, width)
    top = max(counts.values(), default=0)
    areas = []
    for c in communes:
        if c.insee not in paths:
            continue
        n = counts.get(c.insee, 0)
        step = 0 if n <= 0 or top <= 0 else max(1, min(STEPS - 1, -(-n * (STEPS - 1) // top)))
        x, y = labels[c.insee]
        areas.append(Area(c.insee, c.name, paths[c.insee], x, y, n, step))
    return CommuneMap(width, height, areas, top)
