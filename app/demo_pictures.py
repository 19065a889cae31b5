"""Drawn pictures for demo content (shops, sharing), run through the photo pipeline and stored like an upload."""

from __future__ import annotations

from typing import Any


def demo_photo(
    label: str, background: tuple[int, int, int], accent: tuple[int, int, int], motif: str, rng: Any
) -> bytes:
    """A simple drawn picture (PNG bytes) for demo content: a motif on a shaded background, and a label."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    width, height = 800, 600
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # soft vertical gradient
        shade = int(30 * y / height)
        draw.line([(0, y), (width, y)], fill=tuple(max(0, c - shade) for c in background))
    cx, cy = width // 2, height // 2 - 40
    if motif == "bread":
        for i in range(3):
            x0 = 150 + i * 170 + rng.randint(-10, 10)
            draw.ellipse(
                [x0, cy - 60, x0 + 160, cy + 60], fill=accent, outline=(90, 50, 20), width=6
            )
            for k in range(3):
                draw.line(
                    [x0 + 40 + k * 35, cy - 35, x0 + 60 + k * 35, cy + 35],
                    fill=(240, 210, 160),
                    width=6,
                )
    elif motif == "meat":
        draw.ellipse(
            [cx - 220, cy - 120, cx + 220, cy + 120], fill=accent, outline=(120, 20, 30), width=8
        )
        draw.ellipse([cx - 90, cy - 50, cx + 40, cy + 50], fill=(245, 225, 220))
    elif motif == "flower":
        for i in range(5):
            fx, fy = 180 + i * 110, cy + rng.randint(-60, 40)
            draw.line(
                [fx, fy, fx + rng.randint(-20, 20), height - 120], fill=(40, 120, 50), width=8
            )
            for angle in range(6):
                import math

                px = fx + 38 * math.cos(angle * math.pi / 3)
                py = fy + 38 * math.sin(angle * math.pi / 3)
                draw.ellipse([px - 28, py - 28, px + 28, py + 28], fill=accent)
            draw.ellipse([fx - 18, fy - 18, fx + 18, fy + 18], fill=(250, 210, 60))
    elif motif == "bike":
        for wx in (cx - 170, cx + 170):
            draw.ellipse([wx - 110, cy - 30, wx + 110, cy + 190], outline=accent, width=14)
        draw.line([cx - 170, cy + 80, cx, cy + 80, cx + 170, cy + 80], fill=accent, width=12)
        draw.line(
            [cx - 170, cy + 80, cx - 60, cy - 60, cx + 100, cy - 60, cx + 170, cy + 80],
            fill=accent,
            width=12,
        )
        draw.line([cx, cy + 80, cx - 60, cy - 60], fill=accent, width=12)
    elif motif == "veg":
        for i in range(7):
            vx, vy = 120 + i * 95, cy + rng.randint(-50, 50)
            r = rng.randint(40, 60)
            colour = [accent, (230, 120, 30), (200, 40, 40), (90, 160, 60)][i % 4]
            draw.ellipse([vx - r, vy - r, vx + r, vy + r], fill=colour)
    else:  # a box-shaped object
        draw.rounded_rectangle(
            [cx - 200, cy - 120, cx + 200, cy + 140],
            radius=30,
            fill=accent,
            outline=(30, 30, 30),
            width=6,
        )
        draw.rectangle([cx - 60, cy - 160, cx + 60, cy - 120], fill=(60, 60, 60))
    try:  # a system font with accents when there is one; Pillow's own otherwise
        font: Any = ImageFont.truetype("DejaVuSans.ttf", 52)
    except OSError:
        font = ImageFont.load_default(size=52)
    box = draw.textbbox((0, 0), label, font=font)
    tx = (width - (box[2] - box[0])) // 2
    draw.rounded_rectangle(
        [tx - 24, height - 130, tx + box[2] - box[0] + 24, height - 40],
        radius=20,
        fill=(255, 255, 255),
    )
    draw.text((tx, height - 122), label, fill=(30, 30, 30), font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def demo_store(data: bytes) -> tuple[str, str, int, int]:
    """Run demo bytes through the photo pipeline and store them like an upload."""
    from app import images
    from app.settings import get_settings

    processed = images.process(data)
    stored = images.save(processed, get_settings().resolved_media_dir)
    return stored.display_name, stored.thumb_name, processed.width, processed.height
