"""Accounts in a phone-sized Chromium: sign-up, sign-in, the account page, deletion, administration."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import pytest

from workers import runner
from tests.test_accounts import mails
from tests.cheap_hashing import cheap_argon2  # noqa: F401  (autouse)
from tests.e2e.conftest import sign_in

SHOTS = Path("/tmp/shots")
pytestmark = pytest.mark.e2e
CSP_WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) =>
    window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.columnNumber));"""


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"accounts-{name}.png"), full_page=True)


def test_a_resident_signs_up_signs_out_and_signs_in_again_on_a_phone(
    live_server, phone, engine, settings
):
    context, page, log = phone
    context.add_init_script(CSP_WATCH)
    page.goto(f"{live_server.url}/signup")
    page.fill("#email", "camille@eclor.test")
    page.fill("#display_name", "Camille")
    page.check("input[name=consent]")
    shot(page, "signup")  # the screenshot leaves style="" on the focused field (its caret hidden)
    # As autofill or a password manager does: a style set on a field of the form, then taken off.
    page.evaluate("""() => { for (const id of ['email', 'display_name']) {
        const el = document.getElementById(id); el.style.outline = '1px solid'; el.style.outline = ''; } }""")
    page.evaluate("window.__same_page = true")
    page.click("button[type=submit]:has-text('Créer mon compte')")
    page.wait_for_url("**/signup?sent=1")
    page.wait_for_selector(".notice[role=status]")
    assert "nous avons écrit" in page.content()
    assert (
        page.evaluate("window.__same_page") is True
    )  # the form was boosted: its answer swapped in
    page.wait_for_timeout(300)  # htmx settles 20 ms after the swap
    assert page.evaluate("window.__csp") == []
    assert not [e for e in log.errors if "Content Security Policy" in e], log.errors
    shot(page, "signup-sent")
    # The address's owner follows the link of the e-mail and chooses the password.
    worker = threading.Thread(  # in its own thread: Playwright keeps an event loop in this one
        target=lambda: asyncio.run(
            runner.run(settings, engine, once=True, install_signals=False, services=False)
        )
    )
    worker.start()
    worker.join(60)
    (mail,) = mails(settings)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"/password/reset/\S+", text).group(0)
    page.goto(f"{live_server.url}{link}")
    page.fill("#password", "un-mot-de-passe-solide")
    page.fill("#password_again", "un-mot-de-passe-solide")
    page.click("form button[type=submit]")
    page.wait_for_url("**/me**")
    assert page.locator("h1").inner_text() == "Mon compte"
    shot(page, "me")
    page.click("button:has-text('Se déconnecter')")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/login")
    page.fill("#email", "camille@eclor.test")
    page.fill("#password", "mauvais-mot-de-passe")
    page.click("form[action='/login'] button[type=submit]")
    assert "E-mail ou mot de passe incorrect." in page.locator(".form-error").inner_text()
    shot(page, "login-error")
    page.fill("#password", "un-mot-de-passe-solide")
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert "Camille" in page.locator(".topbar").inner_text()
    # The 400 of the wrong password is the only thing the console reports.
    assert [e for e in log.errors if "status of 400" not in e] == []


def test_the_password_reset_and_legal_pages_render_on_a_phone(live_server, phone):
    _context, page, log = phone
    page.goto(f"{live_server.url}/password/forgot")
    shot(page, "forgot")
    page.fill("#email", "quelquun@eclor.test")
    page.click("button:has-text('Recevoir le lien')")
    page.wait_for_url("**/password/forgot?sent=1")
    assert "Si un compte existe" in page.content()
    shot(page, "forgot-sent")
    page.goto(f"{live_server.url}/privacy")
    shot(page, "privacy")
    assert log.errors == []
    page.goto(f"{live_server.url}/no-such-page")
    assert "Page introuvable" in page.locator("h1").inner_text()
    shot(page, "404")


def test_a_resident_deletes_their_account_from_a_phone(live_server, phone, resident):
    from tests.conftest import PERSONA_PASSWORD

    context, page, log = phone
    sign_in(context, live_server, resident)
    page.goto(f"{live_server.url}/me/delete")
    shot(page, "delete")
    page.fill("#password", PERSONA_PASSWORD)
    page.check("input[name=confirm]")
    page.click("button:has-text('Supprimer définitivement')")
    page.wait_for_url("**/account-deleted")
    shot(page, "deleted")
    page.goto(f"{live_server.url}/me")
    page.wait_for_url("**/login**")
    assert log.errors == []


def test_an_admin_changes_a_role_from_a_phone(live_server, phone, admin, personas):
    context, page, log = phone
    target = personas["other_resident"]
    sign_in(context, live_server, admin)
    page.goto(f"{live_server.url}/staff")
    shot(page, "staff-hub")
    page.click("a:has-text('Comptes et rôles')")
    page.wait_for_url("**/admin/users")
    page.fill("#q", "voisin")
    page.click("button:has-text('Chercher')")
    page.wait_for_url("**/admin/users?q=voisin**")
    page.select_option(f"#role-{target.id}", "staff")
    page.click(f"form[action='/admin/users/{target.id}/role'] button")
    page.wait_for_url("**changed=1**")
    assert "Le rôle a été changé" in page.content()
    page.goto(f"{live_server.url}/admin/users")
    shot(page, "admin-users")
    assert log.errors == []
