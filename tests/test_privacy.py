"""Privacy self-service: the export of one's data and the deletion of one's account."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text, update

from app import auth, privacy
from app.db import utcnow, write_session
from app.jobs import enqueue
from app.mail import send_mail
from app.models.accounts import Identity, OIDCLogin, PasswordReset, User, WebSession
from app.notify import notify
from tests.cheap_hashing import cheap_argon2  # noqa: F401  (autouse)
from tests.conftest import PERSONA_PASSWORD, EclorClient


@pytest.fixture
def photo_domain(settings) -> Any:
    """A domain that keeps a photo per person, handed to privacy the way ``app.domains.install`` does."""
    media: Path = settings.resolved_media_dir
    saved = dict(privacy.EXPORTERS), dict(privacy.ERASERS)

    def path_of(user_id: int) -> Path:
        return media / "test-photos" / f"{user_id}.jpg"

    def export(session, user_id, media_dir):
        p = path_of(user_id)
        return ({"photos": [p.name]} if p.exists() else {"photos": []}), ([p] if p.exists() else [])

    def erase(session, user_id, media_dir):
        p = path_of(user_id)
        return [p] if p.exists() else []

    privacy.EXPORTERS["zz_photos"], privacy.ERASERS["zz_photos"] = export, erase

    def add(user_id: int) -> Path:
        p = path_of(user_id)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\xff\xd8\xff\xe0 a photo of a dump site")
        return p

    yield add
    privacy.EXPORTERS.clear(), privacy.EXPORTERS.update(saved[0])
    privacy.ERASERS.clear(), privacy.ERASERS.update(saved[1])


def leave_traces(engine, user_id: int, email: str) -> None:
    """Rows that name the person in every accounts table and in the job queue."""
    with write_session(engine) as s:
        s.add(
            Identity(
                user_id=user_id,
                provider="fc",
                issuer="https://idp.example",
                subject=f"sub-{user_id}",
            )
        )
        s.add(
            PasswordReset(
                id=f"{user_id:064d}", user_id=user_id, expires_at=utcnow() + timedelta(minutes=30)
            )
        )
        s.add(
            OIDCLogin(
                id=f"{user_id:064x}",
                provider="fc",
                nonce="n" * 43,
                code_verifier="v" * 64,
                browser="c" * 64,
                link_user_id=user_id,
                expires_at=utcnow() + timedelta(minutes=10),
            )
        )
        send_mail(s, email, "Votre signalement", "Bonjour")
        notify(
            s,
            [user_id],
            topic="my_reports",
            title="Signalement résolu",
            body="Merci",
            url="/reports/1",
        )
        enqueue(s, "unrelated.kind", {"user_id": user_id + 1000})


def _names_user(value: Any, user_id: int) -> bool:
    if isinstance(value, dict):
        return any(
            (k.endswith("user_id") and v == user_id) or _names_user(v, user_id)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_names_user(v, user_id) for v in value)
    return False


def rows_naming(engine, user_id: int, email: str) -> list[str]:
    """Every row of every table that holds the person's id (in a column pointing to users) or e-mail."""
    found = []
    insp = inspect(engine)
    with engine.connect() as conn:
        for table in insp.get_table_names():
            fks = {
                c
                for fk in insp.get_foreign_keys(table)
                if fk["referred_table"] == "users"
                for c in fk["constrained_columns"]
            }
            if table == "users":
                fks.add("id")
            for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
                for col, value in row.items():
                    if col in fks and value == user_id:
                        found.append(f"{table}.{col} = {user_id}")
                    elif isinstance(value, str) and email in value.lower():
                        found.append(f"{table}.{col} contains {email}")
                    elif (
                        col == "payload"
                        and isinstance(value, str)
                        and _names_user(json.loads(value), user_id)
                    ):
                        found.append(f"{table}.payload names user {user_id}")
    return found


def test_the_export_is_a_zip_with_everything_held_on_the_person_and_their_files(
    resident, engine, photo_domain
):
    photo_domain(resident.id)
    leave_traces(engine, resident.id, resident.email)
    r = resident.client.get("/me/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    data = json.loads(archive.read("eclor-donnees.json"))
    assert data["account"]["email"] == resident.email
    assert data["account"]["identities"][0]["subject"] == f"sub-{resident.id}"
    assert data["account"]["sessions"]
    assert "password_hash" not in json.dumps(data) and "$argon2" not in json.dumps(data)
    assert data["zz_photos"] == {"photos": [f"{resident.id}.jpg"]}
    assert archive.read(f"fichiers/test-photos/{resident.id}.jpg").startswith(b"\xff\xd8")


def test_the_export_holds_only_the_person_s_own_data(resident, personas, photo_domain):
    other = personas["other_resident"]
    photo_domain(other.id)
    archive = zipfile.ZipFile(io.BytesIO(resident.client.get("/me/export").content))
    assert other.email not in archive.read("eclor-donnees.json").decode()
    assert not [n for n in archive.namelist() if n.startswith("fichiers/")]


def test_after_account_deletion_no_row_or_file_refers_to_the_person(
    resident, personas, engine, settings, photo_domain
):
    other = personas["other_resident"]
    photo = photo_domain(resident.id)
    other_photo = photo_domain(other.id)
    leave_traces(engine, resident.id, resident.email)
    leave_traces(engine, other.id, other.email)
    assert rows_naming(engine, resident.id, resident.email)  # the scan finds traces before deletion
    token = resident.client.cookies.get("eclor_session")
    r = resident.client.post_form("/me/delete", {"password": PERSONA_PASSWORD, "confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"] == "/account-deleted"
    assert rows_naming(engine, resident.id, resident.email) == []
    assert not photo.exists()
    # Nothing of the neighbour's was touched.
    assert other_photo.exists() and rows_naming(engine, other.id, other.email)
    assert other.client.get("/me").status_code == 200
    # The old cookie is worthless.
    with EclorClient(app=resident.client.app) as replay:
        replay.cookies.set("eclor_session", token, domain="testserver.local")
        assert replay.get("/me", follow_redirects=False).status_code == 303


def test_a_wrong_password_or_a_missing_confirmation_deletes_nothing(resident, engine, photo_domain):
    photo = photo_domain(resident.id)
    r = resident.client.post_form("/me/delete", {"password": "not-my-password", "confirm": "yes"})
    assert r.status_code == 400 and "Mot de passe incorrect." in r.text
    r = resident.client.post_form("/me/delete", {"password": PERSONA_PASSWORD})
    assert r.status_code == 400 and "Cochez la case" in r.text
    with write_session(engine) as s:
        assert s.get(User, resident.id) is not None
    assert photo.exists() and resident.client.get("/me").status_code == 200


def test_an_account_without_password_confirms_deletion_by_a_recent_sign_in(
    client, engine, settings
):
    with write_session(engine) as s:
        user = auth.create_user(s, "fc-only@eclor.test")
        token = auth.start_session(s, user, idle_minutes=60, absolute_days=30)
        user_id = user.id
    client.cookies.set("eclor_session", token, domain="testserver.local")
    with write_session(engine) as s:
        s.execute(update(WebSession).values(created_at=utcnow() - timedelta(hours=2)))
    page = client.get("/me/delete")
    assert "reconnectez-vous" in page.text
    assert client.post_form("/me/delete", {"confirm": "yes"}).status_code == 400
    with write_session(engine) as s:
        s.execute(update(WebSession).values(created_at=utcnow()))
    assert client.post_form("/me/delete", {"confirm": "yes"}).status_code == 303
    with write_session(engine) as s:
        assert s.get(User, user_id) is None


def test_the_privacy_and_terms_pages_explain_in_plain_french(client):
    privacy_page = client.get("/privacy").text
    for words in (
        "Ce que nous gardons",
        "Combien de temps",
        "Cookies",
        "Vos droits",
        "CNIL",
        "Télécharger mes données",
    ):
        assert words in privacy_page
    assert "Conditions d’utilisation" in client.get("/terms").text
    signup = client.get("/signup").text
    assert 'href="/privacy"' in signup and 'href="/terms"' in signup


def test_the_account_page_offers_export_and_deletion(resident):
    page = resident.client.get("/me").text
    assert 'href="/me/export"' in page and 'href="/me/delete"' in page


def test_the_privacy_page_reads_in_english_when_chosen(client):
    client.cookies.set("lang", "en", domain="testserver.local")
    page = client.get("/privacy").text
    assert "What we keep" in page and "Your rights" in page and "Ce que nous gardons" not in page
