"""Demo dump-site reports, with photos and staff answers, for ``eclor demo``."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from app import images
from app.db import saved_id, utcnow
from app.models.reports import (
    Report,
    ReportEvent,
    ReportFollow,
    ReportPhoto,
)
from app.reports.catalogue import communes, number
from app.reports.intake import find_by_key
from app.reports.workflow import change_status, ensure_reject_reasons

# --- demo data ------------------------------------------------------------------------------------

DEMO_REPORTS = [
    # (category, commune insee, description, volume, final status)
    (
        "bulky_items",
        "57038",
        "Un canapé et deux matelas au bout du chemin des Jardins.",
        "car",
        "new",
    ),
    (
        "household_waste",
        "54580",
        "Une dizaine de sacs poubelle éventrés près des conteneurs à verre.",
        "bag",
        "new",
    ),
    ("rubble", "57041", "Gravats et plaques de plâtre déversés à l'entrée du bois.", "van", "new"),
    ("tyres", "57529", "Une quinzaine de pneus sur le parking de la forêt.", "car", "new"),
    ("green_waste", "57565", "Tontes et branchages jetés dans le fossé.", "car", "new"),
    ("other", "57602", "Carcasse de scooter abandonnée depuis une semaine.", None, "new"),
    (
        "hazardous",
        "54523",
        "Bidons d'huile et pots de peinture au bord du ruisseau.",
        "bag",
        "confirmed",
    ),
    ("bulky_items", "57097", "Frigo et machine à laver derrière l'abribus.", "car", "confirmed"),
    (
        "household_waste",
        "57038",
        "Sacs de déchets au pied du point d'apport volontaire.",
        "bag",
        "confirmed",
    ),
    ("rubble", "54580", "Déblais de chantier sur le chemin agricole.", "truck", "confirmed"),
    ("bulky_items", "57529", "Meubles démontés sur le trottoir.", "van", "scheduled"),
    ("tyres", "57041", "Pneus de camion dans le talus.", "van", "scheduled"),
    ("green_waste", "54523", "Souches et branches en travers du sentier.", "van", "scheduled"),
    (
        "household_waste",
        "57565",
        "Sacs déposés chaque semaine au même endroit.",
        "bag",
        "in_progress",
    ),
    ("rubble", "57602", "Tuiles et briques dans la friche.", "car", "in_progress"),
    ("other", "57097", "Palettes et cartons près de la salle des fêtes.", "car", "in_progress"),
    ("bulky_items", "54580", "Matelas sous le pont.", "bag", "resolved"),
    ("household_waste", "57038", "Déchets épars sur l'aire de pique-nique.", "bag", "resolved"),
    ("green_waste", "57041", "Déchets verts au bord du terrain de foot.", "car", "resolved"),
    ("tyres", "54523", "Quatre pneus devant le cimetière.", "bag", "resolved"),
    ("other", "57529", "Dépôt sur un terrain privé clôturé.", None, "rejected"),
    ("rubble", "57097", "Petit tas de terre.", "bag", "rejected"),
    (
        "bulky_items",
        "57038",
        "Canapé au bout du chemin des Jardins (déjà signalé ?).",
        "car",
        "duplicate",
    ),
    (
        "household_waste",
        "57602",
        "Signalement contenant des informations personnelles.",
        "bag",
        "hidden",
    ),
]

_DEMO_PATHS = {
    "scheduled": ("confirmed", "scheduled"),
    "in_progress": ("confirmed", "in_progress"),
    "resolved": ("confirmed", "in_progress", "resolved"),
    "rejected": ("rejected",),
    "duplicate": ("duplicate",),
    "hidden": ("hidden",),
    "confirmed": ("confirmed",),
    "new": (),
}


def demo_photo(category: str, rng: Any, *, after: bool = False) -> bytes:
    """A simple drawn picture of a dump site (or of the cleaned place), as a phone JPEG."""
    from PIL import Image, ImageDraw

    width, height = 1024, 768
    ground = (96, 128, 70) if category in ("green_waste", "tyres", "rubble") else (120, 120, 118)
    image = Image.new("RGB", (width, height), ground)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, height // 3), fill=(150, 190, 230))
    draw.polygon(
        [
            (0, height // 3),
            (width, height // 3 - 60),
            (width, height // 3 + 40),
            (0, height // 3 + 80),
        ],
        fill=(70, 110, 60),
    )
    if not after:
        for _i in range(rng.randint(5, 12)):
            x, y = rng.randint(100, width - 200), rng.randint(height // 2, height - 150)
            if category == "tyres":
                draw.ellipse((x, y, x + 140, y + 140), fill=(25, 25, 25))
                draw.ellipse((x + 40, y + 40, x + 100, y + 100), fill=ground)
            elif category == "household_waste":
                draw.ellipse((x, y, x + 120, y + 150), fill=(20, 20, 24))
            elif category == "rubble":
                draw.polygon([(x, y + 120), (x + 80, y), (x + 180, y + 120)], fill=(170, 160, 150))
            elif category == "green_waste":
                draw.line((x, y, x + 180, y + 60), fill=(90, 60, 30), width=18)
            elif category == "hazardous":
                draw.rectangle((x, y, x + 70, y + 110), fill=(200, 40, 30))
            else:
                draw.rectangle(
                    (x, y, x + 200, y + 120), fill=(rng.randint(90, 200), rng.randint(60, 140), 60)
                )
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=82)
    return buf.getvalue()


def load_demo(session: Session, rng: Any, media_dir: Path) -> str | None:
    """Believable reports in every state across the communes (idempotent)."""
    from app.demo import demo_user

    if find_by_key(session, "demo-report-1") is not None:
        return None
    residents = [
        demo_user(session, e)
        for e in ("habitant@eclor.test", "voisine@eclor.test", "frontalier@eclor.test")
    ]
    agent = demo_user(session, "agent@eclor.test")
    reasons = ensure_reject_reasons(session)
    centres = {c.insee: c for c in communes(session)}
    made: list[Report] = []
    now = utcnow()
    for index, (category, insee, description, volume, final) in enumerate(DEMO_REPORTS, start=1):
        commune = centres[insee]
        reporter = residents[index % len(residents)]
        created = now - timedelta(days=rng.randint(1, 80), hours=rng.randint(0, 12))
        lat = commune.lat + rng.uniform(-0.006, 0.006)
        lon = commune.lon + rng.uniform(-0.008, 0.008)
        if final == "duplicate" and made:
            lat, lon = made[0].lat + 0.0002, made[0].lon + 0.0002
        report = Report(
            category=category,
            description=description,
            volume=volume,
            witnessed=index % 7 == 0,
            lat=lat,
            lon=lon,
            commune_insee=insee,
            reporter_id=reporter.id,
            source="web",
            idempotency_key=f"demo-report-{index}",
            created_at=created,
            updated_at=created,
        )
        session.add(report)
        session.flush()
        session.add(
            ReportEvent(
                report_id=saved_id(report),
                actor_id=reporter.id,
                kind="created",
                to_status="new",
                at=created,
            )
        )
        session.add(ReportFollow(report_id=saved_id(report), user_id=saved_id(reporter)))
        processed = images.process(demo_photo(category, rng))
        stored = images.save(processed, media_dir)
        session.add(
            ReportPhoto(
                report_id=saved_id(report),
                kind="overview",
                display_name=stored.display_name,
                thumb_name=stored.thumb_name,
                width=processed.width,
                height=processed.height,
                sha256=processed.sha256,
                uploaded_by=reporter.id,
                created_at=created,
            )
        )
        step_at = created
        for to in _DEMO_PATHS[final]:
            after = None
            if to == "resolved":
                after = images.process(demo_photo(category, rng, after=True))
            event = change_status(
                session,
                report,
                to,
                actor_id=agent.id,
                notify_people=False,
                note={
                    "confirmed": "Vu sur place, merci.",
                    "scheduled": "Une équipe passera avec la benne.",
                    "resolved": "Le dépôt a été enlevé.",
                }.get(to, ""),
                reject_reason_id=reasons[index % len(reasons)].id if reasons else None,
                duplicate_of=number(made[0]) if made else None,
                expected_at=now + timedelta(days=rng.randint(1, 6)) if to == "scheduled" else None,
                after_photo=after,
                media_dir=media_dir,
            )
            step_at = min(now, step_at + timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8)))
            event.at = step_at
            report.updated_at = step_at
            if to == "resolved":
                report.resolved_at = step_at
        made.append(report)
    session.flush()
    return f"{len(made)} dump-site reports with photos, in every state"


def load_demo_reports(session: Session, rng: Any) -> str | None:
    from app.settings import get_settings

    return load_demo(session, rng, get_settings().resolved_media_dir)
