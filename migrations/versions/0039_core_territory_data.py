"""Core: a territory is data (hosts, languages, names, colours, contact, mail sender, open-data
licence) and a commune has a country and its official code (INSEE, or Luxembourg's LAU code)

Revision ID: 0039_core_territory_data
Revises: 0034_ngsi_subscriptions
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0039_core_territory_data"
down_revision = "0034_ngsi_subscriptions"
branch_labels = None
depends_on = None

# What the first territory said in its templates, manifest and settings until now.
FIRST = {
    "short_name": "Pays-Haut",
    "publisher": "Communauté de communes du Pays-Haut Val d’Alzette",
}

TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("territories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("short_name", TEXT(length=60), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("hosts", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "languages", sa.JSON(), server_default=sa.text('\'["fr", "en"]\''), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("publisher", TEXT(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("colour_primary", TEXT(length=7), server_default="#0b5d3b", nullable=False)
        )
        batch_op.add_column(
            sa.Column("colour_accent", TEXT(length=7), server_default="#f4be3c", nullable=False)
        )
        batch_op.add_column(
            sa.Column("contact_email", TEXT(length=254), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("legal_text", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("mail_sender", TEXT(length=254), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("opendata_licence", TEXT(length=300), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("opendata_licence_name", TEXT(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("opendata_publisher", TEXT(length=200), server_default="", nullable=False)
        )
    territories = sa.table(
        "territories",
        sa.column("slug", sa.String),
        sa.column("short_name", sa.String),
        sa.column("publisher", sa.String),
    )
    op.execute(territories.update().where(territories.c.slug == "phva").values(**FIRST))
    if op.get_bind().dialect.name == "postgresql":
        # The foundation inserted the first territory with its id: the next one takes the next id.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('territories', 'id'), "
            "(SELECT COALESCE(MAX(id), 1) FROM territories))"
        )

    with op.batch_alter_table("communes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("country", TEXT(length=2), server_default="FR", nullable=False)
        )
        batch_op.add_column(sa.Column("code", TEXT(length=12), nullable=True))
        batch_op.add_column(
            sa.Column(
                "outline_approximate", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
    communes = sa.table(
        "communes",
        sa.column("insee", sa.String),
        sa.column("code", sa.String),
        sa.column("outline", sa.Text),
        sa.column("outline_approximate", sa.Boolean),
    )
    op.execute(communes.update().values(code=communes.c.insee))
    # The first territory's outlines are cells around each centre (0032_core_commune_outlines).
    op.execute(
        communes.update().where(communes.c.outline.is_not(None)).values(outline_approximate=True)
    )
    with op.batch_alter_table("communes", schema=None) as batch_op:
        batch_op.alter_column("code", existing_type=TEXT(length=12), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_communes_code"), ["code"])


def downgrade() -> None:
    with op.batch_alter_table("communes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_communes_code"), type_="unique")
        batch_op.drop_column("outline_approximate")
        batch_op.drop_column("code")
        batch_op.drop_column("country")
    with op.batch_alter_table("territories", schema=None) as batch_op:
        for column in (
            "opendata_publisher",
            "opendata_licence_name",
            "opendata_licence",
            "mail_sender",
            "legal_text",
            "contact_email",
            "colour_accent",
            "colour_primary",
            "publisher",
            "languages",
            "hosts",
            "short_name",
        ):
            batch_op.drop_column(column)
