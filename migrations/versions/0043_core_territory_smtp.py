"""Core: a territory's own mail server (host, port, user, STARTTLS, and the name of the environment
variable that holds its password); empty host: the install's

Revision ID: 0043_core_territory_smtp
Revises: 0042_core_territory_tiles
"""

from alembic import op
import sqlalchemy as sa


revision = "0043_core_territory_smtp"
down_revision = "0042_core_territory_tiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("territories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("smtp_host", sa.String(length=253), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("smtp_port", sa.Integer(), server_default="587", nullable=False)
        )
        batch_op.add_column(
            sa.Column("smtp_user", sa.String(length=254), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("smtp_password_env", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("smtp_starttls", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("territories", schema=None) as batch_op:
        for column in ("smtp_starttls", "smtp_password_env", "smtp_user", "smtp_port", "smtp_host"):
            batch_op.drop_column(column)
