"""Core: the bodies nested inside a territory (a commune's services inside its intercommunality),
each covering communes and report categories

Revision ID: 0041_core_bodies
Revises: 0039_core_territory_data
"""

from alembic import op
import sqlalchemy as sa


revision = "0041_core_bodies"
down_revision = "0039_core_territory_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bodies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("territory_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("communes", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("categories", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("contact_email", sa.String(length=254), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["bodies.id"], name=op.f("fk_bodies_parent_id_bodies")
        ),
        sa.ForeignKeyConstraint(
            ["territory_id"], ["territories.id"], name=op.f("fk_bodies_territory_id_territories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bodies")),
        sa.UniqueConstraint("territory_id", "name", name=op.f("uq_bodies_territory_id_name")),
    )
    with op.batch_alter_table("bodies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bodies_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bodies_territory_id"), ["territory_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bodies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bodies_territory_id"))
        batch_op.drop_index(batch_op.f("ix_bodies_parent_id"))
    op.drop_table("bodies")
