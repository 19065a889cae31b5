"""The lighting overview and the alarms page show a page at a time: their cost follows what they show.

Each page's rows are compared with the naive computation (every group, or every alarm, read and
sorted in Python, the lights counted one by one): walking the pages gives exactly that list, once.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.db import read_session, utcnow, write_session
from app.models.lighting import LightAlarm, LightGroup, Streetlight
from app.routes.lighting import GROUPS_PAGE
from app.routes.lighting_alarms import PAGE_SIZE
from tests.lighting_helpers import seed_lights

GROUP_ROW = re.compile(
    r'<th scope="row"><a href="/staff/lighting/groups/([^"]+)">.*?</th>\s*<td[^>]*>[^<]*</td>\s*'
    r'<td data-label="[^"]*" class="num">(\d+)</td>',
    re.S,
)


def _pages(client, first: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every page from ``first``, following the « next » links."""
    pages, url = [], first
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, url
        pages.append(answer.text)
        found = re.search(r'<a class="btn" href="([^"]+)" rel="next">', answer.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
        assert len(pages) < 50
    return pages


def test_the_overview_lists_every_group_once_a_page_at_a_time_with_its_lights(engine, staff):
    seed_lights(engine, 3, group="G-A", prefix="SL-A-")
    with write_session(engine) as session:
        for i in range(GROUPS_PAGE + 37):
            commune = ("57038", "57606", None)[i % 3]
            session.add(
                LightGroup(id=f"GP{i:03d}", name=f"Groupe {(i * 7) % 50}", commune_insee=commune)
            )
        session.flush()
        session.execute(
            Streetlight.__table__.insert(),
            [
                {
                    "id": f"SLP{i:04d}",
                    "device_id": f"SLP{i:04d}",
                    "group_id": f"GP{i % 23:03d}",
                    "lat": 49.47,
                    "lon": 5.95,
                }
                for i in range(200)
            ],
        )
    with read_session(engine) as session:  # the naive computation: every group, sorted in Python
        groups = session.scalars(select(LightGroup)).all()
        lights = session.scalars(select(Streetlight)).all()
    nulls_first = engine.dialect.name == "sqlite"  # PostgreSQL sorts NULL last, SQLite first
    naive = sorted(
        groups,
        key=lambda g: (
            (g.commune_insee is None) != nulls_first,
            g.commune_insee or "",
            g.name,
            g.id,
        ),
    )
    expected = [(g.id, sum(1 for light in lights if light.group_id == g.id)) for g in naive]
    pages = _pages(staff.client, "/staff/lighting")
    assert len(pages) == 2
    shown = [[(gid, int(n)) for gid, n in GROUP_ROW.findall(text)] for text in pages]
    assert [len(rows) for rows in shown] == [GROUPS_PAGE, len(expected) - GROUPS_PAGE]
    assert shown[0] + shown[1] == expected
    assert f"{len(expected)} groupes" in pages[0] and "Page 1 / 2" in pages[0]
    assert 'rel="prev"' in pages[1] and 'rel="next"' not in pages[1]
    # A page past the last shows the last; a page number that is not one is refused, not a 500.
    assert GROUP_ROW.findall(staff.client.get("/staff/lighting?page=9").text) == GROUP_ROW.findall(
        pages[1]
    )
    assert staff.client.get("/staff/lighting?page=abc").status_code == 400


def test_the_alarms_page_shows_every_alarm_once_newest_first_a_page_at_a_time(engine, staff):
    now = utcnow()
    with write_session(engine) as session:
        for i in range(2 * PAGE_SIZE + 13):
            raised = now - timedelta(minutes=(i * 37) % 500)  # some raised at the same minute
            cleared = now - timedelta(minutes=1) if i % 4 == 0 else None
            session.add(
                LightAlarm(
                    device_id=f"SL-{i % 17:03d}",
                    device_kind="light",
                    kind="offline",
                    raised_at=raised,
                    cleared_at=cleared,
                )
            )
    with read_session(engine) as session:
        alarms = session.scalars(select(LightAlarm)).all()
    naive_all = [a.id for a in sorted(alarms, key=lambda a: (a.raised_at, a.id), reverse=True)]
    naive_open = [
        a.id
        for a in sorted(alarms, key=lambda a: (a.raised_at, a.id), reverse=True)
        if a.cleared_at is None
    ]

    def ids(pages: list[str]) -> list[list[int]]:
        out = []
        for text in pages:
            rows = re.findall(r'<tr>\s*<th scope="row">.*?</tr>', text, re.S)
            out.append([int(m) for row in rows for m in re.findall(r"/alarms/(\d+)/ack", row)])
        return out

    for first, expected in (
        ("/staff/lighting/alarms", naive_open),
        ("/staff/lighting/alarms?show=all", naive_all),
    ):
        shown = ids(_pages(staff.client, first))
        assert all(len(page) == PAGE_SIZE for page in shown[:-1]), first
        assert 0 < len(shown[-1]) <= PAGE_SIZE
        assert [i for page in shown for i in page] == expected, first
    assert staff.client.get("/staff/lighting/alarms?page=0").status_code == 400
