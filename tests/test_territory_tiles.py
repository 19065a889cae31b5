"""A territory's own map tiles: the maps of its pages draw them, its pages' policy lets the browser
load them, the other territories keep the install's, and a settings file cannot give a tile
address that is not one."""

from __future__ import annotations

import copy

import pytest
from sqlmodel import Session, col, select

from app import territory_demo
from app.db import write_session
from app.models.territory import Territory
from app.territory_setup import SetupError, create

ESCH = {"host": "esch.localhost"}
LU_TILES = "https://{s}.tiles.geoportail.example.lu/osm/{z}/{x}/{y}.png"
LU_ATTRIBUTION = "© Geoportail Luxembourg, OpenStreetMap"


def _minett(engine, **extra) -> None:
    settings = copy.deepcopy(territory_demo.SETTINGS)
    settings.update(extra)
    with write_session(engine) as session:
        create(session, settings, territory_demo.COMMUNES)


def _img_src(response) -> str:
    policy = response.headers["content-security-policy"]
    return next(p for p in policy.split("; ") if p.startswith("img-src"))


def test_a_territorys_own_tiles_are_drawn_on_its_maps_and_allowed_by_its_policy(
    engine, client, settings
):
    _minett(engine, tile_url=LU_TILES, tile_attribution=LU_ATTRIBUTION)
    theirs = client.get("/reports", headers=ESCH)
    assert theirs.status_code == 200
    assert f'data-tile-url="{LU_TILES}"' in theirs.text
    assert "© Geoportail Luxembourg" in theirs.text
    assert "https://*.tiles.geoportail.example.lu" in _img_src(theirs)
    assert "tile.openstreetmap.org" not in _img_src(theirs)
    # The first territory keeps the install's tiles, and its policy does not open the other's.
    mine = client.get("/reports")
    assert f'data-tile-url="{settings.tile_url}"' in mine.text
    assert "geoportail" not in mine.text and "geoportail" not in _img_src(mine)
    assert "https://tile.openstreetmap.org" in _img_src(mine)


def test_without_tiles_of_its_own_a_territory_draws_the_installs(engine, client, settings):
    _minett(engine)
    page = client.get("/reports", headers=ESCH)
    assert f'data-tile-url="{settings.tile_url}"' in page.text
    assert "https://tile.openstreetmap.org" in _img_src(page)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"tile_url": "http://tiles.example.lu/{z}/{x}/{y}.png", "tile_attribution": "x"}, "https"),
        ({"tile_url": "https://tiles.example.lu/{z}/{x}.png", "tile_attribution": "x"}, "{y}"),
        (
            {
                "tile_url": 'https://tiles.example.lu/{z}/{x}/{y}.png"><script>',
                "tile_attribution": "x",
            },
            "https",
        ),
        ({"tile_url": "https://tiles.example.lu/{z}/{x}/{y}.png"}, "tile_attribution"),
        ({"tile_url": "javascript:alert(1)//{z}{x}{y}", "tile_attribution": "x"}, "https"),
    ],
)
def test_a_tile_address_that_is_not_one_is_refused_and_nothing_is_written(engine, extra, message):
    with pytest.raises(SetupError, match=message), write_session(engine) as session:
        _settings = copy.deepcopy(territory_demo.SETTINGS)
        _settings.update(extra)
        create(session, _settings, territory_demo.COMMUNES)
    with Session(engine) as session:
        assert not session.scalars(select(Territory).where(col(Territory.slug) == "minett")).all()
