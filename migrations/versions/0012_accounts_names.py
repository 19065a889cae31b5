"""Constraint names for accounts (rate limits, identities, OpenID Connect logins, password resets): the naming convention applied to the constraints created unnamed.

Revision ID: 0012_accounts_names
Revises: 0002_accounts
"""

from migrations.naming import name_constraints

revision = "0012_accounts_names"
down_revision = "0002_accounts"
branch_labels = None
depends_on = None

TABLES = [
    "rate_limits",
    "identities",
    "oidc_logins",
    "password_resets",
]


def upgrade() -> None:
    name_constraints(TABLES)


def downgrade() -> None:
    pass  # the names are kept: harmless to the earlier schema (see migrations/naming.py)
