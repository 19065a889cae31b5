"""The European Air Quality Index, shared by the live views, NGSI-LD and the operations centre."""

from __future__ import annotations

from typing import Any


def air_quality_index(values: dict[str, Any]) -> tuple[int, str] | None:
    """European Air Quality Index band (1 good … 6 extremely poor) from NO2, PM10, PM2.5, O3 (µg/m³)."""
    bands = {
        "pm25": (10, 20, 25, 50, 75),
        "pm10": (20, 40, 50, 100, 150),
        "no2": (40, 90, 120, 230, 340),
        "o3": (50, 100, 130, 240, 380),
    }
    worst = 0
    for name, limits in bands.items():
        value = values.get(name)
        if not isinstance(value, int | float):
            continue
        band = next((i for i, limit in enumerate(limits) if value <= limit), len(limits))
        worst = max(worst, band + 1)
    if worst == 0:
        return None
    labels = ("good", "fair", "moderate", "poor", "veryPoor", "extremelyPoor")
    return worst, labels[worst - 1]
