"""Participation as open data. The results of closed consultations: per question and choice, how
many residents chose it (a ranking: its points too), counts under 11 suppressed, no free text, no
place, no commune, no person. The results of participatory budgets once the vote is closed: the
totals per project as proclaimed on their results page.

The participation domain's contribution to the open data catalogue (``app.opendata.contrib``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from app.db import saved_id, utcnow
from app.models.participation import Budget, Consultation
from app.opendata.contrib import (
    Cnil,
    Column,
    OpenDataset,
    here,
    suppress,
    suppression_text,
)
from app.participation import budgets
from app.participation import consultations as logic
from app.territories import zone as territory_zone

KINDS = ("single", "multiple", "ranking")


def _results(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    now = utcnow()
    for consultation in session.scalars(
        select(Consultation)
        .where(
            col(Consultation.published).is_(True),
            col(Consultation.closes_at) <= now,
            *here(session, col(Consultation.territory_id)),
        )
        .order_by(col(Consultation.id))
    ):
        closed_on = logic.days(consultation, territory_zone(session, consultation.territory_id))[
            1
        ].isoformat()
        for result in logic.results(session, consultation):
            q = result.question
            if q.kind not in KINDS:
                continue
            enough = suppress(result.respondents) is not None
            for option in result.options:
                shown = suppress(option.count) if enough else None
                yield (
                    consultation.id,
                    consultation.title,
                    closed_on,
                    q.position,
                    q.label,
                    q.kind,
                    option.label,
                    shown,
                    option.points if q.kind == "ranking" and enough else None,
                    shown is None,
                    f"{base_url}/participation/consultations/{consultation.id}/results",
                )


RESULTS = OpenDataset(
    slug="consultations-resultats",
    domain="participation",
    title="Résultats des consultations citoyennes",
    description=(
        "Pour chaque consultation close, chaque question à choix et chaque choix : le nombre "
        "d'habitants qui l'ont retenu, et pour un classement ses points (le nombre de choix pour "
        "une première place, 1 pour la dernière). Les textes libres et les lieux n'y sont pas. "
        + suppression_text("nombres de réponses")
    ),
    theme="GOVE",
    keywords=("participation citoyenne", "consultation", "démocratie participative"),
    frequency="IRREG",
    expected_minutes=24 * 60,
    columns=(
        Column("consultation_id", "integer", "Identifiant de la consultation", required=True),
        Column("consultation", "string", "Titre de la consultation", required=True),
        Column("cloture", "date", "Dernier jour de la consultation", required=True),
        Column("question_numero", "integer", "Numéro de la question", required=True, minimum=1),
        Column("question", "string", "Question", required=True),
        Column(
            "type",
            "string",
            "Type de question",
            required=True,
            enum=KINDS,
        ),
        Column("choix", "string", "Choix", required=True),
        Column(
            "reponses",
            "integer",
            "Habitants ayant retenu ce choix (vide si moins de 11)",
            minimum=11,
        ),
        Column("points", "integer", "Points du classement (classement seulement)", minimum=0),
        Column("masque", "boolean", "Nombre masqué car inférieur à 11", required=True),
        Column("page", "string", "Page des résultats", required=True),
    ),
    rows=_results,
    suppression=suppression_text("nombres de réponses"),
    cnil=Cnil(
        singling_out=(
            "Des totaux par choix ; un choix retenu par moins de 11 habitants, ou une question à "
            "laquelle moins de 11 ont répondu, est publié vide."
        ),
        linkability=(
            "Ni répondant, ni commune, ni date de réponse : rien ne relie un total à une personne."
        ),
        inference="Aucune : les textes libres et les lieux indiqués ne sont pas publiés ici.",
    ),
)


def _budgets(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    for budget in session.scalars(
        select(Budget)
        .where(
            col(Budget.phase).in_(("results", "works")), *here(session, col(Budget.territory_id))
        )
        .order_by(col(Budget.id))
    ):
        ranked = budgets.results(session, saved_id(budget))
        won = {saved_id(r.project) for r in budgets.winners(budget, ranked)}
        for rank, r in enumerate(ranked, start=1):
            yield (
                budget.id,
                budget.title,
                budget.commune_insee or "",
                budget.envelope,
                budget.mode,
                rank,
                r.project.title,
                r.project.cost,
                r.online,
                r.paper,
                r.votes,
                saved_id(r.project) in won,
                f"{base_url}/participation/budgets/{budget.id}/results",
            )


BUDGETS = OpenDataset(
    slug="budgets-participatifs",
    domain="participation",
    title="Résultats des budgets participatifs",
    description=(
        "Pour chaque budget participatif dont le vote est clos : chaque projet soumis au vote, "
        "son coût, ses voix (en ligne et sur papier) et s'il est financé. Ce sont les résultats "
        "proclamés, tels qu'ils sont publiés sur la page de résultats du budget."
    ),
    theme="GOVE",
    keywords=("participation citoyenne", "budget participatif", "démocratie participative"),
    frequency="IRREG",
    expected_minutes=24 * 60,
    columns=(
        Column("budget_id", "integer", "Identifiant du budget", required=True),
        Column("budget", "string", "Titre du budget", required=True),
        Column("commune_insee", "string", "Commune (code INSEE ; vide : tout le territoire)"),
        Column("enveloppe", "integer", "Enveloppe", required=True, minimum=0, unit="EUR"),
        Column("mode", "string", "Mode de vote", required=True, enum=("envelope", "pick")),
        Column("rang", "integer", "Rang du projet", required=True, minimum=1),
        Column("projet", "string", "Projet", required=True),
        Column("cout", "integer", "Coût du projet", required=True, minimum=0, unit="EUR"),
        Column(
            "voix_en_ligne", "integer", "Voix en ligne, par code ou par un médiateur", minimum=0
        ),
        Column("voix_papier", "integer", "Voix sur bulletin papier", minimum=0),
        Column("voix", "integer", "Voix en tout", required=True, minimum=0),
        Column("finance", "boolean", "Projet financé", required=True),
        Column("page", "string", "Page des résultats", required=True),
    ),
    rows=_budgets,
    cnil=Cnil(
        singling_out=(
            "Des totaux de voix par projet, proclamés publiquement comme tout résultat d'élection ; "
            "ni votant, ni commune de votant, ni heure de vote."
        ),
        linkability="Aucun bulletin n'est publié : rien ne relie une voix à une personne.",
        inference="Aucune : un total par projet ne dit rien du choix d'un habitant.",
    ),
)

DATASETS = (RESULTS, BUDGETS)
