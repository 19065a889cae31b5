"""Dump-site report statistics and the CSV export of the staff list."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, select

from app.csvsafe import csv_cell
from app.db import read_session
from app.i18n import gettext as _
from app.models.reports import (
    Report,
    ReportFollow,
    ReportMonthCount,
    ReportResolveCount,
)
from app.reports import categories as cats
from app.reports.categories import Labels
from app.reports.catalogue import (
    N_,
    OPEN_STATUSES,
    STATUSES,
    VOLUMES,
    Filters,
    communes,
    number,
    scoped,
)
from app.models.territory import Territory
from app.territories import zone as territory_zone

# --- statistics and export -------------------------------------------------------------------------
# Statistics are read from the counts the database keeps per creation month (``report_month_counts``
# and ``report_resolve_counts``, maintained by triggers on ``reports``): a window is whole months, so
# the page reads a few rows per month shown, however many reports the territory has made.


@dataclass
class Stats:
    total: int
    open: int
    by_commune: list[tuple[str, int]]
    by_category: list[tuple[str, int]]
    by_status: list[tuple[str, int]]
    by_month: list[tuple[str, int]]
    median_days_to_resolve: float | None
    resolved: int


def first_month(now: datetime, months: int) -> str:
    """The first month (UTC, ``YYYY-MM``) of a window of ``months`` months ending with ``now``'s."""
    index = now.year * 12 + now.month - 1 - (months - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def stats(
    session: Session, since_month: str | None = None, *, territory_id: int | None = None
) -> Stats:
    """Counts of the reports made since the month ``since_month`` (UTC, ``YYYY-MM``; all when None),
    of one territory's communes when ``territory_id`` is given.

    The median time to resolve is counted in tenths of a day (each time rounded down to 2.4 h):
    from the counts kept per month when the install has one territory, else from the territory's
    resolved reports of the window (the counts of resolving times are not kept per commune).
    """
    window = (col(ReportMonthCount.month) >= since_month,) if since_month is not None else ()
    shown = communes(session, territory_id)
    if territory_id is not None:
        window = (*window, col(ReportMonthCount.commune_insee).in_([c.insee for c in shown]))
    grouped = session.execute(
        sa.select(
            col(ReportMonthCount.status),
            col(ReportMonthCount.category),
            col(ReportMonthCount.commune_insee),
            col(ReportMonthCount.month),
            col(ReportMonthCount.reports),
        ).where(col(ReportMonthCount.reports) > 0, *window)
    ).all()
    names = {c.insee: c.name for c in shown}
    by_commune: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_month: Counter[str] = Counter()
    for status, category, insee, created_month, count in grouped:
        by_commune[names.get(insee, "—")] += count
        by_category[category] += count
        by_status[status] += count
        by_month[created_month] += count
    resolve_window = (
        (col(ReportResolveCount.month) >= since_month,) if since_month is not None else ()
    )
    durations: Counter[int] = Counter()
    several = (session.scalar(sa.select(func.count()).select_from(Territory)) or 0) > 1
    if territory_id is not None and several:
        since = (
            datetime.fromisoformat(since_month + "-01").replace(tzinfo=UTC)
            if since_month is not None
            else None
        )
        resolved = scoped(
            select(col(Report.created_at), col(Report.resolved_at)).where(
                col(Report.status) == "resolved",
                col(Report.resolved_at).is_not(None),
                *([col(Report.created_at) >= since] if since is not None else []),
            ),
            territory_id,
        )
        for created, done in session.execute(resolved):
            seconds = (_utc(done) - _utc(created)).total_seconds()
            durations[max(0, round(seconds)) // 8640] += 1
    else:
        for tenths, count in session.execute(
            sa.select(col(ReportResolveCount.tenths), func.sum(col(ReportResolveCount.reports)))
            .where(col(ReportResolveCount.reports) > 0, *resolve_window)
            .group_by(col(ReportResolveCount.tenths))
        ):
            durations[int(tenths)] += int(count)
    n = sum(durations.values())
    return Stats(
        total=sum(by_status.values()),
        open=sum(by_status[s] for s in OPEN_STATUSES),
        by_commune=by_commune.most_common(),
        by_category=by_category.most_common(),
        by_status=[(s, by_status[s]) for s in STATUSES if by_status[s]],
        by_month=sorted(by_month.items()),
        median_days_to_resolve=_median_tenths(durations, n),
        resolved=n,
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _median_tenths(durations: Counter[int], n: int) -> float | None:
    """The median of ``n`` times counted per tenth of a day, in days to one decimal."""
    if not n:
        return None
    wanted = sorted({(n - 1) // 2, n // 2})
    middle: list[float] = []
    seen = 0
    for tenths in sorted(durations):
        seen += durations[tenths]
        while wanted and wanted[0] < seen:
            middle.append(tenths / 10)
            wanted.pop(0)
    return round(sum(middle) / len(middle), 1)


# (heading, what it holds): French headings, human labels, and the codes in their own columns.
CSV_COLUMNS: list[tuple[str, str]] = [
    (N_("Numéro"), "number"),
    (N_("Catégorie"), "category_label"),
    (N_("Code catégorie"), "category"),
    (N_("État"), "status_label"),
    (N_("Code état"), "status"),
    (N_("Commune"), "commune"),
    (N_("Code INSEE"), "insee"),
    (N_("Latitude"), "lat"),
    (N_("Longitude"), "lon"),
    (N_("Repère"), "address"),
    (N_("Description"), "description"),
    (N_("Volume"), "volume_label"),
    (N_("Code volume"), "volume"),
    (N_("Témoin"), "witnessed"),
    (N_("Origine"), "source"),
    (N_("Signalé le"), "created"),
    (N_("Mis à jour le"), "updated"),
    (N_("Enlèvement prévu le"), "expected"),
    (N_("Résolu le"), "resolved"),
    (N_("Personnes qui suivent"), "followers"),
    (N_("Remerciements"), "thanks"),
]


def csv_headings() -> list[str]:
    return [_(heading) for heading, _key in CSV_COLUMNS]


def _csv_time(value: datetime | None, zone: ZoneInfo, *, date_only: bool = False) -> str:
    """A time as a spreadsheet reads it, in the territory's time (``zone``): « 06/12/2026 14:30 »."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone)
    return local.strftime("%d/%m/%Y") if date_only else local.strftime("%d/%m/%Y %H:%M")


_CSV_READ = (
    col(Report.id),
    col(Report.category),
    col(Report.status),
    col(Report.commune_insee),
    col(Report.lat),
    col(Report.lon),
    col(Report.address),
    col(Report.description),
    col(Report.volume),
    col(Report.witnessed),
    col(Report.source),
    col(Report.created_at),
    col(Report.updated_at),
    col(Report.expected_at),
    col(Report.resolved_at),
    col(Report.thanks_count),
)


def export_csv(
    engine: Engine | Connection,
    filters: Filters,
    *,
    territory_id: int | None = None,
    chunk: int = 1000,
) -> Iterator[bytes]:
    """The selected reports as CSV (UTF-8 with BOM so spreadsheets read the accents), streamed.

    Read by id in chunks of ``chunk`` rows (keyset paging, each chunk its own
    short read), encoded and handed out chunk by chunk: memory stays flat
    however many reports there are. Headings and labels are translated here,
    in the caller's language, before the first row is read. Only the territory's reports.
    """
    with read_session(engine) as session:
        names = {c.insee: c.name for c in communes(session, territory_id)}
        zone = territory_zone(session, territory_id)
        known = cats.of_territory(session, territory_id).labels
    headings = csv_headings()
    categories = Labels((k, _(v)) for k, v in known.items())
    statuses = {k: _(v) for k, v in STATUSES.items()}
    volumes = {k: _(v) for k, v in VOLUMES.items()}
    yes, no = _("oui"), _("non")
    return _csv_chunks(
        engine,
        filters,
        territory_id,
        chunk,
        headings,
        names,
        categories,
        statuses,
        volumes,
        (yes, no),
        zone,
    )


def _csv_chunks(
    engine: Engine | Connection,
    filters: Filters,
    territory_id: int | None,
    chunk: int,
    headings: list[str],
    names: dict[str, str],
    categories: dict[str, str],
    statuses: dict[str, str],
    volumes: dict[str, str],
    yes_no: tuple[str, str],
    zone: ZoneInfo,
) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";")
    buf.write("\ufeff")
    writer.writerow(headings)
    last = 0
    while True:
        with read_session(engine) as session:
            rows = session.execute(
                scoped(filters.apply(sa.select(*_CSV_READ), staff=True), territory_id)
                .where(col(Report.id) > last)
                .order_by(col(Report.id))
                .limit(chunk)
            ).all()
            follows = (
                dict(
                    session.execute(
                        select(col(ReportFollow.report_id), func.count())
                        .where(col(ReportFollow.report_id).in_([r.id for r in rows]))
                        .group_by(col(ReportFollow.report_id))
                    ).all()
                )
                if rows
                else {}
            )
        for r in rows:
            row = {
                "number": number(r),
                "category_label": categories.get(r.category, r.category),
                "category": r.category,
                "status_label": statuses.get(r.status, r.status),
                "status": r.status,
                "commune": names.get(r.commune_insee or "", ""),
                "insee": r.commune_insee or "",
                "lat": f"{r.lat:.6f}".replace(".", ","),
                "lon": f"{r.lon:.6f}".replace(".", ","),
                "address": _csv_safe(r.address),
                "description": _csv_safe(r.description),
                "volume_label": volumes.get(r.volume or "", ""),
                "volume": r.volume or "",
                "witnessed": yes_no[0] if r.witnessed else yes_no[1],
                "source": r.source,
                "created": _csv_time(r.created_at, zone),
                "updated": _csv_time(r.updated_at, zone),
                "expected": _csv_time(r.expected_at, zone, date_only=True),
                "resolved": _csv_time(r.resolved_at, zone),
                "followers": follows.get(r.id, 0),
                "thanks": r.thanks_count,
            }
            writer.writerow([row[key] for _heading, key in CSV_COLUMNS])
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
        if len(rows) < chunk:
            return
        last = rows[-1].id


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection), wherever a cell could start."""
    return str(csv_cell(value))
