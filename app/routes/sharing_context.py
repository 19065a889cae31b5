"""What the sharing pages share: the signed-in user, communes, uploaded photos and the forms."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import UploadFile
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session

from app.auth import CurrentUser, current_user
from app.sharing import loans as logic
from app.sharing import scope
from app.territories import request_territory

PHOTO_CACHE = "public, max-age=31536000, immutable"
MAX_PHOTOS = 4


def signed_in(request: Request[Any, Any, Any]) -> CurrentUser:
    user = current_user(request)
    assert user is not None  # the access rule guarantees it
    return user


def territory(request: Request[Any, Any, Any]) -> int:
    """The request's territory id (0: an install without territories, nothing to keep apart)."""
    return request_territory(request).id


def commune_choices(db: Session, territory_id: int) -> dict[str, str]:
    """The territory's communes: an ad or a request is placed in one of them."""
    return scope.commune_names(db, territory_id)


def photo_url_of(name: str | None) -> str | None:
    return f"/sharing/photos/{name}" if name else None


def uploaded_files(value: Any) -> list[bytes]:
    values = value if isinstance(value, list) else [value]
    out = []
    for v in values:
        if isinstance(v, UploadFile):
            v.file.seek(0)
            data = v.file.read()
            if data:
                out.append(data)
    return out


def form_text(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if isinstance(v, str)}


class ItemForm(BaseModel):
    kind: str
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(default="", max_length=3000)
    category: str
    condition: str = "good"
    commune_insee: str = Field(min_length=5, max_length=5)
    max_days: int = Field(default=7, ge=1, le=60)
    availability: str = Field(default="", max_length=200)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in ("lend", "give"):
            raise ValueError("Choisissez : prêter ou donner.")
        return value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in logic.CATEGORIES:
            raise ValueError("Choisissez une catégorie.")
        return value

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str) -> str:
        if value not in logic.CONDITIONS:
            raise ValueError("Choisissez l'état de l'objet.")
        return value


class WantedForm(BaseModel):
    title: str = Field(min_length=3, max_length=120)
    description: str = Field(default="", max_length=1000)
    category: str
    commune_insee: str = Field(min_length=5, max_length=5)

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in logic.CATEGORIES:
            raise ValueError("Choisissez une catégorie.")
        return value
