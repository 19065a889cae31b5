"""Rate limits shared by every web process: fixed windows counted in the database.

A limit is a number of hits per window for one action (``login``,
``password_reset``, ``signup``...) and one subject (an IP address, an
e-mail address). Each hit is an atomic upsert (``INSERT ... ON CONFLICT DO
UPDATE ... RETURNING``) in its own committed transaction, so hits are counted
even when the request then fails, and two web nodes never lose a count.
Subjects are stored as a keyed hash: the table holds no address in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import timedelta

from litestar.exceptions import TooManyRequestsException
from sqlalchemy import delete
from sqlmodel import Session, col

from app.db import begin_write, insert_or_update, utcnow
from app.models.accounts import RateLimit


@dataclass(frozen=True)
class Limit:
    action: str
    hits: int
    window_s: int


# Sign-in: per address and per account; reset links and sign-ups: per address and per account.
LOGIN_IP = Limit("login_ip", 30, 15 * 60)
LOGIN_ACCOUNT = Limit("login_account", 10, 15 * 60)
RESET_IP = Limit("reset_ip", 10, 60 * 60)
RESET_ACCOUNT = Limit("reset_account", 3, 60 * 60)
SIGNUP_IP = Limit("signup_ip", 10, 60 * 60)
# Looking for reports near a place (the report form): per account.
NEARBY_ACCOUNT = Limit("nearby_account", 30, 10 * 60)


def subject_key(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.strip().lower().encode(), hashlib.sha256).hexdigest()


def hit(session: Session, limit: Limit, subject: str) -> int:
    """Count one hit in the current window; return the hits counted so far in it (this one included)."""
    now = utcnow()
    epoch = int(now.timestamp())
    window_start = epoch - epoch % limit.window_s
    values = {
        "action": limit.action,
        "subject": subject,
        "window_start": window_start,
        "hits": 1,
        "expires_at": now + timedelta(seconds=limit.window_s),
    }
    stmt = insert_or_update(session, RateLimit).values(**values)
    counted = stmt.on_conflict_do_update(
        index_elements=["action", "subject", "window_start"],
        set_={"hits": col(RateLimit.hits) + 1},
    ).returning(col(RateLimit.hits))
    return int(session.execute(counted).scalar_one())


def check(session: Session, secret: str, checks: list[tuple[Limit, str]]) -> None:
    """Count a hit for each (limit, subject) and raise 429 (with Retry-After) if one is over.

    The hits are committed at once, whatever the request does next; the
    session then holds the write lock again for the caller.
    """
    retry_after = 0
    now_epoch = utcnow().timestamp()
    for limit, value in checks:
        if not value:
            continue
        count = hit(session, limit, subject_key(secret, f"{limit.action}:{value}"))
        if count > limit.hits:
            window_end = (int(now_epoch) // limit.window_s + 1) * limit.window_s
            retry_after = max(retry_after, math.ceil(window_end - now_epoch))
    session.execute(delete(RateLimit).where(col(RateLimit.expires_at) < utcnow()))
    session.commit()
    begin_write(session)
    if retry_after:
        raise TooManyRequestsException(
            "Trop de tentatives en peu de temps. Patientez quelques minutes puis réessayez.",
            headers={"Retry-After": str(max(retry_after, 1))},
        )
