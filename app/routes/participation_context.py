"""What the participation pages share: the budget read for a page, choices read from forms, a
resident's commune declared once, uploaded files."""

from __future__ import annotations

from typing import Any

from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from sqlmodel import Session

from app.auth import CurrentUser
from app.models.accounts import User
from app.models.participation import Budget, BudgetProject
from app.participation import scope


MAX_ID = 2**31 - 1  # PostgreSQL's integer: an id past it names no row (never a 500)


def get_or_none(db: Session, model: Any, row_id: int) -> Any:
    """``db.get`` for an id from a path: None when it cannot be an id of the table."""
    if not 0 < row_id <= MAX_ID:
        return None
    return db.get(model, row_id)


def budget_or_404(db: Session, budget_id: int) -> Budget:
    """A budget of the request's territory (another territory's is not found)."""
    budget = get_or_none(db, Budget, budget_id)
    if budget is None or not scope.is_here(db, budget):
        raise NotFoundException()
    return budget


def project_or_404(db: Session, project_id: int) -> tuple[BudgetProject, Budget]:
    """A budget's project and its budget, or 404."""
    project = get_or_none(db, BudgetProject, project_id)
    if project is None:
        raise NotFoundException()
    return project, budget_or_404(db, project.budget_id)


def communes(db: Session) -> dict[str, str]:
    """The communes of the request's territory."""
    return scope.communes_here(db)


def me_of(db: Session, user: CurrentUser | None) -> User | None:
    """The signed-in person's account row (their commune), or None."""
    return db.get(User, user.id) if user is not None else None


def declare_commune(db: Session, user: CurrentUser | None, data: dict[str, Any]) -> bool:
    """A resident declares their commune once (changing it afterwards is the town hall's job);
    False, with nothing written, when there is no resident, a commune already, or no such commune."""
    me = me_of(db, user)
    insee = text(data, "commune_insee", 5)
    if me is None or me.commune_insee or insee not in communes(db):
        return False
    me.commune_insee = insee
    db.add(me)
    return True


def many(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name)
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return [value] if isinstance(value, str) and value else []


def ints(values: list[str]) -> list[int] | None:
    """The values as integers, or None when one is not a number."""
    out: list[int] = []
    for v in values:
        v = v.strip()
        if not v.isascii() or not v.isdigit() or len(v) > 9:
            return None
        out.append(int(v))
    return out


def text(data: dict[str, Any], name: str, limit: int = 500) -> str:
    value = data.get(name, "")
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def euros(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f") + "\u00a0€"


def uploaded_files(value: Any) -> list[bytes]:
    """The non-empty files of a multipart field (one or several)."""
    out = []
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, UploadFile):
            v.file.seek(0)
            data = v.file.read()
            if data:
                out.append(data)
    return out


# A proposal's photo may be hidden with it by moderation: caches keep it an hour, not a year.
PHOTO_CACHE = "public, max-age=3600"


def photo_url(name: str | None) -> str | None:
    return f"/participation/photos/{name}" if name else None
