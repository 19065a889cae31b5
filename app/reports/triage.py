"""Staff triage of dump-site reports beyond one report at a time.

- ``bulk_change``: one action on many reports, saying which ones were
  skipped and why (already in that state, not possible from their state),
  and refusing up front what would fail for all (a rejection with no reason,
  scheduling with no date).
- ``duplicate_candidates``: the open reports near one, same category first,
  offered on the staff detail to mark it a duplicate in one click.

Used by the staff pages (``app/routes/reports_staff.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from app import events
from app.i18n import gettext as _
from app.models.reports import Report
from app.reports import catalogue, intake
from app.reports import workflow as rp

BULK_LIMIT = 200
CANDIDATE_METRES = 250
CANDIDATE_LIMIT = 8

# Why a report was left as it was, by code (the code travels in the board's URL after the redirect).
SKIP_REASONS = {
    "same": catalogue.N_("déjà « %(s)s »"),
    "transition": catalogue.N_("impossible depuis « %(s)s »"),
    "missing": catalogue.N_("introuvable"),
    "refused": catalogue.N_("refusé"),
}


@dataclass
class BulkResult:
    changed: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (report id, reason code)


def check_bulk(
    session: Session,
    action: str,
    *,
    reject_reason_id: int | None,
    expected_at: datetime | None,
    territory_id: int | None = None,
) -> None:
    """Refuse, before touching anything, an action that would fail for every report."""
    if action == "rejected":
        reason = rp.reject_reason(session, reject_reason_id, territory_id)
        if reason is None:
            raise catalogue.ReportError(_("Choisissez le motif du rejet."), "reject_reason")
    if action == "scheduled" and expected_at is None:
        raise catalogue.ReportError(_("Indiquez la date d’enlèvement prévue."), "expected_on")


def bulk_change(
    session: Session,
    ids: list[int],
    action: str,
    *,
    actor_id: int,
    territory_id: int | None = None,
    note: str = "",
    reject_reason_id: int | None = None,
    expected_at: datetime | None = None,
) -> BulkResult:
    """Apply ``action`` to the reports ``ids`` of the territory; each one changes or is skipped with a
    reason code (another territory's report is "missing": it is not there for this one)."""
    check_bulk(
        session,
        action,
        reject_reason_id=reject_reason_id,
        expected_at=expected_at,
        territory_id=territory_id,
    )
    wanted = list(dict.fromkeys(ids))[:BULK_LIMIT]
    # On PostgreSQL two bulk changes at once would each lock reports (and the counts the triggers on
    # ``reports`` keep) in their own order, then wait for the outbox's lock ``publish`` takes after
    # the first change: a deadlock. The outbox's lock is taken first, then the reports in id order
    # (their states read under the lock, not as they were before another bulk change).
    events.hold(session)
    found = {
        r.id: r
        for r in session.scalars(
            catalogue.scoped(select(Report), territory_id)
            .where(col(Report.id).in_(wanted))
            .order_by(col(Report.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    result = BulkResult()
    for report_id in wanted:
        report = found.get(report_id)
        if report is None:
            result.skipped.append((report_id, "missing"))
        elif report.status == action:
            result.skipped.append((report_id, "same"))
        elif action not in catalogue.TRANSITIONS[report.status]:
            result.skipped.append((report_id, "transition"))
        else:
            try:
                with session.begin_nested():
                    rp.change_status(
                        session,
                        report,
                        action,
                        actor_id=actor_id,
                        note=note,
                        reject_reason_id=reject_reason_id,
                        expected_at=expected_at,
                    )
                result.changed.append(report_id)
            except catalogue.ReportError:
                result.skipped.append((report_id, "refused"))
    return result


def encode_skipped(skipped: list[tuple[int, str]]) -> str:
    return ",".join(f"{report_id}.{code}" for report_id, code in skipped)


def skipped_lines(
    session: Session, value: str, territory_id: int | None = None
) -> list[tuple[str, str]]:
    """(number, why) for the ``skipped`` parameter of the board after a bulk action."""
    pairs = []
    for token in value.split(",")[:BULK_LIMIT]:
        number, _dot, code = token.partition(".")
        if number.isdigit() and code in SKIP_REASONS:
            pairs.append((int(number), code))
    reports = {
        r.id: r
        for r in session.scalars(
            catalogue.scoped(select(Report), territory_id).where(
                col(Report.id).in_([i for i, _c in pairs])
            )
        )
    }
    out = []
    for ident, code in pairs:
        report = reports.get(ident)
        label = catalogue.number(report) if report else f"#{ident}"
        state = _(catalogue.STATUSES[report.status]) if report else ""
        out.append((label, _(SKIP_REASONS[code]) % {"s": state}))
    return out


def duplicate_candidates(session: Session, report: Report) -> list[tuple[Report, float, list[str]]]:
    """Open reports within 250 m: same category first, then nearest; with what differs from ``report``."""
    found = intake.nearby(
        session,
        report.lat,
        report.lon,
        None,
        metres=CANDIDATE_METRES,
        limit=50,
        exclude=report.id,
        territory_id=report.territory_id,
    )
    found.sort(key=lambda rd: (rd[0].category != report.category, rd[1]))
    return [
        (other, distance, rp.duplicate_differences(session, report, other))
        for other, distance in found[:CANDIDATE_LIMIT]
    ]
