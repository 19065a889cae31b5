"""What pages show reads well: spaces around "·" and numbers written for the reader's locale."""

from __future__ import annotations

import html
import re

import pytest

PAGES = [
    "/",
    "/reports",
    "/carpool",
    "/sharing",
    "/shops",
    "/alerts",
    "/waste-centre",
    "/traffic",
    "/reports/1",
    "/reports/2",
    "/carpool/ads/1",
    "/carpool/ads/2",
    "/sharing/items/1",
    "/sharing/items/2",
]


def visible_text(page: str) -> str:
    page = re.sub(r"(?s)<(script|style|head)\b.*?</\1>", " ", page)
    page = re.sub(r"<[^>]+>", "", page)
    return re.sub(r"\s+", " ", html.unescape(page))


@pytest.fixture
def demo(engine, settings):
    from app import domains
    from app.demo import load_all

    load_all(engine, domains.demo_loaders())


def test_every_middle_dot_has_a_space_on_each_side(demo, resident, client):
    for who in (client, resident.client):
        shops = re.findall(r'href="(/shops/[a-z0-9-]+)"', who.get("/shops").text)[:3]
        for path in (
            PAGES
            + shops
            + ["/me", "/reports/mine", "/carpool/mine", "/sharing/mine", "/shops/orders"]
        ):
            r = who.get(path)
            if r.status_code != 200:
                continue
            text = visible_text(r.text)
            glued = re.findall(r".{0,20}(?:\S·|·\S).{0,20}", text)
            assert not glued, (path, glued[:5])


def test_numbers_and_distances_are_written_for_the_readers_locale(app):
    from app import i18n
    from app.templating import format_km, format_number

    token = i18n.current_locale.set("fr")
    try:
        assert (
            format_km(1234) == "1,2\u202fkm"
            and format_number(3.2, 2) == "3,20"
            and format_number(12500) == "12\u202f500"
        )
    finally:
        i18n.current_locale.reset(token)
    token = i18n.current_locale.set("en")
    try:
        assert format_km(1234).replace("\xa0", " ") == "1.2 km" and format_number(3.2, 2) == "3.20"
    finally:
        i18n.current_locale.reset(token)
    html = app.state.jinja.from_string("{{ 1234|km }} · {{ 3.2|num(1) }} W").render()
    assert html == "1,2\u202fkm · 3,2 W"
