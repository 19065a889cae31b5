"""Staff moderation of shared-object ads, through the one moderation mechanism (``app.moderation``).

A reported ad is hidden (not deleted) with a reason kept on it, its owner is
told why, the open reports on it are closed, and staff can restore it (the
owner is told again). Used by the staff pages in ``app/routes/sharing.py``.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from app import moderation
from app.sharing.scope import items_in
from app.db import utcnow
from app.i18n import gettext as _
from app.models.sharing import ItemReport, SharedItem

HIDEABLE = ("active", "paused")


def _ad(item: SharedItem) -> moderation.Ad:
    return moderation.Ad(
        owner_id=item.owner_id, title=item.title, url=f"/sharing/items/{item.id}", topic="sharing"
    )


def hide(
    session: Session, item: SharedItem, staff_id: int, reason_code: str, note: str = ""
) -> None:
    """Hide ``item`` for ``reason_code`` (+ note); close its open reports; tell its owner."""
    reason = moderation.reason_text(reason_code, note)
    if item.status not in HIDEABLE:
        raise moderation.ModerationError(_("Cette annonce n’est plus en ligne."))
    now = utcnow()
    item.status, item.moderation_reason, item.moderated_at, item.moderated_by = (
        "hidden",
        reason,
        now,
        staff_id,
    )
    session.add(item)
    session.execute(
        update(ItemReport)
        .where(col(ItemReport.item_id) == item.id, col(ItemReport.status) == "open")
        .values(status="hidden")
    )
    session.flush()
    moderation.hide(
        session, _ad(item), reason, dedupe=f"sharing-hide:{item.id}:{now.timestamp():.0f}"
    )


def dismiss(session: Session, report: ItemReport) -> None:
    report.status = "dismissed"
    session.add(report)


def restore(session: Session, item: SharedItem, staff_id: int) -> None:
    """Undo a hide: the ad is listed again (its reason stays on record) and its owner told."""
    if item.status != "hidden":
        raise moderation.ModerationError(_("Cette annonce n’est pas masquée."))
    now = utcnow()
    item.status, item.moderated_at, item.moderated_by = "active", now, staff_id
    session.add(item)
    session.flush()
    moderation.restore(
        session, _ad(item), dedupe=f"sharing-restore:{item.id}:{now.timestamp():.0f}"
    )


def hidden_items(session: Session, territory_id: int = 0, limit: int = 50) -> list[SharedItem]:
    """The hidden ads of the territory (0: every one), last hidden first."""
    return list(
        session.scalars(
            select(SharedItem)
            .where(*items_in(territory_id), col(SharedItem.status) == "hidden")
            .order_by(col(SharedItem.moderated_at).desc())
            .limit(limit)
        )
    )
