"""Alerts as open data: the public CAP 1.2 alerts of the territory, each with its CAP document.

The alerts domain's contribution to the open data catalogue (``app.opendata.contrib``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, select

from app.models.push import Alert
from app.opendata.contrib import Cnil, Column, OpenDataset, here, utc_text

CAP = (
    "http://docs.oasis-open.org/emergency/cap/v1.2/CAP-v1.2-os.html",
    "OASIS Common Alerting Protocol 1.2",
)


def _tuple(alert: Any, base_url: str) -> tuple[Any, ...]:
    communes = " ".join(c for c in alert.communes.split(",") if c) or None
    return (
        alert.identifier,
        utc_text(alert.sent_at),
        alert.msg_type,
        alert.category,
        alert.event,
        alert.cap_urgency,
        alert.severity,
        alert.certainty,
        utc_text(alert.onset_at),
        utc_text(alert.expires_at),
        alert.title,
        alert.area_desc or None,
        communes,
        alert.state,
        f"{base_url}/alerts/{alert.id}.cap",
    )


def public_alerts() -> Any:
    """The alerts open data publishes (the file, the live stream, the NGSI-LD twin): public, actual."""
    return select(Alert).where(col(Alert.scope) == "Public", col(Alert.status) == "Actual")


_public = public_alerts


def _alerts(session: Session, base_url: str) -> Iterator[tuple[Any, ...]]:
    for alert in session.scalars(
        _public()
        .where(*here(session, col(Alert.territory_id)))
        .order_by(col(Alert.id))
        .execution_options(yield_per=1000)
    ):
        yield _tuple(alert, base_url)


def _live_alert(session: Session, event: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    feature = str(event.get("feature_id", ""))
    alert = (
        session.scalars(
            _public().where(col(Alert.id) == int(feature), *here(session, col(Alert.territory_id)))
        ).first()
        if feature.isdigit()
        else None
    )
    return (
        None
        if alert is None
        else dict(zip(ALERTS.column_names, _tuple(alert, base_url), strict=True))
    )


ALERTS = OpenDataset(
    slug="alertes",
    domain="alerts",
    title="Alertes à la population (CAP)",
    description=(
        "Les alertes publiques diffusées aux habitants (météo, travaux, trafic, sécurité...) au "
        "format du Common Alerting Protocol 1.2 : chaque ligne renvoie au document CAP complet. "
        "Les exercices et messages de test ne sont pas publiés."
    ),
    theme="GOVE",
    keywords=("alertes", "CAP", "sécurité civile", "information"),
    frequency="CONT",
    expected_minutes=15,
    columns=(
        Column("identifiant", "string", "Identifiant CAP", required=True),
        Column("envoi", "datetime", "Envoi (UTC)", required=True),
        Column(
            "type_message",
            "string",
            "Type de message CAP",
            required=True,
            enum=("Alert", "Update", "Cancel"),
        ),
        Column("categorie", "string", "Catégorie CAP", required=True),
        Column("evenement", "string", "Événement", required=True),
        Column("urgence", "string", "Urgence CAP", required=True),
        Column("gravite", "string", "Gravité CAP", required=True),
        Column("certitude", "string", "Certitude CAP", required=True),
        Column("debut", "datetime", "Début (UTC)"),
        Column("fin", "datetime", "Fin (UTC)"),
        Column("titre", "string", "Titre", required=True),
        Column("zone", "string", "Zone concernée"),
        Column(
            "communes_insee",
            "string",
            "Communes (codes INSEE séparés par des espaces ; vide : tout le territoire)",
        ),
        Column("etat", "string", "État", required=True, enum=("active", "updated", "cancelled")),
        Column("document_cap", "string", "Document CAP 1.2", required=True),
    ),
    rows=_alerts,
    live_kinds=("alerts:*",),
    twin="Alert",
    live_row=_live_alert,
    conforms_to=(CAP,),
    cnil=Cnil(
        singling_out="Des messages de l'autorité au public : aucune personne, ni auteur ni destinataire.",
        linkability="Les abonnements et les envois aux appareils ne sont pas publiés.",
        inference="Aucune : le jeu ne dit pas qui a reçu une alerte.",
    ),
)

DATASETS = (ALERTS,)
