"""What the alerts domain holds on a person: push subscriptions and their deliveries (export, erasure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.alerts import preferences
from app.alerts.topics import format_minutes, unpack
from app.models.push import (
    Alert,
    NotificationDigestItem,
    NotificationPreferences,
    PushDelivery,
    PushSubscription,
)


def export_push(session: Session, user_id: int, media_dir: Path) -> tuple[Any, list[Path]]:
    subs = session.scalars(
        select(PushSubscription)
        .where(col(PushSubscription.user_id) == user_id)
        .order_by(col(PushSubscription.id))
    ).all()
    out = []
    for sub in subs:
        deliveries = session.execute(
            sa.select(
                col(PushDelivery.message_key),
                col(PushDelivery.alert_id),
                col(PushDelivery.status),
                col(PushDelivery.sent_at),
                col(PushDelivery.finished_at),
            )
            .where(col(PushDelivery.subscription_id) == sub.id)
            .order_by(col(PushDelivery.id))
        ).all()
        out.append(
            {
                "device": sub.device,
                "endpoint": sub.endpoint,
                "topics": unpack(sub.topics),
                "communes": unpack(sub.communes),
                "quiet_hours": [format_minutes(sub.quiet_start), format_minutes(sub.quiet_end)]
                if sub.quiet_start is not None
                else None,
                "created_at": sub.created_at.isoformat(),
                "last_success_at": sub.last_success_at.isoformat() if sub.last_success_at else None,
                "deliveries": [
                    {
                        "message": d.message_key,
                        "alert_id": d.alert_id,
                        "status": d.status,
                        "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                        "finished_at": d.finished_at.isoformat() if d.finished_at else None,
                    }
                    for d in deliveries
                ],
            }
        )
    choices = preferences.load(session, user_id)
    return {
        "preferences": {
            "topics": choices.topics,
            "communes": choices.communes,
            "quiet_hours": [format_minutes(choices.quiet_start), format_minutes(choices.quiet_end)]
            if choices.quiet_start is not None
            else None,
            "email": choices.email_mode,
        },
        "subscriptions": out,
    }, []


def erase_push(session: Session, user_id: int, media_dir: Path) -> list[Path]:
    subs = select(col(PushSubscription.id)).where(col(PushSubscription.user_id) == user_id)
    session.execute(
        delete(PushDelivery).where(col(PushDelivery.subscription_id).in_(subs.scalar_subquery()))
    )
    session.execute(delete(PushSubscription).where(col(PushSubscription.user_id) == user_id))
    session.execute(
        delete(NotificationDigestItem).where(col(NotificationDigestItem.user_id) == user_id)
    )
    session.execute(
        delete(NotificationPreferences).where(col(NotificationPreferences.user_id) == user_id)
    )
    session.execute(update(Alert).where(col(Alert.created_by) == user_id).values(created_by=None))
    return []
