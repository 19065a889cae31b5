"""The demo's rules: sensible ones for a territory like Eclor's, among them the report cluster."""

from __future__ import annotations

import random

from sqlalchemy import func
from sqlmodel import Session, select

from app.maintenance.rules import RuleForm, save
from app.models.maintenance import MaintenanceRule

DEMO_RULES = (
    RuleForm(
        name="File d'attente à la déchèterie",
        kind="measure",
        layer="sensors",
        subject="waste_centre",
        measure="queue",
        op=">=",
        threshold=15,
        duration_min=10,
        severity="minor",
        quiet_min=60,
    ),
    RuleForm(
        name="Particules fines PM2,5 élevées",
        kind="measure",
        layer="sensors",
        subject="air_quality",
        measure="pm25",
        op=">=",
        threshold=50,
        duration_min=60,
        severity="major",
        quiet_min=180,
        prepare_alert=True,
        alert_title="Pic de particules fines",
    ),
    RuleForm(
        name="Passage frontalier saturé",
        kind="measure",
        layer="sensors",
        subject="traffic",
        measure="averageVehicleSpeed",
        op="<",
        threshold=20,
        duration_min=15,
        severity="minor",
        quiet_min=30,
        prepare_alert=True,
        alert_title="Passage frontalier saturé",
    ),
    RuleForm(name="Point lumineux hors ligne", kind="status", measure="offline", severity="minor"),
    RuleForm(name="Panne d'éclairage signalée", kind="status", measure="fault", severity="major"),
    RuleForm(name="Capteur muet", kind="silence", layer="sensors", severity="minor"),
    RuleForm(
        name="Dépôts répétés au même endroit",
        kind="cluster",
        count=3,
        radius_m=200,
        days=7,
        severity="major",
    ),
    RuleForm(name="Signalement en retard", kind="overdue", days=14, severity="minor"),
)


def load_rules(session: Session, rng: random.Random) -> str | None:
    if session.scalar(select(func.count()).select_from(MaintenanceRule)):
        return None
    for form in DEMO_RULES:
        save(session, form, actor_id=None)
    return f"{len(DEMO_RULES)} règles de maintenance"
