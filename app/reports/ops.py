"""Dump-site reports in the operations centre: the reports layer (by state), the side panel with the
state change, and the KPIs per commune (open reports, median time to resolve)."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, true
from sqlmodel import Session, col, select

from app.i18n import gettext as _
from app.models.reports import Report
from app.models.territory import Commune
from app.db import chunks
from app.ops.contracts import (
    Action,
    FeatureText,
    Field_,
    Freshness,
    Kpi,
    Layer,
    Panel,
    Stamp,
    collection_head,
    mine,
    point,
    point_texts,
)
from app.territories import bound
from app.reports import categories as cats
from app.reports.catalogue import CLOSED_STATUSES, OPEN_STATUSES, STATUSES, number

N_ = str
RECENTLY_CLOSED = dt.timedelta(days=30)
RESOLVE_WINDOW = dt.timedelta(days=90)  # the median time to resolve counts these days


def reports_layer(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    """Open reports, and those closed in the last 30 days (hidden ones are not shown)."""
    rows = session.execute(
        sa.select(
            col(Report.id),
            col(Report.lon),
            col(Report.lat),
            col(Report.status),
            col(Report.category),
            col(Report.commune_insee),
        )
        .where(
            col(Report.status).in_(OPEN_STATUSES)
            | (
                col(Report.status).in_(CLOSED_STATUSES)
                & (col(Report.updated_at) >= now - RECENTLY_CLOSED)
            ),
            mine(session, col(Report.territory_id)),
        )
        .order_by(col(Report.id))
    ).all()
    labels = _labels(session)
    return [
        point(
            str(r.id),
            r.lon,
            r.lat,
            kind="report",
            state=r.status,
            label=labels.get(r.category, r.category),
            url=f"/staff/reports/{r.id}",
            commune=r.commune_insee,
        )
        for r in rows
    ]


def _report_rows(session: Session, now: dt.datetime, ids: Sequence[int] | None) -> list[Any]:
    since = now - RECENTLY_CLOSED
    query = sa.select(
        col(Report.id),
        col(Report.lon),
        col(Report.lat),
        col(Report.status),
        col(Report.category),
        col(Report.commune_insee),
    ).where(
        col(Report.status).in_(OPEN_STATUSES)
        | (col(Report.status).in_(CLOSED_STATUSES) & (col(Report.updated_at) >= since)),
        mine(session, col(Report.territory_id)),
    )
    if ids is None:
        return list(session.execute(query.order_by(col(Report.id))).all())
    out: list[Any] = []
    for part in chunks(list(ids)):
        out += session.execute(query.where(col(Report.id).in_(part))).all()
    return out


def _labels(session: Session) -> dict[str, str]:
    """The categories' names (of the session's territory) in the reader's language."""
    return {key: _(label) for key, label in cats.of_session(session).labels.items()}


def _report_texts(rows: list[Any], labels: dict[str, str]) -> Iterable[str]:
    return point_texts(
        (
            (
                str(r[0]),
                r[1],
                r[2],
                "report",
                r[3],
                labels.get(r[4], r[4]),
                f"/staff/reports/{r[0]}",
                r[5],
            )
            for r in rows
        ),
        ("commune",),
    )


def reports_json(session: Session, now: dt.datetime) -> bytes:
    """The reports layer written straight to GeoJSON text (10,000 reports and more)."""
    rows = _report_rows(session, now, None)
    return (
        collection_head("reports") + ",".join(_report_texts(rows, _labels(session))) + "]}"
    ).encode()


def reports_features(
    session: Session, now: dt.datetime, ids: Sequence[str] | None
) -> Iterable[FeatureText]:
    """The reports of ``ids`` (all when None) as feature text, for the layer kept by ids."""
    numbers = None if ids is None else [int(i) for i in ids if i.isdigit()]
    rows = _report_rows(session, now, numbers)
    for row, text in zip(rows, _report_texts(rows, _labels(session)), strict=True):
        yield str(row[0]), row[0], text


# The newest report and the newest change: what a writer without an event still shows. Two
# queries: each max() is one step down its own index (together they would scan one).
reports_stamp = Stamp((select(func.max(col(Report.id))), select(func.max(col(Report.updated_at)))))


def reports_changed(session: Session, old: Any, kept: Collection[str]) -> list[str] | None:
    """The reports added or changed since the stamp ``old`` (newest id, newest change)."""
    newest_id, newest_change = old
    if newest_id is None or newest_change is None:
        return None
    rows = session.scalars(
        select(col(Report.id)).where(
            (col(Report.id) > newest_id) | (col(Report.updated_at) > newest_change)
        )
    ).all()
    return [str(i) for i in rows]


def reports_expire(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the oldest closed report shown leaves the 30-day window (the layer changes then)."""
    oldest = session.scalar(
        select(func.min(col(Report.updated_at))).where(
            col(Report.updated_at) >= now - RECENTLY_CLOSED,
            col(Report.status).in_(CLOSED_STATUSES),
        )
    )
    return None if oldest is None else _aware(oldest) + RECENTLY_CLOSED


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def report_panel(session: Session, feature_id: str, now: dt.datetime) -> Panel | None:
    report = session.get(Report, int(feature_id)) if feature_id.isdigit() else None
    territory = bound(session)
    if report is None or (territory is not None and report.territory_id != territory.id):
        return None  # (another territory's report is not found on this host)
    commune = session.get(Commune, report.commune_insee) if report.commune_insee else None
    facts = [
        (_("Numéro"), number(report)),
        (_("Catégorie"), cats.of_territory(session, report.territory_id).name(report.category)),
        (_("Commune"), commune.name if commune else "—"),
        (_("Lieu"), report.address or "—"),
        (_("Description"), report.description[:300] or "—"),
        (_("Reçu le"), report.created_at.strftime("%d/%m/%Y")),
    ]
    choices = [(key, label) for key, label in STATUSES.items() if key != report.status]
    actions = [
        Action(
            N_("Changer l'état"),
            f"/staff/reports/{report.id}/status",
            [
                Field_("status", N_("Nouvel état"), "select", choices[0][0], options=choices),
                Field_("note", N_("Message au déclarant (facultatif)"), "textarea"),
            ],
            N_("État du signalement changé."),
        )
    ]
    return Panel(
        title=number(report),
        state=report.status,
        state_label=_(STATUSES[report.status]),
        facts=facts,
        actions=actions,
        link=f"/staff/reports/{report.id}",
        commune=report.commune_insee,
    )


def _in(communes: Collection[str] | None) -> Any:
    return true() if communes is None else col(Report.commune_insee).in_(sorted(communes))


def open_reports_kpi(
    session: Session, now: dt.datetime, communes: Collection[str] | None = None
) -> dict[str, Any]:
    rows = session.execute(
        select(col(Report.commune_insee), func.count())
        .where(
            col(Report.status).in_(OPEN_STATUSES),
            mine(session, col(Report.territory_id)),
            _in(communes),
        )
        .group_by(col(Report.commune_insee))
    ).all()
    return {insee: count for insee, count in rows if insee}


def resolve_time_kpi(
    session: Session, now: dt.datetime, communes: Collection[str] | None = None
) -> dict[str, Any]:
    """Median days from a report to its resolution, over the reports resolved in the last 90 days
    (of ``communes`` only when given)."""
    if session.get_bind().dialect.name == "sqlite":  # days as numbers, computed by the database
        days_taken: Any = func.julianday(col(Report.resolved_at)) - func.julianday(
            col(Report.created_at)
        )
    else:
        days_taken = (
            func.extract("epoch", col(Report.resolved_at) - col(Report.created_at)) / 86400.0
        )
    rows = session.execute(
        select(col(Report.commune_insee), days_taken).where(
            col(Report.status) == "resolved",
            col(Report.resolved_at) >= now - RESOLVE_WINDOW,
            col(Report.commune_insee).is_not(None),
            col(Report.created_at).is_not(None),
            mine(session, col(Report.territory_id)),
            _in(communes),
        )
    ).all()
    days: dict[str, list[float]] = {}
    for insee, taken in rows:
        if insee and taken is not None:
            days.setdefault(insee, []).append(float(taken))
    return {insee: round(statistics.median(values), 1) for insee, values in days.items()}


def reports_communes(session: Session, ids: Sequence[str]) -> set[str | None]:
    """The communes of the reports ``ids``."""
    out: set[str | None] = set()
    for part in chunks([int(i) for i in ids if i.isdigit()]):
        out.update(
            session.scalars(
                select(col(Report.commune_insee)).where(col(Report.id).in_(part)).distinct()
            ).all()
        )
    return out


def resolve_time_expire(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the oldest resolution counted leaves the 90-day window (the median may change then)."""
    oldest = session.scalar(
        select(func.min(col(Report.resolved_at))).where(
            col(Report.status) == "resolved",
            col(Report.resolved_at) >= now - RESOLVE_WINDOW,
            mine(session, col(Report.territory_id)),
        )
    )
    return None if oldest is None else _aware(oldest) + RESOLVE_WINDOW


OPS_LAYERS = [
    Layer(
        "reports",
        N_("Signalements"),
        10,
        reports_layer,
        report_panel,
        {},
        {key: label for key, label in STATUSES.items() if key != "hidden"},
        dump=reports_json,
        fresh=Freshness(
            ("reports",),
            reports_stamp,
            reports_expire,
            features=reports_features,
            changed=reports_changed,
        ),
    )
]
OPS_KPIS = [
    Kpi(
        "reports_open",
        N_("Signalements ouverts"),
        "",
        10,
        open_reports_kpi,
        Freshness(("reports",), reports_stamp, changed=reports_changed),
        some=open_reports_kpi,
        communes=reports_communes,
    ),
    Kpi(
        "reports_resolve_days",
        N_("Délai médian de résolution"),
        N_("jours"),
        11,
        resolve_time_kpi,
        Freshness(("reports",), reports_stamp, resolve_time_expire, changed=reports_changed),
        some=resolve_time_kpi,
        communes=reports_communes,
    ),
]
