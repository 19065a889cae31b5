"""People, their server-side sessions, external identities, reset links and rate limits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import utcnow

ROLES = ("resident", "merchant", "staff", "admin", "social_worker", "elected", "superadmin")
# Given by ``eclor users create --role superadmin`` only, never from an administrator's page.
SUPERADMIN_ROLE = "superadmin"


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
    # The territory a staff member or admin works for; none: the install's default territory.
    territory_id: int | None = Field(default=None, foreign_key="territories.id", index=True)


class WebSession(SQLModel, table=True):
    """A signed-in session. The cookie carries a random token; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie token
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)  # retention drops expired sessions
    user_agent: str = Field(default="", max_length=200)


class Identity(SQLModel, table=True):
    """An external identity (OpenID Connect) bound to an account, keyed by (issuer, subject).

    Accounts are found through this pair only, never by e-mail address.
    """

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_identities_issuer_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    provider: str = Field(max_length=32)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None


class OIDCLogin(SQLModel, table=True):
    """A sign-in started with a provider and not finished yet (state, nonce, PKCE verifier).

    The row is found by the SHA-256 of ``state`` and is bound to the browser
    that started it (SHA-256 of a random cookie); it is deleted on first use.
    """

    __tablename__ = "oidc_logins"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of state
    provider: str = Field(max_length=32)
    nonce: str = Field(max_length=128)
    code_verifier: str = Field(max_length=128)
    browser: str = Field(max_length=64)  # sha256 hex of the binding cookie
    next_url: str = Field(default="/", max_length=500)
    link_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class PasswordReset(SQLModel, table=True):
    """A password reset link: single use, short-lived; only the token's SHA-256 is stored."""

    __tablename__ = "password_resets"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the token
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class RateLimit(SQLModel, table=True):
    """One fixed window of a rate limit, shared by every web process.

    ``subject`` is a keyed hash of what is limited (an IP address, an e-mail
    address), so the table holds no personal data in clear.
    """

    __tablename__ = "rate_limits"

    action: str = Field(primary_key=True, max_length=32)
    subject: str = Field(primary_key=True, max_length=64)
    window_start: int = Field(primary_key=True)  # epoch seconds
    hits: int = Field(default=0)
    expires_at: datetime = Field(index=True)
