"""Accounts: password sign-in, sessions, password reset by e-mail, rate limits, roles and the staff hub."""

from __future__ import annotations

import asyncio
import email
import re
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from sqlalchemy import func, select, update

from app import auth
from app.db import utcnow, write_session
from app.models.accounts import PasswordReset, RateLimit, User, WebSession
from tests.cheap_hashing import cheap_argon2  # noqa: F401  (autouse)
from tests.conftest import EclorClient
from workers import runner


def run_worker(settings, engine) -> None:
    asyncio.run(runner.run(settings, engine, once=True, install_signals=False, services=False))


def mails(settings) -> list[EmailMessage]:
    folder: Path = settings.mail_dir
    if not folder.is_dir():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=default_policy)
        for p in sorted(folder.glob("*.eml"))
    ]


def make_user(
    engine,
    address: str = "lea@eclor.test",
    password: str = "lea-password-2026",
    role: str = "resident",
) -> int:
    with write_session(engine) as s:
        return auth.create_user(s, address, password=password, role=role).id


def sessions_of(engine, user_id: int) -> int:
    with write_session(engine) as s:
        return (
            s.scalar(
                select(func.count()).select_from(WebSession).where(WebSession.user_id == user_id)
            )
            or 0
        )


# --- sign-in and sessions -------------------------------------------------------------------------


def test_the_session_cookie_changes_at_sign_in_and_the_old_one_is_worthless(client, engine):
    make_user(engine)
    client.post_form("/login", {"email": "lea@eclor.test", "password": "lea-password-2026"})
    first = client.cookies.get(auth.SESSION_COOKIE)
    assert first and client.get("/me").status_code == 200
    r = client.post_form("/login", {"email": "lea@eclor.test", "password": "lea-password-2026"})
    assert r.status_code == 303
    second = client.cookies.get(auth.SESSION_COOKIE)
    assert second and second != first
    with EclorClient(app=client.app) as thief:
        thief.cookies.set(auth.SESSION_COOKIE, first)
        assert thief.get("/me", follow_redirects=False).status_code == 303
    assert client.get("/me").status_code == 200


def test_a_cookie_planted_before_sign_in_is_not_kept(client, engine):
    make_user(engine)
    client.cookies.set(auth.SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")
    client.post_form("/login", {"email": "lea@eclor.test", "password": "lea-password-2026"})
    assert client.cookies.get(auth.SESSION_COOKIE) != "planted-by-an-attacker"


def test_after_logout_the_cookie_is_worthless(client, engine):
    user_id = make_user(engine)
    client.post_form("/login", {"email": "lea@eclor.test", "password": "lea-password-2026"})
    token = client.cookies.get(auth.SESSION_COOKIE)
    r = client.post_form("/logout")
    assert r.status_code == 303
    assert sessions_of(engine, user_id) == 0
    with EclorClient(app=client.app) as replay:
        replay.cookies.set(auth.SESSION_COOKIE, token)
        assert replay.get("/me", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_without_saying_which_field(client, engine):
    make_user(engine)
    r = client.post_form("/login", {"email": "lea@eclor.test", "password": "not-the-password"})
    assert r.status_code == 400 and "E-mail ou mot de passe incorrect." in r.text
    r = client.post_form("/login", {"email": "nobody@eclor.test", "password": "not-the-password"})
    assert r.status_code == 400 and "E-mail ou mot de passe incorrect." in r.text
    assert client.cookies.get(auth.SESSION_COOKIE) is None


def test_sign_in_follows_only_local_next_urls(client, engine):
    make_user(engine)
    r = client.post_form(
        "/login",
        {"email": "lea@eclor.test", "password": "lea-password-2026", "next": "//evil.example/x"},
    )
    assert r.headers["location"] == "/"


def test_a_session_idle_too_long_ends(resident, engine, settings):
    assert resident.client.get("/me").status_code == 200
    with write_session(engine) as s:
        s.execute(
            update(WebSession)
            .where(WebSession.user_id == resident.id)
            .values(last_seen_at=utcnow() - timedelta(minutes=settings.session_idle_minutes + 1))
        )
    r = resident.client.get("/me", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert sessions_of(engine, resident.id) == 0


def test_a_session_ends_at_its_absolute_lifetime_even_when_active(resident, engine):
    with write_session(engine) as s:
        s.execute(
            update(WebSession)
            .where(WebSession.user_id == resident.id)
            .values(last_seen_at=utcnow(), expires_at=utcnow() - timedelta(seconds=1))
        )
    assert resident.client.get("/me", follow_redirects=False).status_code == 303


def test_activity_keeps_a_session_alive(resident, engine, settings):
    with write_session(engine) as s:
        s.execute(
            update(WebSession)
            .where(WebSession.user_id == resident.id)
            .values(last_seen_at=utcnow() - timedelta(minutes=settings.session_idle_minutes - 10))
        )
    assert resident.client.get("/me").status_code == 200
    with write_session(engine) as s:
        seen = s.scalars(
            select(WebSession.last_seen_at).where(WebSession.user_id == resident.id)
        ).one()
    assert utcnow() - seen < timedelta(minutes=1)


def test_the_session_cookie_is_httponly_and_lax(client, engine):
    make_user(engine)
    r = client.post_form("/login", {"email": "lea@eclor.test", "password": "lea-password-2026"})
    cookie = [
        v
        for k, v in r.headers.multi_items()
        if k == "set-cookie" and v.startswith(auth.SESSION_COOKIE)
    ][0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


def signup(client, address: str, name: str = "Léo"):
    return client.post_form("/signup", {"email": address, "display_name": name, "consent": "yes"})


def test_signup_mails_a_link_to_choose_the_password_which_signs_in(client, engine, settings):
    r = signup(client, "Nouveau@Eclor.test")
    assert r.status_code == 303 and r.headers["location"] == "/signup?sent=1"
    assert "nous avons écrit à l’adresse indiquée" in client.get(r.headers["location"]).text
    with write_session(engine) as s:
        user = s.scalars(select(User).where(User.email == "nouveau@eclor.test")).one()
        # No password yet: the account is unusable until the mailbox's owner follows the link.
        assert user.role == "resident" and user.password_hash is None
    run_worker(settings, engine)
    msg = mails(settings)[-1]
    assert msg["To"] == "nouveau@eclor.test"
    assert msg["Subject"] == "Finissez de créer votre compte Eclor"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    link = "/password/reset/" + re.search(r"/password/reset/(\S+)", text).group(1)
    chosen = {"password": "a-good-password", "password_again": "a-good-password"}
    r = client.post_form(link, chosen)
    assert r.status_code == 303 and r.headers["location"].startswith("/me")
    assert client.get("/me").status_code == 200
    with write_session(engine) as s:
        user = s.scalars(select(User).where(User.email == "nouveau@eclor.test")).one()
        assert user.password_hash.startswith("$argon2id$")


def test_signup_answers_the_same_for_an_existing_address_and_the_e_mail_says_it(
    client, engine, settings
):
    make_user(engine)
    fresh = signup(client, "someone-new@eclor.test")
    taken = signup(client, "Lea@eclor.test")
    assert (taken.status_code, taken.headers["location"]) == (
        fresh.status_code,
        fresh.headers["location"],
    )
    assert (
        "Un compte existe déjà avec cette adresse" not in client.get(taken.headers["location"]).text
    )
    with write_session(engine) as s:
        lea = s.scalars(select(User).where(User.email == "lea@eclor.test")).one()
        assert auth.verify_password(lea.password_hash, "lea-password-2026")  # untouched
        assert s.scalar(select(func.count()).select_from(PasswordReset)) == 1  # the new one's
    run_worker(settings, engine)
    told = [m for m in mails(settings) if m["To"] == "lea@eclor.test"]
    assert len(told) == 1 and told[0]["Subject"] == "Vous avez déjà un compte Eclor"
    body = told[0].get_body(preferencelist=("plain",)).get_content()
    assert "/login" in body and "/password/forgot" in body and "/password/reset/" not in body


def test_signup_refuses_bad_input_with_french_messages_and_creates_nothing(client, engine):
    r = client.post_form("/signup", {"email": "pas-une-adresse"})
    assert r.status_code == 400
    assert "Adresse e-mail invalide." in r.text
    assert "Ce champ est obligatoire." in r.text  # consent
    with write_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


# --- password reset -------------------------------------------------------------------------------


def reset_link(settings, engine, client, address: str = "lea@eclor.test") -> str:
    r = client.post_form("/password/forgot", {"email": address})
    assert r.status_code == 303 and r.headers["location"] == "/password/forgot?sent=1"
    run_worker(settings, engine)
    msg = mails(settings)[-1]
    text = msg.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S+/password/reset/(\S+)", text)
    assert match, text
    return "/password/reset/" + match.group(1)


def test_a_reset_link_arrives_by_e_mail_in_french_with_text_and_html(client, engine, settings):
    make_user(engine)
    link = reset_link(settings, engine, client)
    msg = mails(settings)[-1]
    assert msg["To"] == "lea@eclor.test"
    assert msg["Subject"] == "Réinitialiser votre mot de passe Eclor"
    assert "Bonjour" in msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert link in html and "30 minutes" in html
    with write_session(engine) as s:
        stored = s.scalars(select(PasswordReset.id)).one()
    assert link.rsplit("/", 1)[1] not in stored  # only a hash of the token is stored


def test_a_reset_sets_the_password_ends_all_other_sessions_and_is_single_use(
    client, engine, settings, app
):
    user_id = make_user(engine)
    with EclorClient(app=app) as phone:
        phone.post_form("/login", {"email": "lea@eclor.test", "password": "lea-password-2026"})
        assert phone.get("/me").status_code == 200
        link = reset_link(settings, engine, client)
        assert client.get(link).status_code == 200
        r = client.post_form(
            link, {"password": "brand-new-password", "password_again": "brand-new-password"}
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/me")
        assert client.get("/me").status_code == 200  # this browser is signed in
        assert phone.get("/me", follow_redirects=False).status_code == 303  # the other one is not
    assert sessions_of(engine, user_id) == 1
    r = client.post_form(
        link, {"password": "another-password-1", "password_again": "another-password-1"}
    )
    assert r.status_code == 400 and "ne fonctionne plus" in r.text
    with write_session(engine) as s:
        user = s.get(User, user_id)
        assert auth.verify_password(user.password_hash, "brand-new-password")


def test_an_expired_reset_link_is_refused(client, engine, settings):
    user_id = make_user(engine)
    link = reset_link(settings, engine, client)
    with write_session(engine) as s:
        s.execute(update(PasswordReset).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get(link).status_code == 400
    r = client.post_form(
        link, {"password": "brand-new-password", "password_again": "brand-new-password"}
    )
    assert r.status_code == 400
    with write_session(engine) as s:
        assert auth.verify_password(s.get(User, user_id).password_hash, "lea-password-2026")


def test_a_reset_with_mismatched_passwords_changes_nothing(client, engine, settings):
    user_id = make_user(engine)
    link = reset_link(settings, engine, client)
    r = client.post_form(
        link, {"password": "brand-new-password", "password_again": "other-password-x"}
    )
    assert r.status_code == 400 and "pas identiques" in r.text
    with write_session(engine) as s:
        assert auth.verify_password(s.get(User, user_id).password_hash, "lea-password-2026")
        assert s.scalar(select(func.count()).select_from(PasswordReset)) == 1


def test_asking_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(
    client, engine, settings
):
    r = client.post_form("/password/forgot", {"email": "nobody@eclor.test"})
    assert r.status_code == 303 and r.headers["location"] == "/password/forgot?sent=1"
    run_worker(settings, engine)
    assert mails(settings) == []


# --- rate limits --------------------------------------------------------------------------------


def test_too_many_sign_in_attempts_on_one_account_get_a_429_with_retry_after(client, engine):
    make_user(engine)
    for _ in range(10):
        assert (
            client.post_form("/login", {"email": "lea@eclor.test", "password": "wrong"}).status_code
            == 400
        )
    r = client.post_form("/login", {"email": "lea@eclor.test", "password": "lea-password-2026"})
    assert r.status_code == 429
    assert 0 < int(r.headers["retry-after"]) <= 15 * 60
    assert "Trop de tentatives" in r.text and "Traceback" not in r.text
    assert client.cookies.get(auth.SESSION_COOKIE) is None


def test_the_limit_is_shared_by_every_web_process(app, engine, settings):
    """Two app instances (two web processes) on one database count together."""
    from app.main import create_app

    make_user(engine)
    other_app = create_app(settings, engine)
    with EclorClient(app=app) as a, EclorClient(app=other_app) as b:
        for i in range(10):
            (a if i % 2 else b).post_form(
                "/login", {"email": "lea@eclor.test", "password": "wrong"}
            )
        assert (
            a.post_form("/login", {"email": "lea@eclor.test", "password": "wrong"}).status_code
            == 429
        )
        assert (
            b.post_form("/login", {"email": "lea@eclor.test", "password": "wrong"}).status_code
            == 429
        )


def test_rate_limit_rows_hold_no_address_in_clear(client, engine):
    client.post_form("/login", {"email": "lea@eclor.test", "password": "wrong"})
    with write_session(engine) as s:
        rows = s.scalars(select(RateLimit)).all()
    assert rows and all("lea" not in r.subject and "testclient" not in r.subject for r in rows)


def test_reset_requests_are_limited_per_account(client, engine, settings):
    make_user(engine)
    for _ in range(3):
        assert client.post_form("/password/forgot", {"email": "lea@eclor.test"}).status_code == 303
    assert client.post_form("/password/forgot", {"email": "lea@eclor.test"}).status_code == 429
    run_worker(settings, engine)
    assert len(mails(settings)) == 3


def test_sign_ups_are_limited_per_address(client):
    for i in range(10):
        client.post_form("/signup", {"email": f"x{i}@eclor.test", "password": "short"})
    r = client.post_form(
        "/signup", {"email": "y@eclor.test", "password": "a-good-password", "consent": "yes"}
    )
    assert r.status_code == 429 and r.headers["retry-after"]


# --- roles, the admin page and the staff hub ----------------------------------------------------------


def test_the_admin_lists_searches_and_pages_users(admin, engine):
    with write_session(engine) as s:
        for i in range(30):
            auth.create_user(s, f"habitant{i:02d}@eclor.test", display_name=f"Habitant {i}")
        auth.create_user(s, "gerard@commerce.test", role="merchant", display_name="Gérard")
    r = admin.client.get("/admin/users")
    assert r.status_code == 200 and "32 comptes" in r.text
    assert "habitant00@eclor.test" in r.text and "Suivants" in r.text
    page2 = admin.client.get("/admin/users?page=2")
    assert "habitant29@eclor.test" in page2.text and "habitant00@eclor.test" not in page2.text
    found = admin.client.get("/admin/users?q=GÉRARD".replace("É", "e"))
    assert "gerard@commerce.test" in found.text and "habitant01" not in found.text
    assert admin.client.get("/admin/users?page=abc").status_code == 200


def test_a_role_change_ends_the_person_s_sessions(admin, resident, engine):
    assert resident.client.get("/me").status_code == 200
    r = admin.client.post_form(
        f"/admin/users/{resident.id}/role", {"role": "merchant", "back": "/admin/users?page=1"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/users?page=1&changed=1"
    assert resident.client.get("/me", follow_redirects=False).status_code == 303
    with write_session(engine) as s:
        assert s.get(User, resident.id).role == "merchant"
    assert sessions_of(engine, resident.id) == 0


def test_an_unknown_role_or_user_changes_nothing(admin, resident, engine):
    r = admin.client.post_form(f"/admin/users/{resident.id}/role", {"role": "superuser"})
    assert r.status_code == 400 and "Rôle inconnu." in r.text
    assert admin.client.post_form("/admin/users/999999/role", {"role": "staff"}).status_code == 404
    with write_session(engine) as s:
        assert s.get(User, resident.id).role == "resident"


def test_an_admin_cannot_change_their_own_role(admin, engine):
    r = admin.client.post_form(f"/admin/users/{admin.id}/role", {"role": "resident"})
    assert r.status_code == 400
    with write_session(engine) as s:
        assert s.get(User, admin.id).role == "admin"


def test_only_admins_reach_the_admin_page(staff, resident, client):
    assert staff.client.get("/admin/users").status_code == 403
    assert (
        resident.client.post_form(f"/admin/users/{resident.id}/role", {"role": "admin"}).status_code
        == 403
    )
    assert client.get("/admin/users", follow_redirects=False).status_code == 303


def test_the_staff_hub_lists_staff_links_by_role(staff, admin, resident):
    from app.interfaces import Link
    from app.sections import STAFF_LINKS

    saved = list(STAFF_LINKS)
    try:
        STAFF_LINKS.insert(0, Link(1, "/staff/test-tool", "Outil de test", "Pour les agents."))
        assert "Outil de test" in staff.client.get("/staff").text
        assert "Comptes et rôles" not in staff.client.get("/staff").text
        assert "Comptes et rôles" in admin.client.get("/staff").text
        assert resident.client.get("/staff").status_code == 403
    finally:
        STAFF_LINKS[:] = saved
