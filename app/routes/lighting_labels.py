"""The words the lighting staff pages show for a light's state, the reason of its command and its alarms."""

from __future__ import annotations

from typing import Any

from app.i18n import NC_
from app.lighting import ops as lighting_ops

STATE_LABELS = {
    "queued": NC_("lighting command", "En attente"),
    "sent": "Envoyée",
    "accepted": "Acceptée",
    "applied": "Appliquée",
    "failed": "Refusée",
    "expired": "Expirée",
    "cancelled": "Annulée",
    "superseded": NC_("lighting command", "Remplacée"),
}
REASON_LABELS = {"override": "Forçage", "program": "Programme", "sensor": "Détection"}
ALARM_LABELS = {
    "offline": "Hors ligne",
    "defectiveLamp": "Lampe défectueuse",
    "columnIssue": "Problème de mât",
    "brokenLantern": "Lanterne cassée",
    "lampFailure": "Panne de lampe",
    "supplyLoss": "Perte d'alimentation",
}


def page_labels() -> dict[str, Any]:
    return {
        "state_labels": STATE_LABELS,
        "reason_labels": REASON_LABELS,
        "alarm_labels": ALARM_LABELS,
        "status_words": lighting_ops.status_words,
    }
