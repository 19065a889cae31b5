"""Report statistics counted by the database give what reading every report gives."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from app.db import utcnow, write_session
from app.models.reports import Report
from app.reports import exports as report_stats
from app.reports.catalogue import OPEN_STATUSES, STATUSES, communes


def _by_reading_every_report(session: Session, since) -> report_stats.Stats:
    rows = session.execute(
        select(
            Report.status,
            Report.category,
            Report.commune_insee,
            Report.created_at,
            Report.resolved_at,
        ).where(Report.created_at >= since)
    ).all()
    names = {c.insee: c.name for c in communes(session)}
    by: dict[str, Counter[str]] = {k: Counter() for k in ("commune", "category", "status", "month")}
    durations = []
    for status, category, insee, created, resolved in rows:
        by["commune"][names.get(insee or "", "—")] += 1
        by["category"][category] += 1
        by["status"][status] += 1
        by["month"][created.strftime("%Y-%m")] += 1
        if status == "resolved" and resolved is not None:
            durations.append((resolved - created).total_seconds() / 86400)
    return report_stats.Stats(
        total=len(rows),
        open=sum(by["status"][s] for s in OPEN_STATUSES),
        by_commune=sorted(by["commune"].items()),
        by_category=sorted(by["category"].items()),
        by_status=[(s, by["status"][s]) for s in STATUSES if by["status"][s]],
        by_month=sorted(by["month"].items()),
        median_days_to_resolve=round(statistics.median(durations), 1) if durations else None,
        resolved=len(durations),
    )


def test_statistics_match_a_count_of_every_report_in_the_window(engine):
    rng = random.Random(11)
    now = utcnow()
    with write_session(engine) as session:
        for _ in range(300):
            created = now - timedelta(minutes=rng.randrange(2 * 365 * 24 * 60))
            status = rng.choice(("new", "confirmed", "resolved", "resolved", "rejected"))
            session.add(
                Report(
                    category=rng.choice(("tyres", "rubble", "bulky_items")),
                    lat=49.47,
                    lon=5.95,
                    commune_insee=rng.choice(("57038", "54580", "57041", None)),
                    status=status,
                    created_at=created,
                    resolved_at=created + timedelta(minutes=rng.randrange(1, 60 * 24 * 40))
                    if status == "resolved"
                    else None,
                )
            )
    for months in (1, 12, 30):  # odd and even numbers of resolved reports among them
        since = now - timedelta(days=31 * months)
        with Session(engine) as session:
            got = report_stats.stats(session, since=since)
            expected = _by_reading_every_report(session, since)
        got.by_commune, got.by_category = sorted(got.by_commune), sorted(got.by_category)
        assert got == expected, months
