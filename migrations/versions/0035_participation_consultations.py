"""Participation: consultations, their questions, the residents' responses and their answers

Revision ID: 0035_participation_consultations
Revises: 0034_participation_proposals
Create Date: 2026-12-07 00:00:44.939923
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0035_participation_consultations"
down_revision = "0034_participation_proposals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participation_consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("communes", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("opens_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("closes_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_consultations")),
    )
    op.create_table(
        "participation_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["participation_consultations.id"],
            name=op.f("fk_participation_questions_consultation_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_questions")),
    )
    with op.batch_alter_table("participation_questions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participation_questions_consultation_id"),
            ["consultation_id"],
            unique=False,
        )

    op.create_table(
        "participation_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("respondent", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["communes.insee"],
            name=op.f("fk_participation_responses_commune_insee_communes"),
        ),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["participation_consultations.id"],
            name=op.f("fk_participation_responses_consultation_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_participation_responses_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_responses")),
        sa.UniqueConstraint(
            "consultation_id", "respondent", name="uq_participation_responses_respondent"
        ),
    )
    op.create_table(
        "participation_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.Integer(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_status", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("commune_insee", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.ForeignKeyConstraint(
            ["commune_insee"],
            ["communes.insee"],
            name=op.f("fk_participation_answers_commune_insee_communes"),
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["participation_questions.id"],
            name=op.f("fk_participation_answers_question_id_participation_questions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["participation_responses.id"],
            name=op.f("fk_participation_answers_response_id_participation_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_answers")),
    )
    with op.batch_alter_table("participation_answers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_participation_answers_question", ["question_id", "choice"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_participation_answers_response_id"), ["response_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("participation_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participation_answers_response_id"))
        batch_op.drop_index("ix_participation_answers_question")

    op.drop_table("participation_answers")
    op.drop_table("participation_responses")
    with op.batch_alter_table("participation_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participation_questions_consultation_id"))

    op.drop_table("participation_questions")
    op.drop_table("participation_consultations")
