"""Shared fixtures: a fresh database per test (SQLite by default, PostgreSQL with
ECLOR_TEST_DATABASE_URL), the app, a test client, and the personas."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import Engine, make_url

os.environ.setdefault("LITESTAR_WARN_IMPLICIT_SYNC_TO_THREAD", "0")

from app import auth  # noqa: E402
from app.db import make_engine, write_session  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.settings import Settings  # noqa: E402
from tests.mqtt_fixtures import embedded_broker, mqtt_url, topic_prefix  # noqa: E402,F401  (shared MQTT fixtures)

PG_URL = os.environ.get("ECLOR_TEST_DATABASE_URL", "")
SEED_TABLES = {
    "territories",
    "communes",
    "carpool_places",
    "maintenance_teams",
    "insights_populations",
    "insights_localities",
    "alembic_version",
}
PERSONA_PASSWORD = "persona-password-2026"


@pytest.fixture(scope="session", autouse=True)
def installed_domains() -> None:
    """The domains' jobs, panels, links, privacy hooks and channels, as the app and the worker install them."""
    from app import domains

    domains.install()


@pytest.fixture(autouse=True)
def fresh_cli_settings() -> Iterator[None]:
    """`eclor` (app.cli.main) reads its settings once per process; each test sets its own
    environment, so a command run by one test never sees the database of another."""
    from app import cli

    cli.get_settings.cache_clear()
    yield
    cli.get_settings.cache_clear()


def using_postgres() -> bool:
    return PG_URL.startswith("postgresql")


def _pg_schema_url(schema: str) -> str:
    url = make_url(PG_URL)
    query = dict(url.query)
    query["options"] = f"-csearch_path={schema}"
    return url.set(query=query).render_as_string(hide_password=False)


_SCHEMAS: list[str] = []


def fresh_database_url(tmp_path: Path) -> str:
    """A brand-new, empty database (SQLite file, or a new PostgreSQL schema dropped at the end)."""
    if using_postgres():
        schema = f"t_{uuid.uuid4().hex[:12]}"
        _SCHEMAS.append(schema)
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        return _pg_schema_url(schema)
    return f"sqlite:///{tmp_path / 'fresh.db'}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not (using_postgres() and _SCHEMAS):
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for schema in _SCHEMAS:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per test session; tests start from a copy (SQLite) or a cleaned schema (PostgreSQL)."""
    base = tmp_path_factory.mktemp("db")
    url = fresh_database_url(base)
    upgrade(url)
    return url


def reset_postgres(url: str) -> None:
    """Bring a PostgreSQL schema back to the freshly migrated state: every table emptied but the
    seeded ones, which get back the rows the migrations gave them."""
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            if r[0] not in SEED_TABLES
        ]
        if tables:
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
        # The teams are kept (the migration seeds them) but a test may add, rename or archive
        # one: back to the migration's four, so a team made by one test never refuses another's
        # (first: a team of another territory holds on to it).
        from app.maintenance.orders import TEAMS as seeded

        # The territories are kept (the migration seeds the first one) but a test or the demo may
        # add another: only the first one and its communes, places and teams stay.
        others = "SELECT id FROM territories WHERE slug <> 'phva'"
        conn.execute(
            text(
                "DELETE FROM maintenance_teams WHERE code NOT IN :codes "
                f"OR territory_id IN ({others})"
            ).bindparams(bindparam("codes", expanding=True)),
            {"codes": list(seeded)},
        )
        conn.execute(
            text(
                "DELETE FROM insights_populations WHERE insee IN "
                f"(SELECT insee FROM communes WHERE territory_id IN ({others}))"
            )
        )
        for table in ("carpool_places", "communes"):
            conn.execute(text(f"DELETE FROM {table} WHERE territory_id IN ({others})"))
        conn.execute(text("DELETE FROM territories WHERE slug <> 'phva'"))
        # The first territory's categories of report, as the migration gives them.
        from app.models.reports import DEFAULT_REPORT_CATEGORIES

        for position, (code, label, hint) in enumerate(DEFAULT_REPORT_CATEGORIES):
            conn.execute(
                text(
                    "INSERT INTO report_categories (territory_id, code, label, hint, position, "
                    "active, created_at) SELECT id, :code, :label, :hint, :position, true, "
                    "now() FROM territories WHERE slug = 'phva'"
                ),
                {"code": code, "label": label, "hint": hint, "position": position},
            )
        for code, name in seeded.items():
            conn.execute(
                text("UPDATE maintenance_teams SET name = :name, active = true WHERE code = :code"),
                {"code": code, "name": name},
            )
    engine.dispose()


@pytest.fixture
def db_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if using_postgres():
        reset_postgres(migrated_template)
        yield migrated_template
    else:
        src = Path(make_url(migrated_template).database or "")
        dst = tmp_path / "eclor.db"
        shutil.copyfile(src, dst)
        yield f"sqlite:///{dst}"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        var_dir=tmp_path / "var",
        database_url=db_url,
        secret_key="test-secret-key-" + "x" * 32,
        allowed_hosts=["testserver.local", "127.0.0.1", "localhost"],
        worker_poll_seconds=0.05,
        mqtt_url=os.environ.get("ECLOR_TEST_MQTT_URL", ""),
    ).prepare()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.resolved_database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def app(settings: Settings, engine: Engine):
    return create_app(settings, engine)


class EclorClient(TestClient):
    """A test client that knows how to send the CSRF token like a page would."""

    def csrf_token(self) -> str:
        token = self.cookies.get("csrftoken")
        if not token:
            self.get("/about")
            token = self.cookies.get("csrftoken")
        assert token, "no CSRF cookie was set"
        return token

    def post_form(self, url: str, data: dict | None = None, **kwargs):
        data = dict(data or {})
        data.setdefault("_csrf_token", self.csrf_token())
        kwargs.setdefault("follow_redirects", False)
        return self.post(url, data=data, **kwargs)

    def post_json(self, url: str, json: object, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        headers.setdefault("x-csrftoken", self.csrf_token())
        return self.post(url, json=json, headers=headers, **kwargs)


@pytest.fixture
def client(app) -> Iterator[EclorClient]:
    with EclorClient(app=app) as c:
        yield c


_PASSWORD_HASH: list[str] = []


def _persona_hash() -> str:
    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(auth.hash_password(PERSONA_PASSWORD))
    return _PASSWORD_HASH[0]


@dataclass
class Persona:
    id: int
    email: str
    role: str
    client: EclorClient


PERSONAS = {
    "resident": ("resident@eclor.test", "resident", "Julie"),
    "other_resident": ("voisin@eclor.test", "resident", "Karim"),
    "merchant": ("boulanger@eclor.test", "merchant", "Marc"),
    "other_merchant": ("fleuriste@eclor.test", "merchant", "Sophie"),
    "staff": ("agent@eclor.test", "staff", "Nadia"),
    "admin": ("admin@eclor.test", "admin", "Admin"),
    "social_worker": ("ccas@eclor.test", "social_worker", "Hélène"),
    "elected": ("elue@eclor.test", "elected", "Claire"),
}


def make_persona(app, engine: Engine, settings: Settings, key: str) -> Persona:
    email, role, name = PERSONAS[key]
    with write_session(engine) as session:
        user = auth.create_user(session, email, role=role, display_name=name)
        user.password_hash = _persona_hash()
        token = auth.start_session(
            session,
            user,
            idle_minutes=settings.session_idle_minutes,
            absolute_days=settings.session_absolute_days,
        )
        user_id = user.id
    client = EclorClient(app=app)
    client.__enter__()
    client.cookies.set(auth.SESSION_COOKIE, token)
    return Persona(user_id, email, role, client)


@pytest.fixture
def personas(app, engine: Engine, settings: Settings) -> Iterator[dict[str, Persona]]:
    made: dict[str, Persona] = {}

    class Lazy(dict):  # personas are created on first use, so tests pay only for those they need
        def __missing__(self, key: str) -> Persona:
            made[key] = make_persona(app, engine, settings, key)
            self[key] = made[key]
            return made[key]

    yield Lazy()
    for persona in reversed(
        list(made.values())
    ):  # last opened, first closed: Litestar test clients of one app must exit in that order
        persona.client.__exit__(None, None, None)


@pytest.fixture
def resident(personas) -> Persona:
    return personas["resident"]


@pytest.fixture
def staff(personas) -> Persona:
    return personas["staff"]


@pytest.fixture
def merchant(personas) -> Persona:
    return personas["merchant"]


@pytest.fixture
def admin(personas) -> Persona:
    return personas["admin"]
