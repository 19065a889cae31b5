"""Give the constraints that were created without a name their conventional name.

Used by the ``00NN_<domain>_names`` revisions, one per migration branch, each for the
tables its branch created. Names follow ``app.db.NAMING_CONVENTION`` (``pk_<table>``,
``fk_<table>_<columns>_<referred table>``, ``uq_<table>_<columns>``), worked out from
the live schema, so the revisions do not depend on today's models.

- PostgreSQL had named them itself (``<table>_pkey``, ``<table>_<column>_fkey``,
  ``<table>_<column>_key``): ``ALTER TABLE ... RENAME CONSTRAINT``.
- SQLite keeps no name for an inline constraint: the table is rebuilt (Alembic batch
  mode, foreign keys off for the rebuild, see migrations/env.py), the reflected
  constraints named by the convention. Rows, indexes and check constraints are kept.

Constraints already named by hand (``uq_light_hourly``, ``ck_shop_products_stock``...)
are left as they are. Downgrading keeps the names: they are harmless to the older
schema, and no earlier migration refers to a constraint by name.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op

from app.db import NAMING_CONVENTION

MAX_NAME = 63  # PostgreSQL's identifier limit; no conventional name of Eclor is longer


def pk_name(table: str) -> str:
    return f"pk_{table}"


def fk_name(table: str, columns: Iterable[str], referred: str) -> str:
    return f"fk_{table}_{'_'.join(columns)}_{referred}"


def uq_name(table: str, columns: Iterable[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def _renames(inspector: sa.Inspector, table: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pk = inspector.get_pk_constraint(table)
    if pk.get("constrained_columns") and pk.get("name") != pk_name(table):
        out.append((str(pk.get("name") or ""), pk_name(table)))
    for fk in inspector.get_foreign_keys(table):
        if not (fk.get("name") or "").startswith("fk_"):
            out.append(
                (
                    str(fk.get("name") or ""),
                    fk_name(table, fk["constrained_columns"], fk["referred_table"]),
                )
            )
    for uq in inspector.get_unique_constraints(table):
        if not (uq.get("name") or "").startswith("uq_"):
            out.append((str(uq.get("name") or ""), uq_name(table, uq["column_names"])))
    for _old, new in out:
        assert len(new) <= MAX_NAME, f"constraint name too long for PostgreSQL: {new}"
    return out


def name_constraints(tables: Iterable[str]) -> None:
    """Give every unnamed constraint of ``tables`` its conventional name (idempotent)."""
    bind = op.get_bind()
    for table in tables:
        inspector = sa.inspect(bind)  # fresh: a rebuilt table must be read again
        if not inspector.has_table(table):
            continue
        renames = _renames(inspector, table)
        if not renames:
            continue
        if bind.dialect.name == "sqlite":
            with op.batch_alter_table(
                table, recreate="always", naming_convention=NAMING_CONVENTION
            ):
                pass
        else:
            for old, new in renames:
                op.execute(sa.text(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{old}" TO "{new}"'))


def unnamed(tables: Iterable[str]) -> list[str]:
    """``table: old -> new`` for each constraint of ``tables`` still without its conventional name."""
    inspector = sa.inspect(op.get_bind())
    return [
        f"{t}: {old or '(no name)'} -> {new}"
        for t in tables
        if inspector.has_table(t)
        for old, new in _renames(inspector, t)
    ]
