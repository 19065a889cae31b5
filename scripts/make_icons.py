"""Draws Eclor's app icons (run once; the PNGs are committed under app/static/icons/)."""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "app" / "static" / "icons"
GREEN = (11, 93, 59)
LIGHT = (246, 247, 244)
SUN = (244, 190, 60)


def draw(size: int, *, maskable: bool) -> Image.Image:
    img = Image.new("RGB", (size, size), GREEN)
    d = ImageDraw.Draw(img)
    if not maskable:
        img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        d = ImageDraw.Draw(img)
        d.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 5, fill=GREEN)
    safe = 0.62 if maskable else 0.78  # maskable: keep the mark inside the 80% safe circle
    s = size * safe
    x0 = (size - s) / 2
    y0 = (size - s) / 2
    bar = s / 5
    # The "E": a stem and three arms.
    d.rectangle((x0, y0, x0 + bar, y0 + s), fill=LIGHT)
    for i, width in enumerate((0.9, 0.7, 0.9)):
        top = y0 + i * (s - bar) / 2
        d.rectangle((x0, top, x0 + s * width, top + bar), fill=LIGHT)
    # A small sun: the territory's light.
    r = s * 0.14
    cx, cy = x0 + s * 0.92, y0 + s * 0.5
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=SUN)
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    draw(192, maskable=False).save(OUT / "icon-192.png", optimize=True)
    draw(512, maskable=False).save(OUT / "icon-512.png", optimize=True)
    draw(512, maskable=True).save(OUT / "maskable-512.png", optimize=True)
    draw(180, maskable=True).save(OUT / "apple-touch-icon.png", optimize=True)
    draw(32, maskable=False).save(OUT / "favicon-32.png", optimize=True)


if __name__ == "__main__":
    main()
