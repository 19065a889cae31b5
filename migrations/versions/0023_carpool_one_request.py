"""Carpool: one open request per person and ad, enforced by the database (concurrent /book requests).

Revision ID: 0023_carpool_one_request
Revises: 0012_carpool_names
"""

import sqlalchemy as sa
from alembic import op

revision = "0023_carpool_one_request"
down_revision = "0012_carpool_names"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'accepted')")


def upgrade() -> None:
    # Requests already duplicated by the race are closed before the rule applies: the newest ones go.
    op.execute(
        "UPDATE carpool_bookings SET status = 'cancelled' WHERE status IN ('pending', 'accepted') AND id NOT IN ("
        " SELECT keep FROM (SELECT MIN(id) AS keep FROM carpool_bookings"
        " WHERE status IN ('pending', 'accepted') GROUP BY ad_id, requester_id) AS kept)"
    )
    op.create_index(
        "ux_carpool_bookings_open",
        "carpool_bookings",
        ["ad_id", "requester_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ux_carpool_bookings_open", table_name="carpool_bookings")
