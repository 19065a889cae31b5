"""Admins invite staff from /admin/users: an account without a password and a single-use link to set one."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from app.models.accounts import PasswordReset, User
from tests.conftest import EclorClient
from workers import runner


def invitation_mails(settings: Any, engine: Any) -> list[email.message.EmailMessage]:
    """The e-mails the worker wrote (no SMTP host: files under var/mail/)."""
    asyncio.run(runner.run(settings, engine, once=True, services=False, install_signals=False))
    folder = Path(settings.mail_dir)
    out = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        out.append(email.message_from_bytes(path.read_bytes(), policy=email.policy.default))
    return out


def test_an_admin_invites_a_staff_member_who_sets_a_password_once_and_signs_in(
    admin, app, settings, engine
) -> None:
    answer = admin.client.post_form(
        "/admin/users/invite",
        {"email": "Ines.Agent@CCPHVA.fr", "display_name": "Inès (voirie)", "role": "staff"},
    )
    assert (
        answer.status_code == 303 and "invited=ines.agent%40ccphva.fr" in answer.headers["location"]
    )
    assert (
        "Invitation envoyée à ines.agent@ccphva.fr"
        in admin.client.get(answer.headers["location"]).text
    )
    with Session(engine) as s:
        user = s.scalars(select(User).where(User.email == "ines.agent@ccphva.fr")).one()
        assert (user.role, user.display_name, user.password_hash) == (
            "staff",
            "Inès (voirie)",
            None,
        )
    (mail,) = [m for m in invitation_mails(settings, engine) if m["to"] == "ines.agent@ccphva.fr"]
    assert mail["subject"] == "Votre accès à l’espace agents d’Eclor"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http\S+/password/reset/(\S+)", text)
    assert link and "7 jours" in text and "ne sert qu'une fois" in text
    path = "/password/reset/" + link.group(1)
    with EclorClient(app=app) as newcomer:
        assert newcomer.get(path).status_code == 200
        done = newcomer.post_form(
            path, {"password": "voirie-thil-2026", "password_again": "voirie-thil-2026"}
        )
        assert done.status_code == 303
        assert newcomer.get("/staff").status_code == 200  # signed in, with staff rights
        assert newcomer.get(path).status_code == 400  # the link works once
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(PasswordReset)) == 0


def test_an_invitation_to_a_bad_or_known_address_changes_nothing_and_keeps_the_form(
    admin, resident, engine, settings
) -> None:
    with Session(engine) as s:
        before = s.scalar(select(func.count()).select_from(User))
    bad = admin.client.post_form(
        "/admin/users/invite", {"email": "agent@", "display_name": "Paul", "role": "staff"}
    )
    assert (
        bad.status_code == 400
        and "Adresse e-mail invalide." in bad.text
        and 'value="Paul"' in bad.text
    )
    known = admin.client.post_form(
        "/admin/users/invite", {"email": resident.email, "role": "staff"}
    )
    assert known.status_code == 400 and "Un compte existe déjà pour cette adresse" in known.text
    role = admin.client.post_form(
        "/admin/users/invite", {"email": "x@ccphva.fr", "role": "resident"}
    )
    assert role.status_code == 400 and "Rôle inconnu." in role.text
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(User)) == before
    assert invitation_mails(settings, engine) == []


def test_only_admins_can_invite(staff, engine) -> None:
    assert (
        staff.client.post_form(
            "/admin/users/invite", {"email": "x@ccphva.fr", "role": "admin"}
        ).status_code
        == 403
    )
    with Session(engine) as s:
        assert s.scalars(select(User).where(User.email == "x@ccphva.fr")).first() is None
