"""The lighting overview map of a large fleet sends one mark per grid cell, not one dot per light."""

from __future__ import annotations

import re

from sqlalchemy import update

from app.db import write_session
from app.lighting import mapgrid
from app.models.lighting import Streetlight
from tests.lighting_helpers import seed_lights


def test_a_fleet_past_the_dot_limit_is_drawn_as_counted_clusters_with_its_faults_on_top(
    engine, staff
):
    lights = seed_lights(engine, mapgrid.MAX_DOTS + 300)
    with write_session(engine) as session:
        session.execute(update(Streetlight).values(actual_level=100))
        session.execute(
            update(Streetlight).where(Streetlight.id.in_(lights[:7])).values(status="defectiveLamp")
        )  # type: ignore[attr-defined]
        session.execute(
            update(Streetlight).where(Streetlight.id.in_(lights[-3:])).values(offline=True)
        )  # type: ignore[attr-defined]

    page = staff.client.get("/staff/lighting")

    assert page.status_code == 200
    marks = re.findall(r'<circle class="dot dot-(\w+) dot-cluster"', page.text)
    assert 0 < len(marks) <= mapgrid.COLUMNS * mapgrid.ROWS and len(marks) < len(lights) / 10
    assert "/staff/lighting/lights/" + lights[100] not in page.text  # no per-light dot
    assert marks[-1] in ("fault", "offline") and {"fault", "offline"} <= set(
        marks
    )  # problems drawn last
    legend = dict(
        re.findall(
            r'swatch dot-(\w+)" aria-hidden="true"></span>[^<]*<strong>(\d+)</strong>', page.text
        )
    )
    assert (
        legend["fault"] == "7"
        and legend["offline"] == "3"
        and legend["on"] == str(len(lights) - 10)
    )
    titles = re.findall(r"<title>(\d+) points? lumineux", page.text)
    assert sum(int(n) for n in titles) == len(lights)  # every light counted once


def test_a_small_fleet_keeps_one_dot_per_light(engine, staff):
    lights = seed_lights(engine, 12)
    page = staff.client.get("/staff/lighting")
    assert page.status_code == 200
    assert all(f"/staff/lighting/lights/{light}" in page.text for light in lights)
    assert "dot-cluster" not in page.text
