"""Reports: each territory's own categories (report_categories), every territory given the seven
categories reports had until now (same codes: its reports keep theirs)

Revision ID: 0045_reports_categories
Revises: 0043_reports_settings_territory
"""

from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0045_reports_categories"
down_revision = "0043_reports_settings_territory"
branch_labels = None
depends_on = None

# The categories as they were (app.models.reports.DEFAULT_REPORT_CATEGORIES at this revision).
CATEGORIES = (
    ("household_waste", "Ordures ménagères", "Sacs poubelle, déchets du quotidien"),
    ("bulky_items", "Encombrants", "Meubles, matelas, électroménager"),
    ("rubble", "Gravats", "Gravats, plâtre, déchets de chantier"),
    ("green_waste", "Déchets verts", "Tontes, branches, souches"),
    ("tyres", "Pneus", "Pneus, jantes"),
    ("hazardous", "Produits dangereux", "Bidons, peintures, amiante, batteries : n’y touchez pas"),
    ("other", "Autre", "Tout le reste"),
)


def upgrade() -> None:
    op.create_table(
        "report_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("hint", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["territory_id"],
            ["territories.id"],
            name=op.f("fk_report_categories_territory_id_territories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_categories")),
        sa.UniqueConstraint("territory_id", "code", name="uq_report_categories_territory_code"),
    )
    op.create_index(
        op.f("ix_report_categories_territory_id"),
        "report_categories",
        ["territory_id"],
        unique=False,
    )
    territories = sa.table("territories", sa.column("id", sa.Integer()))
    rows = sa.table(
        "report_categories",
        sa.column("territory_id", sa.Integer()),
        sa.column("code", sa.String()),
        sa.column("label", sa.String()),
        sa.column("hint", sa.String()),
        sa.column("position", sa.Integer()),
        sa.column("active", sa.Boolean()),
        sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    ids = [row[0] for row in bind.execute(sa.select(territories.c.id).order_by(territories.c.id))]
    if ids:
        op.bulk_insert(
            rows,
            [
                {
                    "territory_id": territory_id,
                    "code": code,
                    "label": label,
                    "hint": hint,
                    "position": position,
                    "active": True,
                    "created_at": now,
                }
                for territory_id in ids
                for position, (code, label, hint) in enumerate(CATEGORIES)
            ],
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_report_categories_territory_id"), table_name="report_categories")
    op.drop_table("report_categories")
