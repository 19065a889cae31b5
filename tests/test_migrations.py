"""The Alembic migrations build exactly the schema the models describe, from empty."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlmodel import Session, SQLModel

import app.models  # noqa: F401
from app.db import make_engine
from app.migrate import alembic_config, downgrade, upgrade
from app.models.accounts import User, WebSession
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


def test_every_revision_id_fits_postgresqls_version_column():
    """alembic_version.version_num is VARCHAR(32) on PostgreSQL: a longer id fails the upgrade there."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    long = [r.revision for r in script.walk_revisions() if len(r.revision) > 32]
    assert not long, long


def test_every_migration_branch_has_a_single_head():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    labels = sorted({label for rev in script.walk_revisions() for label in rev.branch_labels})
    for label in labels:
        heads = script.revision_map.get_revisions(f"{label}@head")  # raises when the branch forked
        assert len(heads) == 1, f"{label}: {heads}"


def test_migrations_load_the_territory_and_its_eight_communes(tmp_path):
    url = fresh_database_url(tmp_path)
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        communes = {c.insee: c.name for c in s.scalars(select(Commune))}
    engine.dispose()
    assert communes == {
        "57038": "Audun-le-Tiche",
        "57041": "Aumetz",
        "57097": "Boulange",
        "57529": "Ottange",
        "57565": "Rédange",
        "57602": "Russange",
        "54523": "Thil",
        "54580": "Villerupt",
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


NAMING_REVISIONS = [
    rev
    for rev in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    if rev.revision.endswith("_names")
]


def _constraint_names(url: str) -> dict[str, set[str]]:
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        found: dict[str, set[str]] = {}
        for table in inspector.get_table_names():
            if table == "alembic_version":
                continue
            names = {inspector.get_pk_constraint(table).get("name")}
            names |= {fk.get("name") for fk in inspector.get_foreign_keys(table)}
            names |= {uq.get("name") for uq in inspector.get_unique_constraints(table)}
            found[table] = {str(n) for n in names}
        return found
    finally:
        engine.dispose()


def _assert_conventional_names(url: str) -> None:
    from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint, UniqueConstraint

    expected = {
        table.name: {
            str(c.name)
            for c in table.constraints
            if isinstance(c, PrimaryKeyConstraint | ForeignKeyConstraint | UniqueConstraint)
        }
        for table in SQLModel.metadata.sorted_tables
    }
    assert _constraint_names(url) == expected


def test_every_constraint_bears_the_name_the_models_naming_convention_gives_it(tmp_path):
    url = fresh_database_url(tmp_path)
    upgrade(url)
    _assert_conventional_names(url)


def test_naming_the_constraints_keeps_the_rows_and_the_cascades(tmp_path, monkeypatch):
    from sqlalchemy.sql.schema import DEFAULT_NAMING_CONVENTION

    url = fresh_database_url(tmp_path)
    before = sorted({rev.down_revision for rev in NAMING_REVISIONS})
    assert len(NAMING_REVISIONS) >= 8 and before
    # A database made before the convention existed (Alembic names what it creates after the
    # target metadata's convention): the tables as they were created then.
    with monkeypatch.context() as m:
        m.setattr(SQLModel.metadata, "naming_convention", DEFAULT_NAMING_CONVENTION)
        for revision in before:
            upgrade(url, revision)
    unnamed = [
        n
        for names in _constraint_names(url).values()
        for n in names
        if not n.startswith(("pk_", "fk_", "uq_"))
    ]
    engine = make_engine(url)
    with Session(engine) as session:
        # The columns users had then (a later column of the model is not there yet).
        user_id = session.execute(
            User.__table__.insert()  # type: ignore[attr-defined]
            .values(
                email="julie@eclor.test",
                display_name="Julie",
                role="resident",
                locale="fr",
                is_active=True,
                created_at=datetime.now(UTC),
            )
            .returning(User.__table__.c.id)  # type: ignore[attr-defined]
        ).scalar_one()
        session.add(WebSession(id="a" * 64, user_id=user_id, expires_at=datetime.now(UTC)))
        session.commit()
    engine.dispose()
    assert len(unnamed) >= 40, (
        unnamed
    )  # PostgreSQL's own names (x_pkey, x_fkey, x_key) or none on SQLite

    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM communes")).scalar_one() == 8
        assert conn.execute(text("SELECT count(*) FROM web_sessions")).scalar_one() == 1
        conn.execute(text("DELETE FROM users"))
        assert (
            conn.execute(text("SELECT count(*) FROM web_sessions")).scalar_one() == 0
        )  # the cascade survived
    engine.dispose()
    _assert_conventional_names(url)
    assert _diff(url) == []


def test_eclor_db_revision_writes_an_autogenerated_migration_on_the_branch_asked(
    tmp_path, monkeypatch
):
    import shutil

    import sqlalchemy as sa

    from app import cli, migrate

    migrations = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS", migrations)
    url = fresh_database_url(tmp_path)
    upgrade(url)
    monkeypatch.setenv("ECLOR_DATABASE_URL", url)
    monkeypatch.setenv("ECLOR_VAR_DIR", str(tmp_path / "var"))
    cli.get_settings.cache_clear()
    from alembic.script import ScriptDirectory

    reports_head = ScriptDirectory(str(migrations)).get_revision("reports@head").revision
    widgets = sa.Table(
        "report_widgets",
        SQLModel.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("code", sa.String(20), unique=True),
    )
    try:
        # Several branches: the command says which to follow instead of guessing.
        assert cli.main(["db", "revision", "-m", "Widgets on reports"]) == 2
        assert (
            cli.main(["db", "revision", "-m", "Widgets on reports", "--head", "reports@head"]) == 0
        )
    finally:
        SQLModel.metadata.remove(widgets)
        cli.get_settings.cache_clear()
    [made] = [p for p in (migrations / "versions").glob("*widgets_on_reports.py")]
    number = max(int(p.name[:4]) for p in (migrations / "versions").glob("0*.py") if p != made)
    assert made.name == f"{number + 1:04d}_widgets_on_reports.py"
    source = made.read_text()
    assert (
        f"down_revision = '{reports_head}'" in source
        or f'down_revision = "{reports_head}"' in source
    )
    assert (
        "op.create_table('report_widgets'" in source or 'op.create_table("report_widgets"' in source
    )
    assert "name=op.f('pk_report_widgets')" in source
    assert "name=op.f('fk_report_widgets_report_id_reports')" in source
    assert "name=op.f('uq_report_widgets_code')" in source
    command = __import__("alembic.command", fromlist=["upgrade"])
    command.upgrade(migrate.alembic_config(url, migrations), "heads")
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        assert inspector.get_pk_constraint("report_widgets")["name"] == "pk_report_widgets"
        assert [fk["name"] for fk in inspector.get_foreign_keys("report_widgets")] == [
            "fk_report_widgets_report_id_reports"
        ]
    finally:
        engine.dispose()
