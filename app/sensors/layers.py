"""Which operations-centre layer shows a sensor: the waste centre and the border crossings have layers
of their own; the other sensors (air quality, fill levels…) are on the "sensors" layer. Events about a
sensor name its layer, so the map updates the right one."""

from __future__ import annotations

OWN_LAYERS = {"waste_centre": "waste_centre", "traffic": "crossings"}
FEATURE_KINDS = {"waste_centre": "waste_centre", "traffic": "border_crossing"}


def layer_of(kind: str) -> str:
    """The layer that shows a sensor of ``kind``."""
    return OWN_LAYERS.get(kind, "sensors")
