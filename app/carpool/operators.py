"""Carpool operators: the platforms that book and message through the standard-covoiturage API.

``eclor carpool operator add NAME`` prints a key once; only its SHA-256 is
kept. An operator's users are Eclor accounts that cannot sign in
(``is_active`` false, no password, an address under ``.invalid``), so their
bookings and messages follow the residents' rules (seats, blocks, notices).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlmodel import Session, col, select

from app.auth import create_user
from app.carpool.trips import CarpoolError
from app.db import saved_id, utcnow
from app.models.accounts import User
from app.models.carpool_interop import CarpoolOperator, CarpoolOperatorUser

KEY_PREFIX = "eclorcp_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_operator(session: Session, name: str) -> tuple[CarpoolOperator, str]:
    """A new operator and its key (shown once)."""
    name = name.strip()
    if not 1 <= len(name) <= 80:
        raise CarpoolError("Le nom de l'opérateur doit compter 1 à 80 caractères.")
    if session.scalars(select(CarpoolOperator).where(col(CarpoolOperator.name) == name)).first():
        raise CarpoolError(f"L'opérateur « {name} » existe déjà.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    operator = CarpoolOperator(name=name, key_hash=_digest(key), key_prefix=key[:12])
    session.add(operator)
    session.flush()
    return operator, key


def revoke_operator(session: Session, name: str) -> bool:
    operator = session.scalars(
        select(CarpoolOperator).where(col(CarpoolOperator.name) == name)
    ).first()
    if operator is None or operator.revoked_at is not None:
        return False
    operator.revoked_at = utcnow()
    session.add(operator)
    return True


def set_callback(
    session: Session, name: str, url: str, token: str, *, allow_loopback: bool
) -> CarpoolOperator:
    """Where the operator receives booking changes (``PATCH {url}/bookings/{id}``); empty url: none."""
    from urllib.parse import urlsplit

    from app import outbound

    operator = session.scalars(
        select(CarpoolOperator).where(col(CarpoolOperator.name) == name)
    ).first()
    if operator is None or operator.revoked_at is not None:
        raise CarpoolError(f"Aucun opérateur actif nommé « {name} ».")
    url, token = url.strip(), token.strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
            raise CarpoolError(
                "L'adresse de rappel doit être une adresse http(s) de 500 caractères au plus."
            )
        if parts.query or parts.fragment:
            raise CarpoolError("L'adresse de rappel est une base, sans « ? » ni « # ».")
        try:
            outbound.check_host(parts.hostname, allow_loopback=allow_loopback)
        except outbound.NotPublic as exc:
            raise CarpoolError(str(exc)) from None
        if len(token) > 500:
            raise CarpoolError("Le jeton de l'opérateur compte 500 caractères au plus.")
    operator.callback_url = url or None
    operator.callback_token = (token or None) if url else None
    session.add(operator)
    return operator


def operator_for_key(session: Session, key: str) -> CarpoolOperator | None:
    """The operator whose key this is (not revoked), or None."""
    if not key:
        return None
    found = session.scalars(
        select(CarpoolOperator).where(col(CarpoolOperator.key_hash) == _digest(key))
    ).first()
    if found is None or found.revoked_at is not None:
        return None
    if not hmac.compare_digest(found.key_hash, _digest(key)):
        return None
    return found


def account_of(session: Session, operator: CarpoolOperator, external_id: str, alias: str) -> int:
    """The Eclor account standing for an operator's user (created on first use)."""
    external_id = external_id.strip()
    if not 1 <= len(external_id) <= 255:
        raise CarpoolError("Identifiant d'utilisateur de l'opérateur invalide.")
    link = session.scalars(
        select(CarpoolOperatorUser).where(
            col(CarpoolOperatorUser.operator_id) == operator.id,
            col(CarpoolOperatorUser.external_id) == external_id,
        )
    ).first()
    if link is not None:
        user = session.get(User, link.user_id)
        if user is not None and alias and user.display_name != alias[:80]:
            user.display_name = alias[:80]
            session.add(user)
        return link.user_id
    tag = hashlib.sha256(f"{operator.id}:{external_id}".encode()).hexdigest()[:24]
    user = create_user(
        session, f"op{operator.id}-{tag}@carpool-operators.invalid", display_name=alias[:80]
    )
    user.is_active = False  # cannot sign in; notices for it are not sent
    session.add(user)
    session.add(
        CarpoolOperatorUser(
            operator_id=saved_id(operator), external_id=external_id, user_id=saved_id(user)
        )
    )
    session.flush()
    return saved_id(user)


def external_identity(session: Session, user_id: int) -> tuple[str, str] | None:
    """(operator name, the user's id there) when the account stands for an operator's user."""
    row = session.execute(
        select(col(CarpoolOperator.name), col(CarpoolOperatorUser.external_id))
        .join(CarpoolOperator, col(CarpoolOperator.id) == col(CarpoolOperatorUser.operator_id))
        .where(col(CarpoolOperatorUser.user_id) == user_id)
    ).first()
    return (row[0], row[1]) if row else None
