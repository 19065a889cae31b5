"""Admins invite staff: the account is made without a password and the person sets one from a link.

The link is a password-reset token (``PasswordReset``: only its SHA-256 is
stored, it works once, then every link of the account is spent), valid
:data:`INVITATION_DAYS` days, sent by e-mail with who invited them. Used by
``/admin/users`` (``app/routes/admin.py``).
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from jinja2 import Environment
from sqlmodel import Session, col, select

from app import auth
from app.accounts.lifecycle import _digest
from app.db import saved_id, utcnow
from app.i18n import gettext as _
from app.mail import send_mail
from app.territories import FALLBACK, Branding
from app.models.accounts import PasswordReset, User

INVITATION_DAYS = 7
INVITABLE_ROLES = ("staff", "admin")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


class InvitationError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def invite(
    session: Session,
    email: str,
    *,
    role: str,
    display_name: str,
    invited_by: str,
    base_url: str,
    jinja: Environment,
    territory: Branding = FALLBACK,
) -> User:
    """Create a staff (or admin) account with no password and e-mail it a single-use link to set one."""
    address = auth.normalise_email(email)
    if not _EMAIL_RE.match(address) or len(address) > 254:
        raise InvitationError(_("Adresse e-mail invalide."), "email")
    if role not in INVITABLE_ROLES:
        raise InvitationError(_("Rôle inconnu."), "role")
    display_name = " ".join(display_name.split())[:80]
    if session.scalars(select(col(User.id)).where(col(User.email) == address)).first() is not None:
        raise InvitationError(
            _("Un compte existe déjà pour cette adresse : changez son rôle dans la liste."), "email"
        )
    user = auth.create_user(session, address, role=role, display_name=display_name)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PasswordReset(
            id=_digest(token),
            user_id=saved_id(user),
            created_at=now,
            expires_at=now + timedelta(days=INVITATION_DAYS),
        )
    )
    context = {
        "link": f"{base_url.rstrip('/')}/password/reset/{token}",
        "days": INVITATION_DAYS,
        "name": display_name or address.split("@")[0],
        "invited_by": invited_by,
        "role": "agent" if role == "staff" else "administrateur",
        "territory": territory,
    }
    # In French, like the password reset e-mail: the person's language is not known yet.
    send_mail(
        session,
        address,
        "Votre accès à l’espace agents d’Eclor",
        jinja.get_template("accounts/email/invite.txt").render(context),
        jinja.get_template("accounts/email/invite.html").render(context),
        sender=territory.mail_sender,
        territory_id=territory.id or None,
    )
    session.flush()
    return user
