"""Alembic, driven from Eclor (``eclor db upgrade``) and from the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Apply every migration (all domain branches) up to their heads, then refresh the planner's statistics."""
    command.upgrade(alembic_config(url), revision)
    analyze(url)


def analyze(url: str) -> None:
    """``ANALYZE`` on SQLite, so the planner picks the indexes it has (PostgreSQL's autovacuum does it there).

    Also run periodically by the worker's retention (``app.retention``).
    """
    if not url.startswith("sqlite"):
        return
    from app.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
