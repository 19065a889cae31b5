"""Photos: what app.images accepts, what it refuses, what it stores and what it strips.

Every input is a real file built in the test with Pillow (and pillow-heif for
HEIC). Bad inputs go through the same path as an upload (``process`` then
``save``) and must leave the media directory empty.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms, ImageDraw, ImageFile, TiffImagePlugin

from app import images, photo_store

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'exif:GPSLatitude="49,28.32N"/></rdf:RDF></x:xmpmeta>'
)

# Audun-le-Tiche town hall, more or less: 49 deg 28' 19.2" N, 5 deg 57' 18" E.
AUDUN_DMS = ((49, 1), (28, 1), (192, 10))
AUDUN_LAT = 49 + 28 / 60 + 19.2 / 3600
AUDUN_LON = 5 + 57 / 60 + 18 / 3600


# --------------------------------------------------------------------------
# Builders


def photo(size: tuple[int, int] = (640, 480), mode: str = "RGB") -> Image.Image:
    """A picture with structure and noise, so that encoders and resamplers do real work."""
    width, height = size
    noise = Image.effect_noise(size, 24).convert("RGB")
    picture = Image.new("RGB", size, (96, 140, 70))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, width, height // 3), fill=(120, 170, 230))
    draw.ellipse((width // 4, height // 3, width // 2, height - 10), fill=(90, 60, 40))
    picture = Image.blend(picture, noise, 0.25)
    return picture.convert(mode) if mode != "RGB" else picture


def rational(parts: tuple[tuple[int, int], ...]) -> tuple[TiffImagePlugin.IFDRational, ...]:
    return tuple(TiffImagePlugin.IFDRational(num, den) for num, den in parts)


def camera_exif(
    *,
    orientation: int | None = None,
    lat_ref: str = "N",
    lon_ref: str = "E",
    lat: tuple[tuple[int, int], ...] = AUDUN_DMS,
    lon: tuple[tuple[int, int], ...] = ((5, 1), (57, 1), (18, 1)),
    taken: str | None = "2026:05:01 14:03:22",
    offset: str | None = "+02:00",
) -> Image.Exif:
    """EXIF as a phone writes it: make/model, orientation, capture time and a GPSInfo IFD."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Eclor"
    exif[ExifTags.Base.Model] = "Test Phone"
    exif[ExifTags.Base.Artist] = "Jean Dupont"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = lat_ref
    gps[ExifTags.GPS.GPSLatitude] = rational(lat)
    gps[ExifTags.GPS.GPSLongitudeRef] = lon_ref
    gps[ExifTags.GPS.GPSLongitude] = rational(lon)
    if taken is not None:
        tags = exif.get_ifd(ExifTags.IFD.Exif)
        tags[ExifTags.Base.DateTimeOriginal] = taken
        if offset is not None:
            tags[ExifTags.Base.OffsetTimeOriginal] = offset
    return exif


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small valid PNG whose IHDR is rewritten to declare ``width`` x ``height`` (a bomb)."""
    data = bytearray(encode(Image.new("L", (8, 8)), "PNG"))
    # Signature (8) + length (4) + b"IHDR" (4), then width and height.
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def ingest(data: bytes, media_dir: Path, **limits: int) -> images.StoredPhoto:
    """The upload path of every Eclor form: check and re-encode, then store."""
    return images.save(images.process(data, **limits), media_dir)


def stored_files(media_dir: Path) -> list[Path]:
    return sorted(path for path in media_dir.rglob("*") if path.is_file())


def assert_clean(data: bytes) -> None:
    """A stored variant carries no EXIF, GPS, XMP, comment or ICC profile."""
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert len(image.getexif()) == 0
        assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
        assert "exif" not in image.info
        assert "xmp" not in image.info
        assert "icc_profile" not in image.info
        assert "comment" not in image.info
    assert b"Exif" not in data
    assert b"<x:xmpmeta" not in data
    assert b"http://ns.adobe.com/xap" not in data
    assert b"Jean Dupont" not in data
    assert b"ICC_PROFILE" not in data


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    return folder


def assert_refused(data: bytes, media_dir: Path, code: str, **limits: int) -> None:
    with pytest.raises(images.ImageRejected) as refusal:
        ingest(data, media_dir, **limits)
    assert refusal.value.code == code
    assert refusal.value.message
    assert stored_files(media_dir) == []


# --------------------------------------------------------------------------
# Refusals: nothing is written


def test_it_rejects_a_png_bomb(media_dir: Path) -> None:
    assert_refused(png_declaring(50_000, 50_000), media_dir, "too_many_pixels")


def test_it_rejects_a_bomb_even_when_pillows_global_limit_is_off(
    media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert_refused(png_declaring(20_000, 20_000), media_dir, "too_many_pixels")


def test_it_turns_a_bomb_into_a_refusal_and_never_a_warning(media_dir: Path) -> None:
    # 100 MP: above Pillow's default warning threshold, below its error threshold.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_refused(png_declaring(10_000, 10_000), media_dir, "too_many_pixels")


def test_it_applies_its_own_pixel_limit(media_dir: Path) -> None:
    data = encode(photo((300, 200)), "JPEG")
    assert_refused(data, media_dir, "too_many_pixels", max_pixels=300 * 200 - 1)
    assert ingest(data, media_dir, max_pixels=300 * 200).display_name


def test_it_keeps_webp_to_a_lower_ceiling_because_its_decoder_needs_more_memory(
    media_dir: Path,
) -> None:
    over = encode(Image.new("RGB", (4097, 4096), "red"), "WEBP")
    assert_refused(over, media_dir, "too_many_pixels")
    processed = images.process(encode(Image.new("RGB", (4096, 4096), "red"), "WEBP"))
    assert (processed.width, processed.height) == (2048, 2048)


def test_it_rejects_a_truncated_jpeg(media_dir: Path) -> None:
    data = encode(photo((800, 600)), "JPEG", quality=90)
    assert_refused(data[: len(data) // 2], media_dir, "truncated")


def test_it_rejects_a_truncated_jpeg_decoded_at_reduced_scale(media_dir: Path) -> None:
    data = encode(photo((4000, 3000)), "JPEG", quality=85)
    assert_refused(data[: len(data) * 3 // 4], media_dir, "truncated")


def test_it_rejects_a_truncated_png(media_dir: Path) -> None:
    data = encode(photo((400, 300)), "PNG")
    assert_refused(data[: len(data) // 2], media_dir, "truncated")


def test_it_rejects_a_truncated_webp(media_dir: Path) -> None:
    data = encode(photo((400, 300)), "WEBP")
    assert_refused(data[: len(data) // 2], media_dir, "truncated")


def test_it_refuses_to_run_when_truncated_images_are_allowed_globally(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        images.process(encode(photo((40, 30)), "JPEG"))


def test_it_rejects_a_pdf_renamed_jpg(media_dir: Path, tmp_path: Path) -> None:
    upload = tmp_path / "photo.jpg"
    upload.write_bytes(
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    assert_refused(upload.read_bytes(), media_dir, "not_an_image")


def test_it_rejects_an_svg_renamed_jpg(media_dir: Path, tmp_path: Path) -> None:
    upload = tmp_path / "photo.jpg"
    upload.write_bytes(
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
        b'height="10"><script>alert(document.cookie)</script></svg>'
    )
    assert_refused(upload.read_bytes(), media_dir, "not_an_image")


def test_it_rejects_an_html_page_renamed_jpg(media_dir: Path, tmp_path: Path) -> None:
    upload = tmp_path / "photo.jpg"
    upload.write_bytes(b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>")
    assert_refused(upload.read_bytes(), media_dir, "not_an_image")


def test_it_rejects_an_html_page_behind_a_jpeg_magic_number(media_dir: Path) -> None:
    data = b"\xff\xd8\xff<html><script>alert(1)</script></html>"
    assert_refused(data, media_dir, "corrupt")


def test_it_rejects_empty_bytes(media_dir: Path) -> None:
    assert_refused(b"", media_dir, "empty")


def test_it_rejects_too_many_bytes_before_reading_them(media_dir: Path) -> None:
    data = b"\xff\xd8\xff" + bytes(images.MAX_BYTES)
    assert_refused(data, media_dir, "too_large")


def test_it_applies_its_own_byte_limit(media_dir: Path) -> None:
    data = encode(photo((300, 200)), "JPEG")
    assert_refused(data, media_dir, "too_large", max_bytes=len(data) - 1)
    assert ingest(data, media_dir, max_bytes=len(data)).display_name


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "AVIF"])
def test_it_rejects_image_formats_it_does_not_accept(media_dir: Path, fmt: str) -> None:
    assert_refused(encode(photo((64, 48)), fmt), media_dir, "unsupported")


def test_it_rejects_a_gif_bomb(media_dir: Path) -> None:
    data = bytearray(encode(Image.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", 65_535, 65_535)  # logical screen size
    assert_refused(bytes(data), media_dir, "unsupported")


def test_it_rejects_a_video(media_dir: Path) -> None:
    data = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64)
    assert_refused(data, media_dir, "not_an_image")


def test_its_refusal_message_is_french_and_speaks_to_the_person() -> None:
    with pytest.raises(images.ImageRejected) as refusal:
        images.process(b"<svg/>")
    assert str(refusal.value) == (
        "Ce fichier n'est pas une photo (JPEG, PNG, WebP ou HEIC attendu)."
    )
    assert isinstance(refusal.value, ValueError)


# --------------------------------------------------------------------------
# Metadata: read, then stripped


def test_it_reads_gps_and_time_from_exif_and_stores_none_of_it(media_dir: Path) -> None:
    data = encode(
        photo((1200, 900)),
        "JPEG",
        exif=camera_exif(),
        xmp=XMP,
        comment=b"Jean Dupont",
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )

    processed = images.process(data)

    assert processed.gps is not None
    assert processed.gps.lat == pytest.approx(AUDUN_LAT, abs=1e-9)
    assert processed.gps.lon == pytest.approx(AUDUN_LON, abs=1e-9)
    assert processed.taken_at == datetime(
        2026, 5, 1, 14, 3, 22, tzinfo=timezone(timedelta(hours=2))
    )
    assert processed.sha256 == hashlib.sha256(data).hexdigest()
    assert_clean(processed.display)
    assert_clean(processed.thumb)

    stored = images.save(processed, media_dir)
    for name in (stored.display_name, stored.thumb_name):
        assert_clean(images.open_path(name, media_dir).read_bytes())


def test_it_applies_the_south_and_west_references() -> None:
    data = encode(photo((200, 100)), "JPEG", exif=camera_exif(lat_ref="S", lon_ref="W"))
    gps = images.process(data).gps
    assert gps == (pytest.approx(-AUDUN_LAT), pytest.approx(-(5 + 57 / 60 + 18 / 3600)))


def test_it_reads_gps_written_as_decimal_degrees() -> None:
    data = encode(
        photo((200, 100)),
        "JPEG",
        exif=camera_exif(lat=((49_472_000, 1_000_000),), lon=((5_955_000, 1_000_000),)),
    )
    assert images.process(data).gps == (pytest.approx(49.472), pytest.approx(5.955))


@pytest.mark.parametrize(
    ("lat_ref", "lat"),
    [
        ("", AUDUN_DMS),  # no hemisphere
        ("N", ((0, 1), (0, 1), (0, 1))),  # (0, 0): no fix
        ("N", ((49, 0), (28, 1), (0, 1))),  # division by zero
        ("N", ((91, 1), (0, 1), (0, 1))),  # out of range
    ],
)
def test_it_proposes_no_place_from_implausible_gps(
    lat_ref: str, lat: tuple[tuple[int, int], ...]
) -> None:
    lon = AUDUN_DMS if lat[0][0] else ((0, 1), (0, 1), (0, 1))
    exif = camera_exif(lat_ref=lat_ref, lat=lat, lon=lon)
    assert images.process(encode(photo((200, 100)), "JPEG", exif=exif)).gps is None


def test_it_gives_a_naive_time_when_the_camera_records_no_offset() -> None:
    data = encode(photo((200, 100)), "JPEG", exif=camera_exif(offset=None))
    assert images.process(data).taken_at == datetime(2026, 5, 1, 14, 3, 22)


def test_it_falls_back_on_the_gps_clock_which_is_utc() -> None:
    exif = camera_exif(taken=None)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSDateStamp] = "2026:05:01"
    gps[ExifTags.GPS.GPSTimeStamp] = rational(((12, 1), (3, 1), (22, 1)))
    data = encode(photo((200, 100)), "JPEG", exif=exif)
    assert images.process(data).taken_at == datetime(2026, 5, 1, 12, 3, 22, tzinfo=UTC)


def test_it_keeps_a_photo_without_any_metadata() -> None:
    processed = images.process(encode(photo((200, 100)), "JPEG"))
    assert processed.gps is None
    assert processed.taken_at is None


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
def test_it_keeps_a_photo_whose_exif_is_garbage() -> None:
    data = encode(photo((200, 100)), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\xff\xff\xff\xff")
    processed = images.process(data)
    assert (processed.width, processed.height) == (200, 100)
    assert processed.gps is None


# --------------------------------------------------------------------------
# Pixels: orientation, colour, sizes


def red_corner(size: tuple[int, int]) -> Image.Image:
    """A grey picture with a red block in its top-left corner."""
    picture = Image.new("RGB", size, (128, 128, 128))
    ImageDraw.Draw(picture).rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(255, 0, 0))
    return picture


def is_red(pixel: tuple[int, ...]) -> bool:
    red, green, blue = pixel[:3]
    return red > 200 and green < 60 and blue < 60


def test_it_turns_an_orientation_6_photo_upright_into_portrait() -> None:
    # Orientation 6: the camera was turned a quarter clockwise; viewers rotate the
    # stored pixels 90 degrees clockwise, so the stored top-left lands top-right.
    data = encode(red_corner((800, 600)), "JPEG", quality=95, exif=camera_exif(orientation=6))

    processed = images.process(data)

    assert (processed.width, processed.height) == (600, 800)
    assert processed.thumb_height == 400 and processed.thumb_width == 300
    with Image.open(io.BytesIO(processed.display)) as display:
        assert is_red(display.getpixel((display.width - 20, 20)))
        assert not is_red(display.getpixel((20, 20)))
        assert display.getexif().get(ExifTags.Base.Orientation) is None


def test_it_turns_an_orientation_6_photo_upright_when_decoded_at_reduced_scale() -> None:
    data = encode(red_corner((4000, 3000)), "JPEG", quality=90, exif=camera_exif(orientation=6))
    processed = images.process(data)
    assert (processed.width, processed.height) == (1500, 2000)
    with Image.open(io.BytesIO(processed.display)) as display:
        assert is_red(display.getpixel((display.width - 50, 50)))


def test_it_decodes_a_12_megapixel_jpeg_at_half_scale() -> None:
    processed = images.process(encode(photo((4000, 3000)), "JPEG", quality=90))
    assert (processed.width, processed.height) == (2000, 1500)
    assert (processed.thumb_width, processed.thumb_height) == (400, 300)


def test_it_caps_the_longest_side_at_2048_and_the_thumbnail_at_400() -> None:
    processed = images.process(encode(photo((3000, 1500)), "PNG"))
    assert (processed.width, processed.height) == (2048, 1024)
    assert (processed.thumb_width, processed.thumb_height) == (400, 200)
    with Image.open(io.BytesIO(processed.display)) as display:
        assert display.size == (2048, 1024)
    with Image.open(io.BytesIO(processed.thumb)) as thumb:
        assert thumb.size == (400, 200)


def test_it_never_enlarges_a_small_photo() -> None:
    processed = images.process(encode(photo((320, 240)), "WEBP"))
    assert (processed.width, processed.height) == (320, 240)
    assert (processed.thumb_width, processed.thumb_height) == (320, 240)
    assert processed.source_format == "WEBP"
    assert processed.mime == "image/jpeg"


def test_it_puts_a_transparent_png_over_white() -> None:
    picture = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(picture).rectangle((0, 0, 99, 99), fill=(255, 0, 0, 255))

    processed = images.process(encode(picture, "PNG"))

    with Image.open(io.BytesIO(processed.display)) as display:
        assert display.mode == "RGB"
        assert is_red(display.getpixel((40, 50)))
        assert all(channel > 245 for channel in display.getpixel((160, 50)))


def test_it_puts_a_palette_png_with_a_transparent_colour_over_white() -> None:
    picture = Image.new("P", (200, 100), 0)
    picture.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    ImageDraw.Draw(picture).rectangle((0, 0, 99, 99), fill=1)

    processed = images.process(encode(picture, "PNG", transparency=0))

    with Image.open(io.BytesIO(processed.display)) as display:
        assert is_red(display.getpixel((40, 50)))
        assert all(channel > 245 for channel in display.getpixel((160, 50)))


def test_it_scales_a_16_bit_greyscale_png_instead_of_clipping_it() -> None:
    processed = images.process(encode(Image.new("I;16", (60, 40), 40_000), "PNG"))
    with Image.open(io.BytesIO(processed.display)) as display:
        assert display.mode == "RGB"
        assert display.getpixel((30, 20)) == pytest.approx((155, 155, 155), abs=2)


def s15f16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def icc_swapping_red_and_green() -> bytes:
    """A minimal ICC v2 RGB display profile whose red and green primaries are sRGB's swapped.

    A pixel (255, 0, 0) tagged with it is, colorimetrically, sRGB green: only
    a real colour conversion turns it green.
    """
    d50 = (0.9642, 1.0, 0.8249)
    srgb_red, srgb_green, srgb_blue = (
        (0.4361, 0.2225, 0.0139),
        (0.3851, 0.7169, 0.0971),
        (0.1431, 0.0606, 0.7141),
    )

    def xyz(values: tuple[float, float, float]) -> bytes:
        return b"XYZ " + bytes(4) + b"".join(s15f16(v) for v in values)

    description = b"Eclor test: red and green swapped\x00"
    desc = (
        b"desc"
        + bytes(4)
        + struct.pack(">I", len(description))
        + description
        + bytes(4 + 4 + 2 + 1 + 67)
    )
    gamma = b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0233) + bytes(2)  # gamma 2.2
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(d50)),
        (b"rXYZ", xyz(srgb_green)),
        (b"gXYZ", xyz(srgb_red)),
        (b"bXYZ", xyz(srgb_blue)),
        (b"rTRC", gamma),
        (b"gTRC", gamma),
        (b"bTRC", gamma),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, content in tags:
        padded = content + bytes(-len(content) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(content))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(4 * 5 + 8)  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual
        + b"".join(s15f16(v) for v in d50)
        + bytes(4)  # creator
    )
    header += bytes(128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


def is_green(pixel: tuple[int, ...]) -> bool:
    red, green, blue = pixel[:3]
    return green > 200 and red < 60 and blue < 60


def test_it_converts_an_embedded_colour_profile_to_srgb() -> None:
    tagged = Image.new("RGB", (120, 80), (255, 0, 0))
    data = encode(tagged, "JPEG", quality=95, icc_profile=icc_swapping_red_and_green())

    processed = images.process(data)

    with Image.open(io.BytesIO(processed.display)) as display:
        assert "icc_profile" not in display.info
        assert is_green(display.getpixel((60, 40)))


def test_it_ignores_a_broken_colour_profile() -> None:
    data = encode(red_corner((200, 100)), "JPEG", quality=95, icc_profile=b"not a profile" * 20)
    with Image.open(io.BytesIO(images.process(data).display)) as display:
        assert is_red(display.getpixel((10, 10)))


def test_it_converts_a_cmyk_jpeg_to_rgb() -> None:
    cmyk = Image.new("CMYK", (120, 80), (0, 255, 255, 0))  # magenta + yellow ink: red
    processed = images.process(encode(cmyk, "JPEG", quality=95))
    with Image.open(io.BytesIO(processed.display)) as display:
        assert display.mode == "RGB"
        assert is_red(display.getpixel((60, 40)))


# --------------------------------------------------------------------------
# HEIC (iPhone)


def heic(image: Image.Image, **params: object) -> bytes:
    """A real HEIC file, encoded by pillow-heif (registered by app.images)."""
    data = encode(image, "HEIF", quality=80, **params)
    assert data[4:12] == b"ftypheic"
    return data


def test_it_accepts_a_heic_photo_and_reads_its_gps(media_dir: Path) -> None:
    data = heic(photo((1024, 768)), exif=camera_exif().tobytes(), xmp=XMP)

    processed = images.process(data)

    assert processed.source_format == "HEIF"
    assert (processed.width, processed.height) == (1024, 768)
    assert processed.gps is not None
    assert processed.gps.lat == pytest.approx(AUDUN_LAT, abs=1e-9)
    assert processed.taken_at == datetime(
        2026, 5, 1, 14, 3, 22, tzinfo=timezone(timedelta(hours=2))
    )
    assert_clean(processed.display)
    assert_clean(processed.thumb)
    stored = images.save(processed, media_dir)
    assert images.open_path(stored.display_name, media_dir).read_bytes() == processed.display


def test_it_turns_a_rotated_heic_upright_exactly_once() -> None:
    data = heic(red_corner((800, 600)), exif=camera_exif(orientation=6).tobytes())
    processed = images.process(data)
    assert (processed.width, processed.height) == (600, 800)
    with Image.open(io.BytesIO(processed.display)) as display:
        assert is_red(display.getpixel((display.width - 20, 20)))


def test_it_rejects_a_truncated_heic(media_dir: Path) -> None:
    data = heic(photo((640, 480)))
    assert_refused(data[: len(data) - 200], media_dir, "truncated")


# --------------------------------------------------------------------------
# Storage


def processed_photo() -> images.ProcessedPhoto:
    return images.process(encode(photo((900, 600)), "JPEG", exif=camera_exif()))


def test_it_stores_both_variants_under_random_sharded_names(media_dir: Path) -> None:
    processed = processed_photo()

    first = images.save(processed, media_dir)
    second = images.save(processed, media_dir)

    names = {first.display_name, first.thumb_name, second.display_name, second.thumb_name}
    assert len(names) == 4
    for name in names:
        assert len(name) == 36 and name.endswith(".jpg")
        path = media_dir / "photos" / name[:2] / name
        assert path.is_file()
        assert images.open_path(name, media_dir) == path.resolve()
    assert (media_dir / "photos" / first.display_name[:2] / first.display_name).read_bytes() == (
        processed.display
    )
    assert (media_dir / "photos" / first.thumb_name[:2] / first.thumb_name).read_bytes() == (
        processed.thumb
    )
    assert len(stored_files(media_dir)) == 4  # no temporary file left behind


def test_it_writes_nothing_when_the_second_variant_cannot_be_written(
    media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processed = processed_photo()
    real_replace = os.replace
    calls: list[object] = []

    def replace_then_fail(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(photo_store.os, "replace", replace_then_fail)

    with pytest.raises(OSError, match="No space left"):
        images.save(processed, media_dir)
    assert len(calls) == 2
    assert stored_files(media_dir) == []


def test_it_refuses_a_media_folder_inside_the_code() -> None:
    inside = Path(images.__file__).resolve().parent / "static"
    with pytest.raises(ValueError, match="outside"):
        images.save(processed_photo(), inside)
    assert not (inside / "photos").exists()


@pytest.mark.parametrize(
    "name",
    [
        "../../../../etc/passwd",
        "/etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "ab/../../../etc/passwd.jpg",
        "../" + "A" * 29 + ".jpg",
        "A" * 32 + ".png",
        "A" * 32 + ".JPG",
        "A" * 31 + ".jpg",
        "A" * 32 + ".jpg\n",
        "A" * 32 + ".jpg\x00.png",
        "." + "a" * 16 + ".tmp",
        "",
    ],
)
def test_it_refuses_names_it_did_not_make(media_dir: Path, name: str) -> None:
    with pytest.raises(images.InvalidPhotoName):
        images.open_path(name, media_dir)
    with pytest.raises(images.InvalidPhotoName):
        images.delete([name], media_dir)


def test_it_refuses_path_traversal_even_to_an_existing_file(media_dir: Path) -> None:
    secret = media_dir.parent / "secret.jpg"
    secret.write_bytes(b"not for the web")
    with pytest.raises(images.InvalidPhotoName):
        images.open_path("../../secret.jpg", media_dir)
    assert secret.exists()


def test_it_does_not_follow_a_folder_redirected_outside_the_media_directory(
    media_dir: Path, tmp_path: Path
) -> None:
    name = "Zz" + "a" * 30 + ".jpg"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / name).write_bytes(b"outside")
    (media_dir / "photos").mkdir()
    (media_dir / "photos" / "Zz").symlink_to(outside, target_is_directory=True)
    with pytest.raises(FileNotFoundError):
        images.open_path(name, media_dir)


def test_it_answers_not_found_for_a_well_formed_unknown_name(media_dir: Path) -> None:
    with pytest.raises(FileNotFoundError):
        images.open_path("A" * 32 + ".jpg", media_dir)


def test_it_deletes_both_variants_and_tolerates_a_second_deletion(media_dir: Path) -> None:
    stored = images.save(processed_photo(), media_dir)
    names = [stored.display_name, stored.thumb_name]

    assert images.delete(names, media_dir) == 2
    assert stored_files(media_dir) == []
    assert images.delete(names, media_dir) == 0
    with pytest.raises(FileNotFoundError):
        images.open_path(stored.display_name, media_dir)


def test_it_deletes_nothing_when_one_name_of_the_batch_is_invalid(media_dir: Path) -> None:
    stored = images.save(processed_photo(), media_dir)
    with pytest.raises(images.InvalidPhotoName):
        images.delete([stored.display_name, "../../etc/passwd"], media_dir)
    assert len(stored_files(media_dir)) == 2


# --------------------------------------------------------------------------
# Other containers of EXIF and pictures


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_it_reads_gps_from_png_and_webp_exif_and_strips_it(fmt: str) -> None:
    data = encode(photo((300, 200)), fmt, exif=camera_exif().tobytes(), xmp=XMP)
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    processed = images.process(data)

    assert processed.gps == (pytest.approx(AUDUN_LAT), pytest.approx(AUDUN_LON))
    assert_clean(processed.display)
    assert_clean(processed.thumb)


def test_it_takes_the_first_picture_of_a_multi_picture_jpeg() -> None:
    first, second = red_corner((640, 480)), Image.new("RGB", (320, 240), (0, 0, 255))
    data = encode(first, "MPO", save_all=True, append_images=[second], exif=camera_exif())
    with Image.open(io.BytesIO(data)) as check:
        assert check.format == "MPO" and check.n_frames == 2

    processed = images.process(data)

    assert (processed.width, processed.height) == (640, 480)
    assert processed.gps is not None
    with Image.open(io.BytesIO(processed.display)) as display:
        assert is_red(display.getpixel((20, 20)))
    assert_clean(processed.display)
