"""A territory's icons, drawn from its colours and short name (Pillow).

Every territory of an install gets its own home-screen and notification icons, so two
territories installed side by side on a phone are told apart: a square of the territory's
main colour with the initials of its short name and a dot of its accent colour (the shape of
Eclor's own icon). They are drawn on first request and kept in memory; their address carries
:attr:`app.territories.Branding.icon_version`, so a change of name or colours is a new address.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from app.territories import Branding

# name -> (side in pixels, maskable: drawn full-bleed with its content in the safe zone)
ICONS: dict[str, tuple[int, bool]] = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "maskable-512.png": (512, True),
    "apple-touch-icon.png": (180, True),  # iOS rounds the corners itself
    "favicon-32.png": (32, False),
    "notification.png": (192, False),
}
TEXT = (246, 247, 244)
_WORD = re.compile(r"[^\W_]+")


def initials(short_name: str) -> str:
    """One or two initials of the short name ("Pays-Haut" -> "PH", "Minett" -> "M")."""
    words = _WORD.findall(short_name)
    if not words:
        return "E"
    return "".join(w[0] for w in words[:2]).upper()


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _font(size: int) -> Any:
    try:  # a system font with accents when there is one; Pillow's own otherwise
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


@lru_cache(maxsize=256)
def _draw(name: str, letters: str, primary: str, accent: str) -> bytes:
    side, maskable = ICONS[name]
    scale = 4 if side < 128 else 2  # drawn larger, then reduced: smooth edges
    big = side * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle([0, 0, big, big], fill=_rgb(primary))
        inner = big * 0.8  # the safe zone of a maskable icon: a circle of 80 % of the side
    else:
        draw.rounded_rectangle([0, 0, big - 1, big - 1], radius=big * 0.19, fill=_rgb(primary))
        inner = big * 0.92
    margin = (big - inner) / 2
    font = _font(int(inner * (0.46 if len(letters) > 1 else 0.6)))
    box = draw.textbbox((0, 0), letters, font=font)
    width, height = box[2] - box[0], box[3] - box[1]
    radius = inner * 0.075
    gap = radius * 0.6
    # The initials and the dot after them, centred together, the dot sitting on the baseline.
    x = margin + (inner - (width + gap + 2 * radius)) / 2
    y = margin + (inner - height) / 2
    draw.text((x - box[0], y - box[1]), letters, fill=TEXT, font=font)
    cx, cy = x + width + gap + radius, y + height - radius
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=_rgb(accent))
    out = io.BytesIO()
    image.resize((side, side), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=True)
    return out.getvalue()


def icon(territory: Branding, name: str) -> bytes | None:
    """The PNG ``name`` (one of :data:`ICONS`) of the territory, or None for another name."""
    if name not in ICONS:
        return None
    return _draw(
        name, initials(territory.short_name), territory.colour_primary, territory.colour_accent
    )
