"""A territory's own mail server: the messages sent for it leave through its server (signed in
with the password its set-up names by environment variable), the other territories' through the
install's, and a server that cannot be used as set up fails the message with the reason."""

from __future__ import annotations

import asyncio
import copy
import json

import pytest
from sqlmodel import Session, col, select

from app import territory_demo
from app.db import write_session
from app.models.jobs import Job
from app.models.territory import Territory
from app.territory_setup import SetupError, create
from tests.smtp_server import SmtpServer
from workers import runner

ESCH = {"host": "esch.localhost"}
ENV = "ECLOR_TEST_MINETT_SMTP_PASSWORD"


def _minett(engine, smtp: dict) -> None:
    settings = copy.deepcopy(territory_demo.SETTINGS)
    settings["smtp"] = smtp
    with write_session(engine) as session:
        create(session, settings, territory_demo.COMMUNES)


def _signup(client, address: str, headers=None) -> None:
    answer = client.post_form(
        "/signup",
        {"email": address, "display_name": "Léa", "consent": "yes"},
        headers=headers or {},
    )
    assert answer.status_code == 303, answer.text


def _run_worker(settings, engine) -> None:
    asyncio.run(runner.run(settings, engine, once=True, install_signals=False, services=False))


def _files(settings) -> list[str]:
    folder = settings.mail_dir
    return [p.read_text(errors="replace") for p in folder.glob("*.eml")] if folder.exists() else []


def test_a_territorys_messages_leave_through_its_own_server_and_the_others_through_the_installs(
    engine, settings, client, monkeypatch
):
    monkeypatch.setenv(ENV, "s3cret-minett")
    with SmtpServer() as server:
        _minett(
            engine,
            {
                "host": "127.0.0.1",
                "port": server.port,
                "user": "eclor@minett.example",
                "password_env": ENV,
                "starttls": False,
            },
        )
        _signup(client, "lea@example.org", ESCH)
        _signup(client, "paul@example.org")
        _run_worker(settings, engine)
    [message] = server.received.messages
    assert message["To"] == "lea@example.org"
    assert message["From"] == "Eclor Minett <no-reply@minett.example>"
    assert server.received.logins == [("eclor@minett.example", "s3cret-minett")]
    # The first territory has none of its own: the install's (no ECLOR_SMTP_HOST: var/mail).
    written = _files(settings)
    assert len(written) == 1 and "paul@example.org" in written[0]
    assert "lea@example.org" not in written[0]


def test_a_password_variable_that_is_not_set_fails_the_message_with_the_reason(
    engine, settings, client, monkeypatch
):
    monkeypatch.delenv(ENV, raising=False)
    with SmtpServer() as server:
        _minett(
            engine,
            {"host": "127.0.0.1", "port": server.port, "password_env": ENV, "starttls": False},
        )
        _signup(client, "lea@example.org", ESCH)
        _run_worker(settings, engine)
    assert server.received.messages == []
    assert _files(settings) == []
    with Session(engine) as session:
        job = session.scalars(select(Job).where(col(Job.kind) == "mail.send")).one()
        assert ENV in (job.last_error or "")
        assert json.loads(job.payload)["territory_id"]


@pytest.mark.parametrize(
    ("smtp", "message"),
    [
        ("smtp.example.lu", "doit être un objet"),
        ({"host": "smtp.example.lu", "tls": True}, "doit être un objet"),
        ({"host": "smtp.example.lu:25"}, "nom d’hôte"),
        ({"host": "smtp.example.lu", "port": 70000}, "numéro de port"),
        ({"host": "smtp.example.lu", "port": "25"}, "numéro de port"),
        (
            {"host": "smtp.example.lu", "password_env": "hunter2 is my password"},
            "jamais le mot de passe",
        ),
        ({"host": "smtp.example.lu", "starttls": "yes"}, "true ou false"),
    ],
)
def test_a_mail_server_that_is_not_one_is_refused_and_nothing_is_written(engine, smtp, message):
    with pytest.raises(SetupError, match=message), write_session(engine) as session:
        settings = copy.deepcopy(territory_demo.SETTINGS)
        settings["smtp"] = smtp
        create(session, settings, territory_demo.COMMUNES)
    with Session(engine) as session:
        assert not session.scalars(select(Territory).where(col(Territory.slug) == "minett")).all()
