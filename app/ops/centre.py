"""The operations centre over what domains contribute: layers as GeoJSON, KPIs per commune, side panels.

Called by ``app.routes.ops`` with the registry's lists; it names no domain.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.models.territory import Commune
from app.ops.contracts import Action, Kpi, Layer, Panel
from app.ops.kpicache import KpiCache


class UnknownLayer(LookupError):
    pass


def find(layers: Sequence[Layer], name: str) -> Layer:
    for layer in layers:
        if layer.name == name:
            return layer
    raise UnknownLayer(name)


def geojson(layer: Layer, session: Session, now: dt.datetime) -> bytes:
    """The layer as a GeoJSON FeatureCollection, serialised compactly."""
    if layer.dump is not None:
        return layer.dump(session, now)
    features = layer.load(session, now)
    return json.dumps(
        {"type": "FeatureCollection", "name": layer.name, "features": features},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def kpis(
    kpi_list: Sequence[Kpi],
    session: Session,
    now: dt.datetime,
    cache: KpiCache | None = None,
    territory_id: int | None = None,
) -> dict[str, Any]:
    """Every KPI per commune (of one territory when given: the request's), keyed by INSEE code,
    with the list of KPIs (name, title, unit).

    With ``cache`` (``app.ops.kpicache``), KPIs that declare ``fresh`` are computed once per change
    (per commune: the cache is the install's, each territory is shown its own communes).
    """
    query = select(col(Commune.insee), col(Commune.name), col(Commune.lat), col(Commune.lon))
    if territory_id is not None:
        query = query.where(col(Commune.territory_id) == territory_id)
    communes = session.execute(query.order_by(col(Commune.name))).all()
    values = (cache or KpiCache()).values(list(kpi_list), session, now)
    return {
        "generated_at": now.isoformat(),
        "kpis": [
            {"name": k.name, "title": _(k.title), "unit": _(k.unit) if k.unit else ""}
            for k in kpi_list
        ],
        "communes": {
            insee: {
                "name": name,
                "lat": lat,
                "lon": lon,
                "kpis": {k.name: values[k.name].get(insee) for k in kpi_list},
            }
            for insee, name, lat, lon in communes
        },
    }


def panel(
    layer: Layer,
    session: Session,
    feature_id: str,
    now: dt.datetime,
    commune_actions: Sequence[Callable[[str], Action]],
) -> Panel | None:
    if layer.panel is None:
        return None
    found = layer.panel(session, feature_id, now)
    if found is not None and found.commune:
        found.actions.extend(make(found.commune) for make in commune_actions)
    return found


def commune_panel(
    session: Session,
    insee: str,
    kpi_values: dict[str, Any],
    commune_actions: Sequence[Callable[[str], Action]],
) -> Panel | None:
    commune = session.get(Commune, insee)
    if commune is None or insee not in kpi_values["communes"]:  # (another territory's)
        return None
    entry = kpi_values["communes"].get(insee, {})
    facts = []
    for k in kpi_values["kpis"]:
        facts.append((k["title"], format_kpi(entry.get("kpis", {}).get(k["name"]), k["unit"])))
    return Panel(
        title=commune.name,
        state="commune",
        state_label=insee,
        facts=facts,
        actions=[make(insee) for make in commune_actions],
        commune=insee,
    )


def format_kpi(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict):
        return " / ".join(str(v) for v in value.values())
    if isinstance(value, float):
        value = f"{value:.1f}".replace(".", ",")
    return f"{value} {unit}".strip()
