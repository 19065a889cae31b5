"""Open data: publication choices, snapshots, uploaded datasets, downloads, readers' error reports.

Revision ID: 0017_opendata
Revises: 0001_foundation
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0017_opendata"
down_revision = "0001_foundation"
branch_labels = ("opendata",)
depends_on = None

S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "opendata_settings",
        sa.Column("slug", S(length=80), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("slug"),
    )
    op.create_table(
        "opendata_snapshots",
        sa.Column("slug", S(length=80), nullable=False),
        sa.Column("generated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("csv_bytes", sa.Integer(), nullable=False),
        sa.Column("geojson_bytes", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=True),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("slug"),
    )
    op.create_table(
        "opendata_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", S(length=80), nullable=False),
        sa.Column("title", S(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("theme", S(length=8), nullable=False),
        sa.Column("keywords", S(length=300), nullable=False),
        sa.Column("frequency", S(length=10), nullable=False),
        sa.Column("table_schema", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "opendata_downloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", S(length=80), nullable=False),
        sa.Column("fmt", S(length=12), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug", "fmt", "day", name="uq_opendata_downloads"),
    )
    op.create_index("ix_opendata_downloads_slug", "opendata_downloads", ["slug"])
    op.create_table(
        "opendata_issues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", S(length=80), nullable=False),
        sa.Column("body", S(length=2000), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("status", S(length=10), nullable=False),
        sa.Column("answer", S(length=2000), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["reporter_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["answered_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_opendata_issues_slug", "opendata_issues", ["slug"])


def downgrade() -> None:
    op.drop_index("ix_opendata_issues_slug", table_name="opendata_issues")
    op.drop_table("opendata_issues")
    op.drop_index("ix_opendata_downloads_slug", table_name="opendata_downloads")
    op.drop_table("opendata_downloads")
    op.drop_table("opendata_uploads")
    op.drop_table("opendata_snapshots")
    op.drop_table("opendata_settings")
