"""Web Push on the default settings: a fresh install sends pushes in development, production says what is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import push
from app.alerts.subscriptions import vapid_private_key
from app.settings import DEVELOPMENT_VAPID_SUBJECT, Settings, SettingsError
from tests.test_fanout import drain, make_user, publish, subscribe

try:
    from tests.pushreceiver import PushReceiver
except ModuleNotFoundError:  # tests/ itself on sys.path
    from pushreceiver import PushReceiver


@pytest.fixture
def receiver() -> Iterator[PushReceiver]:
    with PushReceiver(mode="full") as running:
        yield running


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ECLOR_"):
            monkeypatch.delenv(name)


def test_the_default_settings_give_a_subject_that_eclor_itself_accepts(
    clean_environment, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path).prepare()
    assert push.validate_vapid_subject(settings.vapid_subject) == settings.vapid_subject


def test_a_push_job_on_the_default_settings_reaches_the_push_service(
    clean_environment, db_url: str, tmp_path: Path, receiver: PushReceiver
) -> None:
    from app.db import make_engine

    # Only where the files and the database live differ from a fresh install.
    settings = Settings(var_dir=tmp_path / "var", database_url=db_url).prepare()
    assert settings.env == "development" and not settings.vapid_private_key
    public = push.application_server_key(
        vapid_private_key(settings, create=True) or ""
    )  # what `eclor vapid` does
    engine = make_engine(settings.resolved_database_url)
    try:
        user = make_user(engine, "nouvelle@eclor.test")
        names = [name for name, _id in subscribe(engine, receiver, user, public_key=public)]
        alert_id = publish(engine, title="Coupure d'eau à Thil")
        drain(settings, engine)
    finally:
        engine.dispose()
    got = receiver.received(names[0])
    assert [m["status"] for m in got] == [201]
    assert (
        got[0]["payload"]["title"] == "Coupure d'eau à Thil"
        and got[0]["payload"]["url"] == f"/alerts/{alert_id}"
    )
    assert got[0]["claims"]["sub"] == settings.vapid_subject


def test_an_https_base_url_or_a_real_sender_address_becomes_the_subject(
    clean_environment, tmp_path: Path
) -> None:
    assert (
        Settings(var_dir=tmp_path, base_url="https://eclor.ccphva.fr").prepare().vapid_subject
        == "https://eclor.ccphva.fr"
    )
    assert (
        Settings(var_dir=tmp_path, mail_from="Eclor <ne-pas-repondre@ccphva.fr>")
        .prepare()
        .vapid_subject
        == "mailto:ne-pas-repondre@ccphva.fr"
    )
    assert (
        Settings(var_dir=tmp_path, vapid_subject="mailto:contact@eclor.example")
        .prepare()
        .vapid_subject
        == DEVELOPMENT_VAPID_SUBJECT
    )


@pytest.mark.parametrize("subject", ["", "mailto:contact@eclor.example", "https://localhost"])
def test_production_refuses_to_start_without_a_real_vapid_subject(
    clean_environment, tmp_path: Path, subject: str
) -> None:
    with pytest.raises(SettingsError, match="ECLOR_VAPID_SUBJECT"):
        Settings(
            env="production",
            var_dir=tmp_path,
            database_url="postgresql://x/y",
            secret_key="k" * 40,
            vapid_subject=subject,
        ).prepare()
    assert (
        Settings(
            env="production",
            var_dir=tmp_path,
            database_url="postgresql://x/y",
            secret_key="k" * 40,
            vapid_subject="mailto:exploitation@ccphva.fr",
        )
        .prepare()
        .vapid_subject
        == "mailto:exploitation@ccphva.fr"
    )
