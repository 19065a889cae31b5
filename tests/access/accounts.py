"""Access rules of the account routes (password reset, OpenID Connect, privacy self-service,
legal pages) and of the administration (staff hub, accounts and roles)."""

from __future__ import annotations

from typing import Any

from tests.access import AccessContext, Row, roles_only, same_for_all, signed_in_only

ANONYMOUS_POST = 401  # an unsafe request without a session is refused, not redirected


def a_reset_link(ctx: AccessContext) -> dict[str, Any]:
    """A live reset link of ``resident`` (opening it is public: the token is the credential)."""
    import hashlib
    import secrets
    from datetime import timedelta

    from app.db import utcnow, write_session
    from app.models.accounts import PasswordReset

    token = secrets.token_urlsafe(32)
    with write_session(ctx.engine) as session:
        session.add(
            PasswordReset(
                id=hashlib.sha256(token.encode()).hexdigest(),
                user_id=ctx.user_ids["resident"],
                expires_at=utcnow() + timedelta(minutes=30),
            )
        )
    return {"token": token}


def an_identity(ctx: AccessContext) -> dict[str, Any]:
    """An OpenID identity linked to ``resident`` (who also has a password, so it may be unlinked)."""
    from app.db import write_session
    from app.models.accounts import Identity

    with write_session(ctx.engine) as session:
        identity = Identity(
            user_id=ctx.user_ids["resident"],
            provider="fc",
            issuer="https://idp.example",
            subject="sub-1",
        )
        session.add(identity)
        session.flush()
        return {"identity_id": identity.id}


def another_account(ctx: AccessContext) -> dict[str, Any]:
    from app import auth
    from app.db import write_session

    with write_session(ctx.engine) as session:
        return {"user_id": auth.create_user(session, "cible@eclor.test").id}


def the_first_territory(ctx: AccessContext) -> dict[str, Any]:
    from sqlmodel import Session

    from app.territories import default_territory

    with Session(ctx.engine) as session:
        territory = default_territory(session)
        assert territory is not None
        return {"territory_id": territory.id}


# Only the super-administrator (no persona of the table) manages the territories.
NOBODY: tuple[str, ...] = ()

ROWS = [
    # Password reset: public; the link's token is the credential.
    Row("GET", "/password/forgot", same_for_all(200)),
    Row(
        "POST",
        "/password/forgot",
        same_for_all(400),
        data={"email": "pas-une-adresse"},
        notes="a valid address answers 303, but the per-account limit would then turn the 4th role into 429",
    ),
    Row("GET", "/password/reset/{token}", same_for_all(200), setup=a_reset_link),
    Row(
        "POST",
        "/password/reset/{token}",
        same_for_all(400),
        setup=a_reset_link,
        data={"password": "a-new-password-1", "password_again": "not-the-same-1"},
        notes="mismatched passwords: refused for everyone, the link stays usable",
    ),
    Row(
        "GET",
        "/password/reset/{token}",
        same_for_all(400),
        route="/password/reset/{token:str}",
        setup=lambda ctx: {"token": "not-a-real-token"},
        notes="an unknown link is a 400 page",
    ),
    # OpenID Connect: no provider is configured in the tests' settings, so every name is unknown.
    Row(
        "POST",
        "/login/oidc/{name}",
        same_for_all(404),
        setup=lambda ctx: {"name": "nope"},
        data={"next": "/"},
    ),
    Row(
        "GET", "/login/oidc/{name}/callback", same_for_all(404), setup=lambda ctx: {"name": "nope"}
    ),
    Row(
        "POST",
        "/me/identities/{name}/link",
        signed_in_only(404, anonymous=ANONYMOUS_POST),
        setup=lambda ctx: {"name": "nope"},
        route="/me/identities/{name:str}/link",
    ),
    Row(
        "POST",
        "/me/identities/{identity_id}/delete",
        {**signed_in_only(404, anonymous=ANONYMOUS_POST), "resident": 303},
        setup=an_identity,
        route="/me/identities/{identity_id:int}/delete",
        notes="only the owner unlinks their identity; anyone else gets 404",
    ),
    # Privacy self-service.
    Row("GET", "/me/export", signed_in_only(200)),
    Row("GET", "/me/delete", signed_in_only(200)),
    Row(
        "POST",
        "/me/delete",
        signed_in_only(400, anonymous=ANONYMOUS_POST),
        data={"confirm": "yes", "password": "not-my-password"},
        notes="a wrong password deletes nothing",
    ),
    Row("GET", "/account-deleted", same_for_all(200)),
    Row("GET", "/privacy", same_for_all(200)),
    Row("GET", "/terms", same_for_all(200)),
    # Staff hub and administration.
    Row("GET", "/staff", roles_only(("staff", "admin"))),
    Row("GET", "/admin/users", roles_only(("admin",))),
    Row(
        "POST",
        "/admin/users/{user_id}/role",
        roles_only(("admin",), 303, anonymous=ANONYMOUS_POST),
        setup=another_account,
        data={"role": "merchant"},
        route="/admin/users/{user_id:int}/role",
    ),
    Row(
        "POST",
        "/admin/users/invite",
        roles_only(("admin",), 400, anonymous=ANONYMOUS_POST),
        data={"email": "pas-une-adresse", "role": "staff"},
    ),
    # The install's territories: the super-administrator's (tests/test_territory_admin.py).
    Row("GET", "/admin/territories", roles_only(NOBODY)),
    Row(
        "GET",
        "/admin/territories/{territory_id}",
        roles_only(NOBODY),
        setup=the_first_territory,
        route="/admin/territories/{territory_id:int}",
    ),
    Row(
        "POST",
        "/admin/territories/{territory_id}",
        roles_only(NOBODY, anonymous=ANONYMOUS_POST),
        setup=the_first_territory,
        data={"name": "Pris", "colour_primary": "#000000", "colour_accent": "#ffffff"},
        route="/admin/territories/{territory_id:int}",
    ),
]
