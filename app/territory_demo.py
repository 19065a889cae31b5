"""The demo's second territory, across the border: three communes of southern Luxembourg.

Esch-sur-Alzette, Kayl and Rumelange (the "Minett"), by the LAU codes the insights
localities already use (LU0204, LU0206, LU0212). Their outlines are approximate: a few
points drawn around each town from its centre and its neighbours, not the surveyed limits
(marked ``approximate`` and stored so). The territory answers on ``esch.localhost``, so
the cross-border case is always there to try: ``http://esch.localhost:8000/``.
"""

from __future__ import annotations

import random
from typing import Any

from sqlmodel import Session, col, select

from app.models.territory import Territory
from app.territory_setup import create

SETTINGS: dict[str, Any] = {
    "slug": "minett",
    "name": "Minett : Esch-sur-Alzette, Kayl et Rumelange",
    "short_name": "Minett",
    "publisher": "Communes d’Esch-sur-Alzette, de Kayl et de Rumelange (territoire de démonstration)",
    "hosts": ["esch.localhost"],
    "timezone": "Europe/Luxembourg",
    "languages": ["fr", "de", "lb", "en"],
    "colours": {"primary": "#1d4f91", "accent": "#e4002b"},
    "contact_email": "contact@minett.example",
    "mail_sender": "Eclor Minett <no-reply@minett.example>",
    "opendata_publisher": "Communes d’Esch-sur-Alzette, de Kayl et de Rumelange",
    # Each commune handles the reports made on it; Esch's cleanliness service, inside the town,
    # the household waste and bulky items there (app.bodies).
    "bodies": [
        {"name": "Ville d’Esch-sur-Alzette", "communes": ["LU0204"]},
        {
            "name": "Service Hygiène de la Ville d’Esch-sur-Alzette",
            "parent": "Ville d’Esch-sur-Alzette",
            "categories": ["household_waste", "bulky_items"],
            "contact_email": "hygiene@minett.example",
        },
        {"name": "Commune de Kayl", "communes": ["LU0206"]},
        {"name": "Commune de Rumelange", "communes": ["LU0212"]},
    ],
}


def _commune(code: str, name: str, ring: list[tuple[float, float]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "country": "LU", "approximate": True},
        "geometry": {"type": "Polygon", "coordinates": [[[lon, lat] for lon, lat in ring]]},
    }


# [lon, lat] points, closed; Esch to the west of Kayl, Rumelange to the south of Kayl, on the
# French border (Audun-le-Tiche and Ottange).
COMMUNES: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        _commune(
            "LU0204",
            "Esch-sur-Alzette",
            [
                (5.935, 49.480),
                (5.960, 49.468),
                (5.995, 49.470),
                (6.015, 49.478),
                (6.022, 49.500),
                (6.010, 49.525),
                (5.975, 49.530),
                (5.945, 49.515),
                (5.935, 49.480),
            ],
        ),
        _commune(
            "LU0206",
            "Kayl",
            [
                (6.022, 49.500),
                (6.015, 49.478),
                (6.030, 49.474),
                (6.060, 49.476),
                (6.075, 49.490),
                (6.070, 49.510),
                (6.040, 49.515),
                (6.022, 49.500),
            ],
        ),
        _commune(
            "LU0212",
            "Rumelange",
            [
                (6.015, 49.478),
                (6.012, 49.460),
                (6.025, 49.450),
                (6.045, 49.452),
                (6.050, 49.465),
                (6.030, 49.474),
                (6.015, 49.478),
            ],
        ),
    ],
}


def load_demo(session: Session, rng: random.Random) -> str | None:
    """The second territory and its communes, once."""
    if session.scalars(select(Territory).where(col(Territory.slug) == SETTINGS["slug"])).first():
        return None
    create(session, SETTINGS, COMMUNES)
    return "territory: Minett (Esch-sur-Alzette, Kayl, Rumelange) on esch.localhost"
