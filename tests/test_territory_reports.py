"""Reports per territory: a place reaches the commune (and territory) responsible for it."""

from __future__ import annotations

import json

from sqlmodel import Session

from app import geo, territory_demo
from app.db import write_session
from app.models.territory import Commune
from app.reports import catalogue
from app.territory_setup import create

# Inside Esch-sur-Alzette's outline (territory "Minett"), yet nearer the centre of Rédange (France).
BORDER = (49.5105, 5.946)
AUDUN = (49.4720, 5.9550)  # Audun-le-Tiche, the first territory


def add_minett(engine) -> int:
    with write_session(engine) as session:
        territory = create(session, territory_demo.SETTINGS, territory_demo.COMMUNES)
        assert territory.id is not None
        return territory.id


# --------------------------------------------------------------------------- the commune of a place


def test_a_place_inside_an_outline_reaches_that_commune_not_the_nearest_centre(engine):
    add_minett(engine)
    with Session(engine) as session:
        redange, esch = session.get(Commune, "57565"), session.get(Commune, "L0204")
        assert redange is not None and esch is not None
        # The border point is nearer Rédange's centre, but inside Esch's outline only.
        assert geo.distance_m(*BORDER, redange.lat, redange.lon) < geo.distance_m(
            *BORDER, esch.lat, esch.lon
        )
        at = catalogue.commune_at(session, *BORDER)
        assert at is not None and at.insee == "L0204"
        audun = catalogue.commune_at(session, *AUDUN)
        assert audun is not None and audun.insee == "57038"
        # Outside every outline: the nearest centre within the radius, else none.
        assert catalogue.commune_at(session, 49.0, 5.0) is None


def test_without_the_second_territory_the_same_place_falls_back_on_the_nearest_centre(engine):
    with Session(engine) as session:
        at = catalogue.commune_at(session, *BORDER)
        assert at is not None and at.insee == "57565"


def test_outlines_are_read_as_cap_text_or_geojson_polygon_and_multipolygon():
    square = [[5.0, 49.0], [5.1, 49.0], [5.1, 49.1], [5.0, 49.1], [5.0, 49.0]]
    far = [[[6.0, 50.0], [6.1, 50.0], [6.1, 50.1], [6.0, 50.0]]]
    polygon = json.dumps({"type": "Polygon", "coordinates": [square]})
    multi = json.dumps({"type": "MultiPolygon", "coordinates": [far, [square]]})
    assert catalogue.outline_rings(polygon)[0][1] == (49.0, 5.1)
    assert len(catalogue.outline_rings(multi)) == 2
    assert catalogue.outline_rings("49.0,5.0 49.0,5.1 49.1,5.1 49.0,5.0")[0][1] == (49.0, 5.1)
    for unreadable in (None, "", "{", '{"type": "Point", "coordinates": [5, 49]}', "[1]"):
        assert catalogue.outline_rings(unreadable) == []


def test_the_list_filter_takes_luxembourg_commune_keys_and_nothing_else():
    parse = catalogue.Filters.parse
    assert parse({"commune": "L0204"}, staff=False).commune == "L0204"
    assert parse({"commune": "2A004"}, staff=False).commune == "2A004"
    assert parse({"commune": "57038"}, staff=False).commune == "57038"
    for bad in ("L02045", "l0204", "LU0204", "5703", "'; --"):
        assert parse({"commune": bad}, staff=False).commune is None
