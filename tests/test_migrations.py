"""The Alembic migrations build exactly the schema the models describe, from empty."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlmodel import Session, SQLModel

import app.models  # noqa: F401
from app.db import make_engine
from app.migrate import alembic_config, downgrade, upgrade
from app.models.territory import Commune
from tests.conftest import fresh_database_url


def _diff(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, SQLModel.metadata)
    finally:
        engine.dispose()


def test_migrations_from_empty_equal_the_models(tmp_path):
    url = fresh_database_url(tmp_path)
    upgrade(url)
    diff = _diff(url)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_every_migration_branch_starts_from_the_foundation():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    bases = script.get_bases()
    assert bases == ["0001_foundation"], f"unexpected base revisions: {bases}"
    for rev in script.walk_revisions():
        assert rev.doc, f"migration {rev.revision} has no description"


def test_migrations_load_the_territory_and_its_eight_communes(tmp_path):
    url = fresh_database_url(tmp_path)
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        communes = {c.insee: c.name for c in s.scalars(select(Commune))}
    engine.dispose()
    assert communes == {
        "57038": "Audun-le-Tiche", "57041": "Aumetz", "57097": "Boulange", "57529": "Ottange",
        "57565": "Rédange", "57602": "Russange", "54523": "Thil", "54580": "Villerupt",
    }


def test_migrations_downgrade_to_empty_and_upgrade_again(tmp_path):
    url = fresh_database_url(tmp_path)
    upgrade(url)
    downgrade(url, "base")
    engine = make_engine(url)
    leftover = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    engine.dispose()
    assert leftover == []
    upgrade(url)
    assert _diff(url) == []
