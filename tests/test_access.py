"""The route × role table: every row of tests/access/*.py, for every role, and no route left out.

Each row runs on a fresh database: its ``setup`` runs once, then the row's
request is made once per role, in the order of ``tests.access.ROLES``, each
with that role's own session (anonymous has none). Unsafe methods carry the
CSRF token like a page would. A route of the app (every method, /static and
the OpenAPI pages aside) that no row covers fails the suite, so a new route
without a rule cannot slip in.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import shutil
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.routes import HTTPRoute
from sqlalchemy.engine import make_url

from app import auth
from app import csrf as app_csrf
from app.db import make_engine, write_session
from app.main import create_app
from app.settings import Settings
from tests import access
from tests.access import ROLES, AccessContext, Row
from tests.cheap_hashing import cheap_argon2  # noqa: F401  (autouse)
from tests.conftest import PERSONAS, EclorClient, reset_postgres, using_postgres

ACCESS_DIR = Path(access.__file__).parent
EXCLUDED_PREFIXES = ("/static",)
IGNORED_METHODS = {"OPTIONS", "HEAD"}


@dataclass(frozen=True)
class Entry:
    module: str
    index: int
    row: Row

    @property
    def id(self) -> str:
        return f"{self.module}:{self.row.method} {self.row.path}"


def _load() -> tuple[list[Entry], dict[str, str]]:
    entries: list[Entry] = []
    errors: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules([str(ACCESS_DIR)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"tests.access.{info.name}")
        except Exception:  # noqa: BLE001  (a broken module is reported by its own test, not a collection error)
            errors[info.name] = traceback.format_exc(limit=3)
            continue
        rows = getattr(module, "ROWS", None)
        if not isinstance(rows, list):
            errors[info.name] = "no ROWS list"
            continue
        entries.extend(Entry(info.name, i, row) for i, row in enumerate(rows))
    return entries, errors


ENTRIES, LOAD_ERRORS = _load()


def normalise(path: str) -> str:
    """``/reports/{report_id:int}`` and ``/reports/{id}`` are the same route template."""
    path = path.split("?", 1)[0]
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/") or "/")


def app_routes(app: Any) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(EXCLUDED_PREFIXES):
            continue
        for method in route.methods:
            if method not in IGNORED_METHODS:
                found.add((method, normalise(route.path)))
    return found


def covered(entries: list[Entry]) -> set[tuple[str, str]]:
    return {(e.row.method.upper(), normalise(e.row.route or e.row.path)) for e in entries}


def test_every_access_module_loads():
    assert not LOAD_ERRORS, "tests/access modules that do not load:\n" + "\n".join(
        f"- {name}: {err}" for name, err in LOAD_ERRORS.items()
    )


def test_every_route_of_the_app_is_covered_by_a_row(app):
    missing = sorted(app_routes(app) - covered(ENTRIES))
    assert not missing, (
        "routes without a row in tests/access/<domain>.py (add one with the expected status per role):\n"
        + "\n".join(f"- {m} {p}" for m, p in missing)
    )


def test_every_row_names_a_route_of_the_app(app):
    routes = app_routes(app)
    stale = sorted(
        f"{e.id}"
        for e in ENTRIES
        if (e.row.method.upper(), normalise(e.row.route or e.row.path)) not in routes
    )
    assert not stale, "rows for routes the app does not have:\n" + "\n".join(
        f"- {s}" for s in stale
    )


def test_the_coverage_check_notices_a_route_without_a_row(app):
    from litestar import get

    @get("/a-route-nobody-declared", opt={"access": "public"}, sync_to_thread=False)
    def undeclared() -> str:
        return "x"

    app.register(undeclared)
    assert ("GET", "/a-route-nobody-declared") in app_routes(app) - covered(ENTRIES)


def _persona_sessions(engine: Any, settings: Any) -> tuple[dict[str, int], dict[str, str]]:
    from tests.conftest import _persona_hash

    ids: dict[str, int] = {}
    tokens: dict[str, str] = {}
    with write_session(engine) as session:
        for key, (address, role, name) in PERSONAS.items():
            user = auth.create_user(session, address, role=role, display_name=name)
            user.password_hash = _persona_hash()
            tokens[key] = auth.start_session(
                session,
                user,
                idle_minutes=settings.session_idle_minutes,
                absolute_days=settings.session_absolute_days,
            )
            ids[key] = user.id
    return ids, tokens


def _fill(path: str, values: dict[str, Any]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name not in values:
            raise KeyError(f"setup gave no value for {{{name}}} in {path}")
        return str(values[name])

    return re.sub(r"\{([^}]*)\}", sub, path)


@dataclass
class AccessEnv:
    app: Any
    engine: Any
    settings: Settings
    template: str
    url: str

    def reset(self) -> None:
        """Bring the database back to the freshly migrated state (one app serves every row)."""
        self.engine.dispose()
        if using_postgres():
            reset_postgres(self.url)
            return
        dst = make_url(self.url).database or ""
        for suffix in ("-wal", "-shm"):
            if os.path.exists(dst + suffix):
                os.unlink(dst + suffix)
        shutil.copyfile(make_url(self.template).database or "", dst)


@pytest.fixture(scope="module")
def access_env(
    migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AccessEnv]:
    """One app for all the rows (building an app per row would dominate the run); a fresh database per row."""
    tmp = tmp_path_factory.mktemp("access")
    url = migrated_template if using_postgres() else f"sqlite:///{tmp / 'eclor.db'}"
    settings = Settings(
        env="test",
        var_dir=tmp / "var",
        database_url=url,
        secret_key="test-secret-key-" + "x" * 32,
        allowed_hosts=["testserver.local", "127.0.0.1", "localhost"],
    ).prepare()
    engine = make_engine(url)
    env = AccessEnv(None, engine, settings, migrated_template, url)
    env.reset()
    env.app = create_app(settings, engine)
    yield env
    engine.dispose()


def requests_by_role(
    client: EclorClient, row: Row, url: str, tokens: dict[str, str], settings: Settings
) -> Iterator[tuple[str, Any]]:
    """The row's request made once per role, in the order of ROLES, each with that role's session
    (anonymous has none) and CSRF token, like a page would."""
    signed_out_csrf = client.csrf_token()
    for role in ROLES:
        client.cookies.clear()
        csrf = signed_out_csrf
        if role != "anonymous":
            client.cookies.set(auth.SESSION_COOKIE, tokens[role], domain="testserver.local")
            # A signed-in person's token is the one bound to their session (app.csrf).
            csrf = app_csrf.session_token_for(settings.secret_key, tokens[role])
        client.cookies.set("csrftoken", csrf, domain="testserver.local")
        kwargs: dict[str, Any] = {"follow_redirects": False}
        method = row.method.upper()
        if method not in ("GET", "HEAD", "OPTIONS"):
            if row.json is not None:
                kwargs["json"] = row.json
                kwargs["headers"] = {"x-csrftoken": csrf}
            else:
                kwargs["data"] = {**(row.data or {}), "_csrf_token": csrf}
        yield role, client.request(method, url, **kwargs)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_each_role_gets_the_expected_answer(entry: Entry, access_env: AccessEnv):
    row = entry.row
    expect = access.expected(row)
    missing_roles = [r for r in ROLES if r not in expect]
    assert not missing_roles, f"{entry.id}: no expected status for {missing_roles}"
    access_env.reset()
    app, engine, settings = access_env.app, access_env.engine, access_env.settings
    user_ids, tokens = _persona_sessions(engine, settings)
    values = row.setup(AccessContext(engine, settings, dict(user_ids))) if row.setup else {}
    url = _fill(row.path, values or {})
    wrong: list[str] = []
    with EclorClient(app=app) as client:
        for role, response in requests_by_role(client, row, url, tokens, settings):
            expected = expect[role]
            allowed = expected if isinstance(expected, tuple) else (expected,)
            if response.status_code not in allowed:
                hint = ""
                if role == "social_worker" and "social_worker" not in row.expect:
                    hint = " (by default other_merchant's: give social_worker its own status)"
                if role == "elected" and "elected" not in row.expect:
                    hint = " (by default social_worker's: give elected its own status)"
                wrong.append(f"{role}: got {response.status_code}, expected {expected}{hint}")
    assert not wrong, f"{entry.id} ({url}):\n" + "\n".join(wrong)
