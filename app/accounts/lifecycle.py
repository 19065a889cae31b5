"""Account logic with more than one caller: reset links, role changes, export and deletion.

- Password reset links are single-use and short-lived; only the token's
  SHA-256 is stored; using one ends every session of the account.
- A role change ends every session of the account (a new session id comes
  with the next sign-in).
- ``export_zip`` gathers everything the domains hold on a person
  (``app.privacy.export_user``) with their files; ``delete_account`` runs
  every domain's eraser, then removes the account and what only it used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import zipfile
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from jinja2 import Environment
from sqlalchemy import delete, or_
from sqlmodel import Session, col, select

from app import auth, privacy
from app.db import saved_id, utcnow
from app.mail import send_mail
from app.territories import FALLBACK, Branding
from app.models.accounts import ROLES, Identity, OIDCLogin, PasswordReset, User, WebSession
from app.models.jobs import Job

log = logging.getLogger("eclor.accounts")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- password reset --------------------------------------------------------------------------


def request_password_reset(
    session: Session,
    email: str,
    *,
    base_url: str,
    minutes: int,
    jinja: Environment,
    territory: Branding = FALLBACK,
) -> bool:
    """Send a reset link if an active account has this address; say nothing either way."""
    user = session.scalars(
        select(User).where(col(User.email) == auth.normalise_email(email))
    ).first()
    if user is None or not user.is_active:
        return False
    now = utcnow()
    session.execute(delete(PasswordReset).where(col(PasswordReset.expires_at) < now))
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            id=_digest(token),
            user_id=saved_id(user),
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    link = f"{base_url.rstrip('/')}/password/reset/{token}"
    context = {
        "link": link,
        "minutes": minutes,
        "name": user.display_name or user.email.split("@")[0],
        "territory": territory,
    }
    text = jinja.get_template("accounts/email/reset.txt").render(context)
    html = jinja.get_template("accounts/email/reset.html").render(context)
    send_mail(
        session,
        user.email,
        "Réinitialiser votre mot de passe Eclor",
        text,
        html,
        sender=territory.mail_sender,
        territory_id=territory.id or None,
    )
    return True


def valid_reset(session: Session, token: str) -> PasswordReset | None:
    if not token or len(token) > 100:
        return None
    row = session.get(PasswordReset, _digest(token))
    if row is None or row.expires_at <= utcnow():
        return None
    return row


def use_reset(session: Session, token: str, password_hash: str) -> User | None:
    """Set the new password (hashed by the caller before its write transaction: hashing is slow on
    purpose), spend every reset link of the account and end all its sessions."""
    row = valid_reset(session, token)
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    user.password_hash = password_hash
    session.add(user)
    session.execute(delete(PasswordReset).where(col(PasswordReset.user_id) == user.id))
    auth.end_all_sessions(session, saved_id(user))
    session.flush()
    return user


# --- roles -------------------------------------------------------------------------------------


def change_role(session: Session, user: User, role: str) -> None:
    if role not in ROLES:
        raise ValueError(role)
    if user.role == role:
        return
    user.role = role
    session.add(user)
    # The person signs in again and gets a new session id with the new rights.
    auth.end_all_sessions(session, saved_id(user))


# --- privacy: export and deletion -------------------------------------------------------------


def export_account(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    user = session.get(User, user_id)
    if user is None:
        return {}, []
    identities = session.scalars(select(Identity).where(col(Identity.user_id) == user_id)).all()
    sessions = session.scalars(select(WebSession).where(col(WebSession.user_id) == user_id)).all()
    return {
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "locale": user.locale,
        "commune_insee": user.commune_insee,
        "created_at": user.created_at.isoformat(),
        "last_seen_at": user.last_seen_at.isoformat() if user.last_seen_at else None,
        "has_password": user.password_hash is not None,
        "identities": [
            {
                "provider": i.provider,
                "issuer": i.issuer,
                "subject": i.subject,
                "created_at": i.created_at.isoformat(),
                "last_used_at": i.last_used_at.isoformat() if i.last_used_at else None,
            }
            for i in identities
        ],
        "sessions": [
            {
                "created_at": s.created_at.isoformat(),
                "last_seen_at": s.last_seen_at.isoformat(),
                "expires_at": s.expires_at.isoformat(),
                "user_agent": s.user_agent,
            }
            for s in sessions
        ],
    }, []


def erase_account_rows(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Sign-in data and queued work that name the person (the user row goes last, in delete_account)."""
    user = session.get(User, user_id)
    session.execute(delete(Identity).where(col(Identity.user_id) == user_id))
    session.execute(delete(PasswordReset).where(col(PasswordReset.user_id) == user_id))
    session.execute(delete(OIDCLogin).where(col(OIDCLogin.link_user_id) == user_id))
    session.execute(delete(WebSession).where(col(WebSession.user_id) == user_id))
    needles = [f'"user_id":{user_id},', f'"user_id":{user_id}}}']
    if user is not None:
        needles.append(json.dumps(user.email))  # quoted: "a@x.fr" never matches "ba@x.fr"
    session.execute(
        delete(Job).where(or_(*[col(Job.payload).contains(n, autoescape=True) for n in needles]))
    )
    return []


def export_zip(session: Session, user_id: int, media_dir: Path) -> bytes:
    """A zip with ``eclor-donnees.json`` (everything held on the person) and their files."""
    data, files = privacy.export_user(session, user_id, media_dir)
    document = {"exported_at": utcnow().isoformat(), "format": "eclor-export-1", **data}
    buf = BytesIO()
    root = media_dir.resolve()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "eclor-donnees.json", json.dumps(document, ensure_ascii=False, indent=2, default=str)
        )
        zf.writestr("LISEZMOI.txt", README)
        seen: set[str] = set()
        for path in files:
            resolved = Path(path).resolve()
            if not resolved.is_file() or not resolved.is_relative_to(root):
                continue
            arcname = "fichiers/" + resolved.relative_to(root).as_posix()
            if arcname not in seen:
                seen.add(arcname)
                zf.write(resolved, arcname)
    return buf.getvalue()


README = """Vos données Eclor
=================

eclor-donnees.json : tout ce qu'Eclor conserve sur vous, rubrique par rubrique
(compte, signalements, covoiturage, partage, commerces, notifications...).
Les dates sont en temps universel (UTC), au format ISO 8601.

fichiers/ : les photos et documents que vous avez envoyés.
"""


def delete_account(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    """Erase the person everywhere (in the caller's transaction); return the files to delete after commit."""
    files = privacy.erase_user(session, user_id, media_dir)
    session.execute(delete(User).where(col(User.id) == user_id))
    session.flush()
    return files


def remove_files(files: list[Path], media_dir: Path) -> None:
    """Delete files once the deletion is committed (only inside the media folder)."""
    root = media_dir.resolve()
    for path in files:
        resolved = Path(path).resolve()
        if resolved.is_relative_to(root) and resolved != root:
            try:
                resolved.unlink(missing_ok=True)
            except OSError:
                log.warning(
                    "could not delete a file of an erased account", extra={"path": str(resolved)}
                )
