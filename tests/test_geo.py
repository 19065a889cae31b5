"""One geo module for every domain: great-circle distances and point in polygon."""

from __future__ import annotations

import math

import pytest

from app import geo

SQUARE = [(49.0, 5.0), (49.0, 6.0), (50.0, 6.0), (50.0, 5.0)]
# A "U" open to the north: its notch (49.5..50, 5.4..5.6) is outside.
U_SHAPE = [
    (49.0, 5.0),
    (49.0, 6.0),
    (50.0, 6.0),
    (50.0, 5.6),
    (49.5, 5.6),
    (49.5, 5.4),
    (50.0, 5.4),
    (50.0, 5.0),
]


def test_a_distance_is_zero_to_itself_symmetric_and_a_degree_of_latitude_is_about_111_km():
    assert geo.distance_m(49.47, 5.98, 49.47, 5.98) == 0
    a = geo.distance_m(49.472, 5.955, 49.611, 6.130)  # Audun-le-Tiche -> Luxembourg city
    assert a == pytest.approx(geo.distance_m(49.611, 6.130, 49.472, 5.955))
    assert 19_000 < a < 21_000
    assert geo.distance_m(49.0, 6.0, 50.0, 6.0) == pytest.approx(math.pi * geo.EARTH_RADIUS_M / 180)


def test_nearly_antipodal_points_do_not_break_the_arcsine():
    # Without the clamp, rounding makes the haversine term 1.0000000000000002 here and asin fails.
    lat1, lat2, dl = math.radians(0.74), math.radians(-0.74), math.radians(180.0)
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dl / 2) ** 2
    assert h > 1.0
    assert geo.distance_m(0.74, 0.0, -0.74, 180.0) == pytest.approx(math.pi * geo.EARTH_RADIUS_M)


def test_a_point_is_inside_outside_or_on_the_edge_of_a_polygon():
    assert geo.point_in_polygon(49.5, 5.5, SQUARE)
    assert not geo.point_in_polygon(48.9, 5.5, SQUARE)
    assert not geo.point_in_polygon(49.5, 6.1, SQUARE)
    assert geo.point_in_polygon(49.0, 5.5, SQUARE)  # on an edge
    assert geo.point_in_polygon(50.0, 6.0, SQUARE)  # on a vertex
    assert geo.point_in_polygon(49.5, 5.5, [*SQUARE, SQUARE[0]])  # a closed ring works the same


def test_a_concave_polygon_leaves_its_notch_outside():
    assert not geo.point_in_polygon(49.8, 5.5, U_SHAPE)
    assert geo.point_in_polygon(49.8, 5.2, U_SHAPE)
    assert geo.point_in_polygon(49.8, 5.8, U_SHAPE)
    assert geo.point_in_polygon(49.2, 5.5, U_SHAPE)


def test_a_bounding_box_holds_the_circle():
    lat0, lat1, lon0, lon1 = geo.bbox(49.5, 6.0, 10_000)
    for bearing in range(0, 360, 15):
        # a point 9.99 km away in every direction lies within the box
        d = 9_990 / geo.EARTH_RADIUS_M
        lat = math.degrees(math.radians(49.5) + d * math.cos(math.radians(bearing)))
        lon = 6.0 + math.degrees(d * math.sin(math.radians(bearing)) / math.cos(math.radians(49.5)))
        assert lat0 <= lat <= lat1 and lon0 <= lon <= lon1


def test_no_other_module_computes_its_own_haversine_or_ray_casting():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = [
        str(p.relative_to(root))
        for folder in ("app", "workers")
        for p in (root / folder).rglob("*.py")
        if p.name != "geo.py"
        and ("math.asin(" in p.read_text() or "inside = not inside" in p.read_text())
    ]
    assert offenders == []
