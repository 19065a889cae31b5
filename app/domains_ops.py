"""The domains that contribute to the operations centre, read explicitly (no import side effects).

Each module listed exposes ``OPS_LAYERS``, ``OPS_KPIS`` and optionally ``OPS_COMMUNE_ACTIONS``
(see ``app.ops.contracts``). A new domain appears on the map and in the KPIs by being listed here.
"""

from __future__ import annotations

from app.alerts import ops as alerts_ops
from app.carpool import ops as carpool_ops
from app.lighting import ops as lighting_ops
from app.reports import ops as reports_ops
from app.sensors import ops as sensors_ops
from app.ops.contracts import Kpi, Layer

CONTRIBUTORS = [reports_ops, lighting_ops, sensors_ops, alerts_ops, carpool_ops]

LAYERS: list[Layer] = sorted((layer for m in CONTRIBUTORS for layer in m.OPS_LAYERS), key=lambda l: l.order)
KPIS: list[Kpi] = sorted((kpi for m in CONTRIBUTORS for kpi in m.OPS_KPIS), key=lambda k: k.order)
COMMUNE_ACTIONS = [action for m in CONTRIBUTORS for action in getattr(m, "OPS_COMMUNE_ACTIONS", [])]
