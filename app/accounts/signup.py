"""Sign-up that does not tell who has an account.

Whatever the address, ``/signup`` answers the same page ("we sent you an
e-mail") and only the mailbox learns the rest:

- a new address gets an account without a password and a single-use link to
  choose one (``PasswordReset``, as for staff invitations); the account is
  usable once the link is followed, so nobody can create a working account
  for an address that is not theirs;
- an address whose account has no password yet (an unfinished sign-up) gets
  a fresh link;
- an address that already has an account gets an e-mail saying so, with the
  sign-in and forgotten-password links; nothing about the account changes.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from jinja2 import Environment
from sqlmodel import Session, col, select

from app import auth
from app.accounts.lifecycle import _digest
from app.db import saved_id, utcnow
from app.mail import send_mail
from app.territories import FALLBACK, Branding
from app.models.accounts import PasswordReset, User

LINK_HOURS = 24


def sign_up(
    session: Session,
    email: str,
    *,
    display_name: str,
    base_url: str,
    jinja: Environment,
    territory: Branding = FALLBACK,
) -> None:
    """Create the account or tell the address's owner it exists; the e-mail says which."""
    address = auth.normalise_email(email)
    base = base_url.rstrip("/")
    user = session.scalars(select(User).where(col(User.email) == address)).first()
    if user is not None and (user.password_hash or not user.is_active):
        context: dict[str, Any] = {
            "name": user.display_name or address.split("@")[0],
            "login": f"{base}/login",
            "forgot": f"{base}/password/forgot",
            "territory": territory,
        }
        send_mail(
            session,
            address,
            "Vous avez déjà un compte Eclor",
            jinja.get_template("accounts/email/signup_exists.txt").render(context),
            jinja.get_template("accounts/email/signup_exists.html").render(context),
            sender=territory.mail_sender,
            territory_id=territory.id or None,
        )
        return
    if user is None:
        user = auth.create_user(session, address, display_name=" ".join(display_name.split())[:80])
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PasswordReset(
            id=_digest(token),
            user_id=saved_id(user),
            created_at=now,
            expires_at=now + timedelta(hours=LINK_HOURS),
        )
    )
    context = {
        "name": user.display_name or address.split("@")[0],
        "link": f"{base}/password/reset/{token}",
        "hours": LINK_HOURS,
        "territory": territory,
    }
    send_mail(
        session,
        address,
        "Finissez de créer votre compte Eclor",
        jinja.get_template("accounts/email/signup.txt").render(context),
        jinja.get_template("accounts/email/signup.html").render(context),
        sender=territory.mail_sender,
        territory_id=territory.id or None,
    )
