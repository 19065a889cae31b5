"""Who may see a shared-object ad, and so its photos.

A listed ad (active, not lapsed) and a given one are public. A paused,
lapsed or hidden (moderated) ad is seen by its owner, by staff and by the
people with a loan on it. An ad its owner removed is seen by nobody.
"""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.auth import CurrentUser
from app.models.sharing import Loan, SharedItem, SharedPhoto
from app.sharing.loans import is_listed
from app.sharing.scope import is_here


def is_public(item: SharedItem) -> bool:
    return is_listed(item) or item.status == "given"


def can_see(db: Session, item: SharedItem, user: CurrentUser | None, territory_id: int = 0) -> bool:
    """Whether ``user`` (None: an anonymous visitor) may see ``item`` on a host of ``territory_id``
    (0: any): others' ads of another territory are not seen there, one's own and those one has a
    loan on are seen on every host."""
    if item.status == "removed":
        return False
    if user is not None and user.id == item.owner_id:
        return True
    here = is_here(db, item.commune_insee, territory_id)
    if here and is_public(item):
        return True
    if user is None:
        return False
    if here and user.is_staff:
        return True
    involved = db.scalars(
        select(col(Loan.id)).where(col(Loan.item_id) == item.id, col(Loan.borrower_id) == user.id)
    ).first()
    return involved is not None


def item_of_photo(db: Session, name: str) -> SharedItem | None:
    """The ad a stored photo name belongs to (display variant or thumbnail), if any."""
    item_id = db.scalars(
        select(col(SharedPhoto.item_id)).where(
            or_(col(SharedPhoto.display_name) == name, col(SharedPhoto.thumb_name) == name)
        )
    ).first()
    return db.get(SharedItem, item_id) if item_id is not None else None
