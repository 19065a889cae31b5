"""Report statistics read from the counts kept per month give what reading every report gives, and
the triggers keep those counts right through every way a report is written."""

from __future__ import annotations

import random
import statistics
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, select, update
from sqlmodel import Session

from app.db import make_engine, utcnow, write_session
from app.migrate import downgrade, upgrade
from app.models.reports import Report, ReportMonthCount, ReportResolveCount
from app.reports import exports as report_stats
from app.reports import triage, workflow
from app.reports.catalogue import OPEN_STATUSES, STATUSES, communes
from tests.conftest import fresh_database_url


def _tenths(created: datetime, resolved: datetime) -> int:
    """The time to resolve in tenths of a day, rounded down (whole seconds, never negative)."""
    return max(0, round((resolved - created).total_seconds())) // 8640


def _by_reading_every_report(session: Session, since_month: str) -> report_stats.Stats:
    rows = session.execute(
        select(
            Report.status,
            Report.category,
            Report.commune_insee,
            Report.created_at,
            Report.resolved_at,
        )
    ).all()
    names = {c.insee: c.name for c in communes(session)}
    by: dict[str, Counter[str]] = {k: Counter() for k in ("commune", "category", "status", "month")}
    durations = []
    total = 0
    for status, category, insee, created, resolved in rows:
        if created.astimezone(UTC).strftime("%Y-%m") < since_month:
            continue
        total += 1
        by["commune"][names.get(insee or "", "—")] += 1
        by["category"][category] += 1
        by["status"][status] += 1
        by["month"][created.astimezone(UTC).strftime("%Y-%m")] += 1
        if status == "resolved" and resolved is not None:
            durations.append(_tenths(created, resolved) / 10)
    return report_stats.Stats(
        total=total,
        open=sum(by["status"][s] for s in OPEN_STATUSES),
        by_commune=sorted(by["commune"].items()),
        by_category=sorted(by["category"].items()),
        by_status=[(s, by["status"][s]) for s in STATUSES if by["status"][s]],
        by_month=sorted(by["month"].items()),
        median_days_to_resolve=round(statistics.median(durations), 1) if durations else None,
        resolved=len(durations),
    )


def _recount(session: Session) -> tuple[dict[tuple[str, ...], int], dict[tuple[str, int], int]]:
    """What the two count tables must hold, counted from every report in Python."""
    months: Counter[tuple[str, ...]] = Counter()
    resolve: Counter[tuple[str, int]] = Counter()
    for r in session.scalars(select(Report)):
        month = r.created_at.astimezone(UTC).strftime("%Y-%m")
        months[(month, r.status, r.category, r.commune_insee or "")] += 1
        if r.status == "resolved" and r.resolved_at is not None:
            resolve[(month, _tenths(r.created_at, r.resolved_at))] += 1
    return dict(months), dict(resolve)


def _kept(session: Session) -> tuple[dict[tuple[str, ...], int], dict[tuple[str, int], int]]:
    months = {
        (c.month, c.status, c.category, c.commune_insee): c.reports
        for c in session.scalars(select(ReportMonthCount))
        if c.reports
    }
    resolve = {
        (c.month, c.tenths): c.reports
        for c in session.scalars(select(ReportResolveCount))
        if c.reports
    }
    return months, resolve


def _make_reports(engine, n: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    now = utcnow()
    with write_session(engine) as session:
        for _ in range(n):
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


def test_statistics_match_a_count_of_every_report_in_the_window(engine):
    _make_reports(engine, 300, seed=11)
    now = utcnow()
    for months in (1, 12, 30):  # odd and even numbers of resolved reports among them
        since_month = report_stats.first_month(now, months)
        with Session(engine) as session:
            got = report_stats.stats(session, since_month=since_month)
            expected = _by_reading_every_report(session, since_month)
        got.by_commune, got.by_category = sorted(got.by_commune), sorted(got.by_category)
        assert got == expected, months
        assert got.total > 0


def test_first_month_of_a_window_counts_back_across_years():
    moment = datetime(2026, 2, 10, tzinfo=UTC)
    assert report_stats.first_month(moment, 1) == "2026-02"
    assert report_stats.first_month(moment, 2) == "2026-01"
    assert report_stats.first_month(moment, 3) == "2025-12"
    assert report_stats.first_month(moment, 26) == "2024-01"


def test_the_counts_follow_every_write_of_a_report(engine, staff):
    """Created, changed by the workflow and by bulk SQL, recategorised, moved, reopened, deleted:
    the kept counts equal a count of every report after each step."""
    _make_reports(engine, 120, seed=5)

    def check(step: str) -> None:
        with Session(engine) as session:
            kept, expected = _kept(session), _recount(session)
        assert kept == expected, step

    check("created")
    with write_session(engine) as session:
        ids = list(session.scalars(select(Report.id).where(Report.status == "new").limit(6)))
        first = session.get(Report, ids[0])
        assert first is not None
        workflow.change_status(session, first, "resolved", actor_id=staff.id, notify_people=False)
    check("resolved by the workflow")
    with write_session(engine) as session:
        result = triage.bulk_change(session, ids[1:4], "confirmed", actor_id=staff.id)
        assert result.changed
    check("bulk change")
    with write_session(engine) as session:
        second = session.get(Report, ids[4])
        assert second is not None
        workflow.recategorise(
            session,
            second,
            "rubble" if second.category != "rubble" else "tyres",
            actor_id=staff.id,
        )
    check("recategorised")
    with write_session(engine) as session:
        session.execute(
            update(Report).where(Report.status == "resolved").values(commune_insee="57041")
        )
        session.execute(
            update(Report)
            .where(Report.status == "rejected")
            .values(created_at=datetime(2020, 1, 15, tzinfo=UTC))
        )
    check("moved and back-dated in SQL")
    with write_session(engine) as session:
        resolved = session.scalars(select(Report).where(Report.status == "resolved")).first()
        assert resolved is not None
        resolved.status, resolved.resolved_at = "confirmed", None
        session.add(resolved)
    check("reopened")
    with write_session(engine) as session:
        session.execute(delete(Report).where(Report.category == "tyres"))
    check("deleted")
    with Session(engine) as session:
        got = report_stats.stats(session)
        expected = _by_reading_every_report(session, "0000-00")
    got.by_commune, got.by_category = sorted(got.by_commune), sorted(got.by_category)
    assert got == expected


def _same_counts_reports(engine, count: int) -> list[int]:
    """``count`` new reports of one month, category and commune (every change to them moves the
    same two kept counts, where concurrent changes meet): their ids in order."""
    now = utcnow()
    with write_session(engine) as session:
        reports = [
            Report(
                category="tyres",
                lat=49.47,
                lon=5.95,
                commune_insee="57038",
                status="new",
                created_at=now - timedelta(minutes=i),
            )
            for i in range(count)
        ]
        session.add_all(reports)
        session.flush()
        return sorted(r.id for r in reports if r.id is not None)


def test_two_bulk_changes_at_once_over_the_same_reports_never_deadlock(engine, staff):
    """Two staff members apply bulk actions at the same moment to overlapping reports listed in
    opposite orders (their own connections, in threads, many rounds): both go through, none is
    aborted by a deadlock on the reports or on the kept counts, and the counts still equal a recount.
    On SQLite a writer's transaction takes the database's write lock up front (BEGIN IMMEDIATE), so
    the two bulk changes run one after the other and cannot deadlock: PostgreSQL only."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE): no deadlock to provoke")
    ids = _same_counts_reports(engine, 60)
    # Overlapping lists, each one starting inside the other's.
    first, second = ids[10:], ids[:50][::-1]
    errors: list[BaseException] = []

    def bulk(wanted: list[int], action: str, start: threading.Barrier) -> None:
        try:
            with write_session(engine) as session:
                start.wait(timeout=30)
                triage.bulk_change(session, wanted, action, actor_id=staff.id)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    for round_ in range(12):
        start = threading.Barrier(2)
        actions = ("in_progress", "confirmed") if round_ % 2 == 0 else ("confirmed", "in_progress")
        threads = [
            threading.Thread(target=bulk, args=(first, actions[0], start)),
            threading.Thread(target=bulk, args=(second[::-1], actions[1], start)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, (round_, errors)
    with Session(engine) as session:
        assert _kept(session) == _recount(session)
        assert {r.status for r in session.scalars(select(Report).where(Report.id.in_(ids)))} <= {
            "confirmed",
            "in_progress",
        }


def test_a_single_change_during_a_bulk_change_never_deadlocks(engine, staff):
    """A staff member changes one report while another applies a bulk action that includes it:
    the single change must not hold the report (and its counts) while it waits for the events
    outbox's lock that the bulk change holds as it waits for that report. PostgreSQL only (see
    above)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE): no deadlock to provoke")
    ids = _same_counts_reports(engine, 40)
    errors: list[BaseException] = []

    def bulk(start: threading.Barrier, action: str) -> None:
        try:
            with write_session(engine) as session:
                start.wait(timeout=30)
                triage.bulk_change(session, ids, action, actor_id=staff.id)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    def single(start: threading.Barrier, report_id: int) -> None:
        try:
            with write_session(engine) as session:
                report = session.get(Report, report_id)
                assert report is not None
                start.wait(timeout=30)
                to = "in_progress" if report.status == "confirmed" else "confirmed"
                workflow.change_status(session, report, to, actor_id=staff.id)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    for round_ in range(16):
        start = threading.Barrier(3)
        action = "confirmed" if round_ % 2 == 0 else "in_progress"
        threads = [
            threading.Thread(target=bulk, args=(start, action)),
            threading.Thread(target=single, args=(start, ids[-1 - round_ % 5])),
            threading.Thread(target=single, args=(start, ids[round_ % 7])),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, (round_, errors)
    with Session(engine) as session:
        assert _kept(session) == _recount(session)


def test_the_migration_counts_the_reports_already_there(tmp_path):
    url = fresh_database_url(tmp_path)
    upgrade(url)
    downgrade(url, "0034_reports_ban_addresses")
    engine = make_engine(url)
    try:
        now = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
        rows = [
            {
                "category": "tyres",
                "status": status,
                "description": "",
                "lat": 49.47,
                "lon": 5.95,
                "approximate": False,
                "address": "",
                "commune_insee": insee,
                "source": "web",
                "witnessed": False,
                "status_notes": "",
                "thanks_count": 0,
                "created_at": now - timedelta(days=d),
                "updated_at": now,
                "resolved_at": now - timedelta(days=d) + timedelta(hours=5 * d)
                if status == "resolved"
                else None,
            }
            for d, status, insee in [
                (0, "new", "57038"),
                (1, "resolved", None),
                (40, "resolved", "57038"),
                (40, "resolved", "57038"),
                (70, "rejected", "54580"),
            ]
        ]
        # The table as it was then (the model's later columns, and their defaults, not there yet).
        then = sa.table("reports", *(sa.column(name) for name in rows[0]))
        with engine.begin() as conn:
            conn.execute(then.insert(), rows)
        upgrade(url)
        with Session(engine) as session:
            kept, expected = _kept(session), _recount(session)
            # Each report got its commune's territory (the first, the default one without commune).
            territories = set(session.scalars(sa.select(Report.territory_id)))
        assert kept == expected
        assert sum(kept[0].values()) == 5 and sum(kept[1].values()) == 3
        assert territories == {1}
    finally:
        engine.dispose()
