"""Reports: reject reasons, response templates and Open311 API keys belong to a territory (every row
already there to the first territory, and each other territory given its own copy of the reject
reasons and response templates, so its staff can go on rejecting and answering); a reason's label is
unique within its territory

Revision ID: 0043_reports_settings_territory
Revises: 0042_reports_territory_status
"""

from alembic import op
import sqlalchemy as sa


revision = "0043_reports_settings_territory"
down_revision = "0042_reports_territory_status"
branch_labels = None
depends_on = None

DEFAULT = "(SELECT min(id) FROM territories)"
TABLES = ("report_reject_reasons", "report_response_templates", "report_api_keys")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("territory_id", sa.Integer(), nullable=True))
        op.execute(f"UPDATE {table} SET territory_id = {DEFAULT}")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("territory_id", existing_type=sa.Integer(), nullable=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_territory_id_territories"),
                "territories",
                ["territory_id"],
                ["id"],
            )
            batch_op.create_index(
                batch_op.f(f"ix_{table}_territory_id"), ["territory_id"], unique=False
            )
            if table == "report_reject_reasons":
                batch_op.drop_constraint("uq_report_reject_reasons_label", type_="unique")
                batch_op.create_unique_constraint(
                    "uq_report_reject_reasons_territory_label", ["territory_id", "label"]
                )
    # The other territories' own copies (an install of one territory has none to make).
    op.execute(
        "INSERT INTO report_reject_reasons (label, active, created_at, territory_id) "
        "SELECT r.label, r.active, r.created_at, t.id FROM report_reject_reasons r "
        f"CROSS JOIN territories t WHERE r.territory_id = {DEFAULT} AND t.id <> {DEFAULT}"
    )
    op.execute(
        "INSERT INTO report_response_templates (title, body, active, created_at, territory_id) "
        "SELECT r.title, r.body, r.active, r.created_at, t.id FROM report_response_templates r "
        f"CROSS JOIN territories t WHERE r.territory_id = {DEFAULT} AND t.id <> {DEFAULT}"
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM report_reject_reasons WHERE territory_id <> {DEFAULT}")
    op.execute(f"DELETE FROM report_response_templates WHERE territory_id <> {DEFAULT}")
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "report_reject_reasons":
                batch_op.drop_constraint("uq_report_reject_reasons_territory_label", type_="unique")
                batch_op.create_unique_constraint("uq_report_reject_reasons_label", ["label"])
            batch_op.drop_index(batch_op.f(f"ix_{table}_territory_id"))
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_territory_id_territories"), type_="foreignkey"
            )
            batch_op.drop_column("territory_id")
