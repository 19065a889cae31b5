"""The CSRF token is bound to the session: a token valid elsewhere is refused.

Litestar's double submit alone accepts any validly signed token that equals
the ``csrftoken`` cookie; one planted in a victim's browser (another
account's, or a signed-out visitor's) let a forged form through.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from app.db import read_session
from app.models.carpool import CarpoolProfile
from tests.conftest import PERSONA_PASSWORD, EclorClient


def planted(client: EclorClient, token: str) -> None:
    """The victim's browser now holds ``token`` as its CSRF cookie (cookie tossing)."""
    client.cookies.delete("csrftoken")
    client.cookies.set("csrftoken", token, domain="testserver.local")


def forged_profile(client: EclorClient, token: str):
    return client.post(
        "/carpool/profile",
        data={"_csrf_token": token, "first_name": "Pirate", "phone": "", "about": ""},
        follow_redirects=False,
    )


def first_name(engine, user_id: int) -> str | None:
    with read_session(engine) as s:
        profile = s.get(CarpoolProfile, user_id)
        return profile.first_name if profile else None


def test_another_accounts_csrf_token_planted_in_a_victims_browser_is_refused(engine, personas):
    victim, attacker = personas["resident"], personas["other_resident"]
    theirs = attacker.client.csrf_token()
    assert forged_profile(attacker.client, theirs).status_code == 303  # valid in its own session
    planted(victim.client, theirs)
    assert forged_profile(victim.client, theirs).status_code == 403
    assert first_name(engine, victim.id) is None


def test_a_signed_out_visitors_csrf_token_is_refused_once_signed_in(app, engine, personas):
    victim = personas["resident"]
    with EclorClient(app=app) as anonymous:
        token = anonymous.csrf_token()
    planted(victim.client, token)
    assert forged_profile(victim.client, token).status_code == 403
    assert first_name(engine, victim.id) is None
    # The page the victim opens carries the session's own token, and that one works.
    page = victim.client.get("/carpool/profile").text
    own = re.search(r'name="_csrf_token" value="([^"]+)"', page).group(1)
    assert own != token
    assert forged_profile(victim.client, own).status_code == 303
    assert first_name(engine, victim.id) == "Pirate"


def test_signing_in_replaces_the_signed_out_token(app, engine, personas):
    assert personas["resident"].email == "resident@eclor.test"  # the account exists
    with EclorClient(app=app) as c:
        before = c.csrf_token()
        r = c.post_form("/login", {"email": "resident@eclor.test", "password": PERSONA_PASSWORD})
        assert r.status_code == 303
        after = c.cookies.get("csrftoken")
        assert after and after != before
        assert forged_profile(c, before).status_code == 403
        assert forged_profile(c, after).status_code == 303
    with read_session(engine) as s:
        assert s.scalars(select(CarpoolProfile)).one().first_name == "Pirate"
