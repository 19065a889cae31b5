"""Who is signed in, and what they may do.

- Passwords are hashed with argon2id.
- Sessions are server-side rows (``web_sessions``) shared by every web node;
  the cookie carries a random token and the database keeps only its SHA-256,
  so a leaked database does not leak live sessions. A new token is issued at
  every sign-in and role change; sign-out deletes the row. Sessions end after
  an idle period and at an absolute lifetime.
- Access is deny-by-default: every route declares ``opt={"access": ...}``
  (``"public"``, ``"signed_in"`` or a tuple of roles); a route without a rule
  answers 403 (see ``access_guard``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.db import saved_id, utcnow, write_session
from app.models.accounts import ROLES, User, WebSession
from app.scope import extras as scope_extras
from app.territories import Branding, request_territory

SESSION_COOKIE = "eclor_session"
_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so timing does not tell who has an account. Made on
# first use, not at import: an argon2 hash costs about a second of CPU to every process that imports
# this module (each worker, each CLI command), most of which never check a password.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("eclor-dummy-password")
    return _DUMMY_HASH


STAFF_ROLES = ("staff", "admin")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def validate_password(password: str) -> str | None:
    """A French message when the password is too weak, else None."""
    if len(password) < 10:
        return "Le mot de passe doit comporter au moins 10 caractères."
    if len(password) > 256:
        return "Le mot de passe est trop long (256 caractères au plus)."
    return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in person as the request sees it (a detached snapshot)."""

    id: int
    email: str
    role: str
    display_name: str
    session_id: str
    territory_id: int | None = None  # the territory staff work for; None: the default one

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def works_for(self, territory: Branding) -> bool:
        """Whether this staff member or admin belongs to that territory."""
        if self.territory_id is None:
            return territory.is_default
        return self.territory_id == territory.id

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_superadmin(self) -> bool:
        """Manages the territories; belongs to none (not staff: no territory's staff pages)."""
        return self.role == "superadmin"

    @property
    def name(self) -> str:
        return self.display_name or self.email.split("@")[0]


def start_session(
    session: Session,
    user: User,
    *,
    idle_minutes: int,
    absolute_days: int,
    user_agent: str = "",
    replace: str | None = None,
) -> str:
    """Create a session row for ``user`` and return the cookie token.

    ``replace`` is the cookie token of the session being replaced (sign-in
    over an existing session, role change): that row is deleted so the old
    cookie is worthless.
    """
    if replace:
        session.execute(delete(WebSession).where(col(WebSession.id) == _digest(replace)))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            id=_digest(token),
            user_id=saved_id(user),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=absolute_days),
            user_agent=user_agent[:200],
        )
    )
    user.last_seen_at = now
    session.add(user)
    return token


def end_session(engine: Engine, token: str) -> None:
    with write_session(engine) as session:
        session.execute(delete(WebSession).where(col(WebSession.id) == _digest(token)))


def end_all_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(WebSession).where(col(WebSession.user_id) == user_id))


def load_user(engine: Engine, token: str, *, idle_minutes: int) -> CurrentUser | None:
    """The user behind a cookie token, or None if the session is unknown, idle or expired."""
    if not token or len(token) > 100:
        return None
    sid = _digest(token)
    now = utcnow()
    with Session(engine) as session:
        row = session.execute(
            select(WebSession, User)
            .join(User, col(User.id) == col(WebSession.user_id))
            .where(col(WebSession.id) == sid)
        ).first()
        if row is None:
            return None
        ws, user = row
        idle_limit = ws.last_seen_at + timedelta(minutes=idle_minutes)
        if ws.expires_at <= now or idle_limit <= now or not user.is_active:
            session.close()
            end_session(engine, token)
            return None
        current = CurrentUser(
            user.id, user.email, user.role, user.display_name, sid, user.territory_id
        )
        touch = now - ws.last_seen_at > timedelta(minutes=5)
    if touch:
        # Sliding idle timeout, written at most every 5 minutes per session.
        with write_session(engine) as session:
            ws_row = session.get(WebSession, sid)
            if ws_row is not None:
                ws_row.last_seen_at = now
    return current


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalars(select(User).where(col(User.email) == normalise_email(email))).first()
    if user is None or not user.is_active:
        verify_password(None, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    email: str,
    *,
    role: str = "resident",
    password: str | None = None,
    display_name: str = "",
) -> User:
    if role not in ROLES:
        raise ValueError(f"rôle inconnu : {role} (attendu : {', '.join(ROLES)})")
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise ValueError("adresse e-mail invalide")
    user = User(
        email=email,
        role=role,
        display_name=display_name,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    return user


# --- access rules ---------------------------------------------------------------------


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser | None:
    return scope_extras(connection.scope).get("eclor_user")


def signed_in_user(connection: ASGIConnection[Any, Any, Any, Any]) -> CurrentUser:
    """The person signed in, on a route whose access rule lets only signed-in people through."""
    user = current_user(connection)
    if user is None:
        raise NotAuthorizedException("Connectez-vous pour continuer.")
    return user


async def access_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Deny by default: the route must declare who may use it.

    Async on purpose: it does no I/O, and a sync guard would be sent to a thread.
    """
    rule = handler.opt.get("access")
    user = current_user(connection)
    if rule is None:
        raise PermissionDeniedException("Cette page n'a pas de règle d'accès.")
    if rule == "public":
        return
    if user is None:
        raise NotAuthorizedException("Connectez-vous pour continuer.")
    if rule == "signed_in":
        return
    if isinstance(rule, (tuple, list)) and user.role in rule:
        if user.is_staff and not user.works_for(request_territory(connection)):
            # Staff and admins belong to a territory: another territory's host is not theirs.
            raise PermissionDeniedException("Vous n'avez pas accès aux pages de ce territoire.")
        return
    raise PermissionDeniedException("Vous n'avez pas accès à cette page.")


PUBLIC: dict[str, Any] = {"access": "public"}
SIGNED_IN: dict[str, Any] = {"access": "signed_in"}
STAFF: dict[str, Any] = {"access": STAFF_ROLES}
# Elected officials read decision support (``/staff/insights``) and nothing else of the staff's.
INSIGHTS_ROLES = (*STAFF_ROLES, "elected")
INSIGHTS: dict[str, Any] = {"access": INSIGHTS_ROLES}
ADMIN: dict[str, Any] = {"access": ("admin",)}
# The super-administrator manages the install's territories; bound to none, on any host.
SUPERADMIN: dict[str, Any] = {"access": ("superadmin",)}
MERCHANT: dict[str, Any] = {"access": ("merchant", "admin")}
