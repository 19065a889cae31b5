"""People and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import utcnow

ROLES = ("resident", "merchant", "staff", "admin")


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str | None = Field(default=None, max_length=255)
    role: str = Field(default="resident", max_length=16)
    display_name: str = Field(default="", max_length=80)
    locale: str = Field(default="fr", max_length=5)
    commune_insee: str | None = Field(default=None, foreign_key="communes.insee", max_length=5)
    is_active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A signed-in session. The cookie carries a random token; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie token
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    user_agent: str = Field(default="", max_length=200)
