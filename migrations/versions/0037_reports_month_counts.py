"""Reports: counts per creation month, state, category and commune, and resolved reports per month
and time to resolve, kept by triggers on ``reports`` (every insert, change and delete, whatever
writes it) and filled from the reports already there; the statistics page reads them instead of the
reports of its window.

Revision ID: 0037_reports_month_counts
Revises: 0034_reports_ban_addresses
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0037_reports_month_counts"
down_revision = "0034_reports_ban_addresses"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString

# The same three expressions in the triggers (on NEW./OLD.) and in the fill (on reports.).
SQLITE = {
    "month": "substr({r}.created_at, 1, 7)",
    "tenths": (
        "max(0, CAST(round((julianday({r}.resolved_at) - julianday({r}.created_at)) * 86400)"
        " AS INTEGER)) / 8640"
    ),
}
POSTGRES = {
    "month": "to_char({r}.created_at AT TIME ZONE 'UTC', 'YYYY-MM')",
    "tenths": (
        "(GREATEST(0, round(extract(epoch FROM ({r}.resolved_at - {r}.created_at))))::bigint"
        " / 8640)::int"
    ),
}
COUNTED = "status, category, commune_insee, created_at, resolved_at"


def _sql(dialect: dict[str, str], r: str) -> tuple[str, str]:
    return dialect["month"].format(r=r), dialect["tenths"].format(r=r)


def _take(dialect: dict[str, str]) -> str:
    month, tenths = _sql(dialect, "OLD")
    return f"""
    UPDATE report_month_counts SET reports = reports - 1
     WHERE month = {month} AND status = OLD.status AND category = OLD.category
       AND commune_insee = coalesce(OLD.commune_insee, '');
    UPDATE report_resolve_counts SET reports = reports - 1
     WHERE OLD.status = 'resolved' AND OLD.resolved_at IS NOT NULL
       AND month = {month} AND tenths = {tenths};"""


def _add(dialect: dict[str, str]) -> str:
    month, tenths = _sql(dialect, "NEW")
    return f"""
    INSERT INTO report_month_counts (month, status, category, commune_insee, reports)
    SELECT {month}, NEW.status, NEW.category, coalesce(NEW.commune_insee, ''), 1 WHERE true
    ON CONFLICT (month, status, category, commune_insee)
    DO UPDATE SET reports = report_month_counts.reports + 1;
    INSERT INTO report_resolve_counts (month, tenths, reports)
    SELECT {month}, {tenths}, 1 WHERE NEW.status = 'resolved' AND NEW.resolved_at IS NOT NULL
    ON CONFLICT (month, tenths) DO UPDATE SET reports = report_resolve_counts.reports + 1;"""


def upgrade() -> None:
    op.create_table(
        "report_month_counts",
        sa.Column("month", String(length=7), nullable=False),
        sa.Column("status", String(length=16), nullable=False),
        sa.Column("category", String(length=32), nullable=False),
        sa.Column("commune_insee", String(length=5), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "status", "category", "commune_insee", name=op.f("pk_report_month_counts")
        ),
    )
    op.create_table(
        "report_resolve_counts",
        sa.Column("month", String(length=7), nullable=False),
        sa.Column("tenths", sa.Integer(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "tenths", name=op.f("pk_report_resolve_counts")),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    dialect = SQLITE if sqlite else POSTGRES
    month, tenths = _sql(dialect, "reports")
    op.execute(
        "INSERT INTO report_month_counts (month, status, category, commune_insee, reports) "
        f"SELECT {month}, status, category, coalesce(commune_insee, ''), count(*) FROM reports "
        f"GROUP BY {month}, status, category, coalesce(commune_insee, '')"
    )
    op.execute(
        "INSERT INTO report_resolve_counts (month, tenths, reports) "
        f"SELECT {month}, {tenths}, count(*) FROM reports "
        "WHERE status = 'resolved' AND resolved_at IS NOT NULL "
        f"GROUP BY {month}, {tenths}"
    )
    if sqlite:
        op.execute(
            f"CREATE TRIGGER tr_reports_counts_insert AFTER INSERT ON reports BEGIN {_add(dialect)} END"
        )
        op.execute(
            f"CREATE TRIGGER tr_reports_counts_update AFTER UPDATE OF {COUNTED} ON reports "
            f"BEGIN {_take(dialect)} {_add(dialect)} END"
        )
        op.execute(
            f"CREATE TRIGGER tr_reports_counts_delete AFTER DELETE ON reports BEGIN {_take(dialect)} END"
        )
        return
    op.execute(
        f"""CREATE FUNCTION reports_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN {_take(dialect)}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {_add(dialect)}
  END IF;
  RETURN NULL;
END $$"""
    )
    op.execute(
        f"CREATE TRIGGER tr_reports_counts AFTER INSERT OR DELETE OR UPDATE OF {COUNTED} ON reports "
        "FOR EACH ROW EXECUTE FUNCTION reports_counts_apply()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER tr_reports_counts_{name}")
    else:
        op.execute("DROP TRIGGER tr_reports_counts ON reports")
        op.execute("DROP FUNCTION reports_counts_apply()")
    op.drop_table("report_resolve_counts")
    op.drop_table("report_month_counts")
