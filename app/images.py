"""Photos: the one module over Pillow and pillow-heif.

Every photo that enters Eclor (dump-site reports, shared objects, shop
products) goes through :func:`process`, then :func:`save`:

1. The bytes are capped (``max_bytes``), then their type is decided from the
   bytes alone: the magic number picks one of four accepted formats (JPEG,
   PNG, WebP, HEIC/HEIF) and only that format's Pillow decoder may parse
   them. File names and ``Content-Type`` headers are never consulted, so an
   SVG, HTML page or PDF called ``photo.jpg`` is refused; GIF, TIFF, BMP and
   AVIF are refused as well.
2. The declared dimensions are checked against ``max_pixels`` *before* any
   pixel is decoded. The limit is a parameter of this call: it does not read
   or change ``PIL.Image.MAX_IMAGE_PIXELS``, and the decoder is constructed
   directly (as Pillow does internally for embedded images) so a decompression
   bomb becomes an :class:`ImageRejected`, never a warning.
3. GPS position and time taken are read from EXIF, so the report form can
   propose a place (the person still confirms it on the map).
4. JPEGs are decoded at a reduced scale when the display size allows it
   (``Image.draft``: libjpeg's DCT scaling, 1/2 to 1/8), so a 12-megapixel
   phone photo is never expanded to full size in memory.
5. The image is turned upright from its EXIF orientation
   (``ImageOps.exif_transpose``), converted to sRGB RGB (palette and alpha
   flattened over white, embedded ICC profiles applied), and re-encoded as a
   display variant (longest side at most 2048 px) and a thumbnail (at most
   400 px).

Output format: sequential JPEG, Huffman-optimised, quality 80, 4:2:0.
JPEG rather than WebP: (a) every consumer of a stored photo reads it without
a conversion: Open311 ``media_url`` clients, e-mail notifications, GDPR
exports, older browsers; (b) on a 12-megapixel phone photo libjpeg-turbo
encodes the 2000 px display variant in about 15 ms, libwebp in about 200 ms
at its default effort (method 4), for a file about 30 % smaller; at the
effort that matches JPEG's speed (method 0) WebP is no smaller. Keeping the
whole pipeline within twice a plain decode + save matters on the small
servers an authority runs. Nothing needs alpha, since it is flattened.

Stored bytes carry no EXIF, GPS, XMP, comment or ICC profile (pixels are
converted to sRGB, the web's default for untagged images). Storage (random
names in sharded folders, atomic writes, :func:`open_path`, files written
before the transaction that records them) lives in :mod:`app.photo_store`;
its functions are re-exported here for the callers that store what they process.
"""

from __future__ import annotations

import hashlib
import io
import math
import numbers
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Literal, NamedTuple

import pillow_heif
from PIL import (
    ExifTags,
    Image,
    ImageCms,
    ImageFile,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from app.i18n import gettext as _
from app.photo_store import InvalidPhotoName, StoredPhoto, delete, open_path, save

__all__ = [
    "DISPLAY_SIZE",
    "MAX_BYTES",
    "MAX_PIXELS",
    "OUTPUT_MIME",
    "QUALITY",
    "THUMB_SIZE",
    "GpsPosition",
    "ImageRejected",
    "InvalidPhotoName",
    "ProcessedPhoto",
    "StoredPhoto",
    "delete",
    "detect_format",
    "open_path",
    "process",
    "save",
]

# Registered here so that the HEIF decoder is known to Pillow wherever Eclor
# runs (web nodes, worker, CLI). ``process`` itself constructs the decoder
# directly and does not depend on the registry.
pillow_heif.register_heif_opener()

MAX_BYTES: Final = 10 * 1024 * 1024
"""Default cap on the size of an uploaded photo, in bytes (10 MiB)."""

MAX_PIXELS: Final = 40_000_000
"""Default cap on declared width × height (40 megapixels: above any phone's main camera)."""

# Formats whose decoder needs much more memory per pixel than the others get
# a lower ceiling. Pillow's WebP decoder holds the frame about four times over
# (libwebp's canvas, a bytes copy, the image: ~16 bytes a pixel), so a 40 MP
# WebP would peak near 650 MB; at 4096 x 4096 it stays under 300 MB. WebP
# photos come from browsers and messaging apps, well below that.
_FORMAT_MAX_PIXELS: Final[dict[str, int]] = {"WEBP": 4096 * 4096}

DISPLAY_SIZE: Final = 2048
"""Longest side of the display variant, in pixels."""

THUMB_SIZE: Final = 400
"""Longest side of the thumbnail, in pixels."""

QUALITY: Final = 80
"""JPEG quality of both variants."""

OUTPUT_MIME: Final = "image/jpeg"
"""Media type of every stored variant."""

_OUTPUT_SUFFIX: Final = ".jpg"

# A JPEG is decoded at 1/2, 1/4 or 1/8 scale when the result keeps at least
# this fraction of the display size: a 4000 x 3000 photo becomes a
# 2000 x 1500 display variant straight out of the decoder instead of being
# decoded at 12 megapixels and resampled.
_DRAFT_TOLERANCE: Final = 0.9

# Resampling keeps Pillow's usual trade-off: a fast integer box reduction
# down to twice the target, then Lanczos.
_REDUCING_GAP: Final = 2.0

Format = Literal["JPEG", "PNG", "WEBP", "HEIF"]
"""A format :func:`process` accepts, as decided by :func:`detect_format`."""

RejectionCode = Literal[
    "empty",
    "too_large",
    "too_many_pixels",
    "not_an_image",
    "unsupported",
    "truncated",
    "corrupt",
]


class ImageRejected(ValueError):
    """A photo that Eclor refuses, with a message for the person and a code for machines.

    ``message`` is translated into the locale of the current request (French
    by default); ``code`` is stable and meant for logs, metrics and API
    clients. Nothing has been written anywhere when this is raised.
    """

    def __init__(self, code: RejectionCode, message: str) -> None:
        super().__init__(message)
        self.code: RejectionCode = code
        self.message: str = message

    def __repr__(self) -> str:
        return f"ImageRejected(code={self.code!r}, message={self.message!r})"


class GpsPosition(NamedTuple):
    """A WGS 84 position read from a photo's EXIF, in decimal degrees."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    """A photo that passed every check, re-encoded and stripped of metadata.

    ``gps`` and ``taken_at`` come from the original's EXIF and exist only
    here, as hints for the form: the stored bytes do not carry them.
    ``taken_at`` is timezone-aware when the photo records its UTC offset (or
    only a GPS time, which is UTC) and naive (the camera's clock) otherwise.
    """

    display: bytes
    thumb: bytes
    mime: str
    width: int
    height: int
    thumb_width: int
    thumb_height: int
    gps: GpsPosition | None
    taken_at: datetime | None
    sha256: str
    """Hex SHA-256 of the original upload (spots the same file sent twice)."""
    source_format: Format


# --------------------------------------------------------------------------
# Rejections


def _too_large(max_bytes: int) -> ImageRejected:
    size = f"{max_bytes / (1024 * 1024):.3g}"
    return ImageRejected(
        "too_large",
        _("La photo est trop lourde (%(size)s Mo au maximum).") % {"size": size},
    )


def _too_many_pixels(max_pixels: int) -> ImageRejected:
    megapixels = f"{max_pixels / 1_000_000:.3g}"
    return ImageRejected(
        "too_many_pixels",
        _("La photo est trop grande (%(mp)s mégapixels au maximum).") % {"mp": megapixels},
    )


def _not_an_image() -> ImageRejected:
    return ImageRejected(
        "not_an_image",
        _("Ce fichier n'est pas une photo (JPEG, PNG, WebP ou HEIC attendu)."),
    )


def _unsupported() -> ImageRejected:
    return ImageRejected(
        "unsupported",
        _("Ce format d'image n'est pas accepté (JPEG, PNG, WebP ou HEIC attendu)."),
    )


def _truncated() -> ImageRejected:
    return ImageRejected(
        "truncated",
        _("La photo est incomplète, l'envoi a sans doute été interrompu. Merci de la renvoyer."),
    )


def _corrupt() -> ImageRejected:
    return ImageRejected("corrupt", _("La photo est endommagée et ne peut pas être lue."))


# --------------------------------------------------------------------------
# Type detection

_HEVC_BRANDS: Final = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
)
_HEIF_GENERIC_BRANDS: Final = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS: Final = frozenset({b"avif", b"avis"})

# Image formats recognised only to be refused with the right message.
_REFUSED_IMAGE_MAGIC: Final = (
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
    b"8BPS",  # Photoshop
    b"\x00\x00\x01\x00",  # ICO
    b"\xff\x0a",  # JPEG XL codestream
    b"\x00\x00\x00\x0cJXL ",  # JPEG XL container
    b"\x00\x00\x00\x0cjP  ",  # JPEG 2000
    b"\xff\x4f\xff\x51",  # JPEG 2000 codestream
    b"qoif",
)


def _ftyp_brands(data: bytes) -> tuple[bytes, frozenset[bytes]]:
    """Major brand and all brands of an ISO-BMFF ``ftyp`` box at the start of ``data``."""
    box_size = int.from_bytes(data[0:4], "big")
    end = min(len(data), box_size if 16 <= box_size <= 4096 else 16)
    major = data[8:12]
    compatible = {data[i : i + 4] for i in range(16, end - 3, 4)}
    return major, frozenset({major, *compatible})


def detect_format(data: bytes) -> Format:
    """The format of ``data``, decided by its magic number only.

    Raises :class:`ImageRejected` (``empty``, ``unsupported`` or
    ``not_an_image``) for anything but JPEG, PNG, WebP and HEIC/HEIF. The
    decoder chosen here still has to accept the bytes in :func:`process`.
    """
    if not data:
        raise ImageRejected("empty", _("Le fichier est vide."))
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[0:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if len(data) >= 16 and data[4:8] == b"ftyp":
        major, brands = _ftyp_brands(data)
        if brands & _HEVC_BRANDS:
            return "HEIF"
        if brands & _AVIF_BRANDS:
            raise _unsupported()
        if major in _HEIF_GENERIC_BRANDS:
            return "HEIF"
        raise _not_an_image()  # MP4, MOV, 3GP: videos, not photos
    if data.startswith(_REFUSED_IMAGE_MAGIC):
        raise _unsupported()
    raise _not_an_image()


def _open_jpeg(fp: io.BytesIO) -> ImageFile.ImageFile:
    # The factory Pillow registers for JPEG: returns an MPO image (iPhone,
    # some Android) when the file holds several pictures; frame 0 is the photo.
    return JpegImagePlugin.jpeg_factory(fp)


_DECODERS: Final[dict[Format, Callable[[io.BytesIO], ImageFile.ImageFile]]] = {
    "JPEG": _open_jpeg,
    "PNG": PngImagePlugin.PngImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
    "HEIF": pillow_heif.HeifImageFile,
}

# Errors Pillow's decoders raise on bytes they cannot parse.
_PARSE_ERRORS: Final = (
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    EOFError,
    OSError,
    struct.error,
)


def _parse_failure(fmt: Format, data: bytes, exc: BaseException) -> ImageRejected:
    """The rejection for bytes whose magic number matched but whose decoder gave up."""
    text = str(exc).lower()
    if isinstance(exc, EOFError) or "truncated" in text:
        return _truncated()
    if fmt == "WEBP" and int.from_bytes(data[4:8], "little") + 8 > len(data):
        return _truncated()  # the RIFF header announces more bytes than arrived
    if fmt == "HEIF":
        if any(
            hint in text for hint in ("end of file", "outside of file bounds", "cannot read full")
        ):
            return _truncated()
        if "unsupported" in text or "no decoding plugin" in text:
            # A HEIF container holding a codec libheif cannot decode (AV1, JPEG, VVC...).
            return _unsupported()
    return _corrupt()


def _open(data: bytes, fmt: Format, max_pixels: int) -> ImageFile.ImageFile:
    """Parse the header with the one decoder of ``fmt`` and check the declared size."""
    try:
        image = _DECODERS[fmt](io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(max_pixels) from exc
    except _PARSE_ERRORS as exc:
        raise _parse_failure(fmt, data, exc) from exc
    try:
        _check_pixels(image.size, max_pixels)
    except ImageRejected:
        image.close()
        raise
    return image


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise _corrupt()
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels)


def _ensure_strict_decoding() -> None:
    """Refuse to run if truncated images would be silently padded with grey."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is enabled; app.images needs it "
            "disabled to refuse truncated uploads"
        )


def _load(image: ImageFile.ImageFile, fmt: Format, data: bytes, max_pixels: int) -> None:
    """Decode the pixels, turning decoder failures into rejections."""
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(max_pixels) from exc
    except _PARSE_ERRORS as exc:
        raise _parse_failure(fmt, data, exc) from exc
    # A few decoders only know the final size once decoded.
    _check_pixels(image.size, max_pixels)


# --------------------------------------------------------------------------
# Metadata


def _ascii(value: object) -> str | None:
    """An EXIF ASCII value as a clean string (Pillow gives ``str``, writers sometimes ``bytes``)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    cleaned = value.strip("\x00 \t\r\n")
    return cleaned or None


def _degrees(value: object) -> float | None:
    """Decimal degrees from an EXIF (degrees, minutes, seconds) triple of rationals."""
    if isinstance(value, (tuple, list)):
        parts = [float(part) for part in value[:3]]
        if not parts:
            return None
        degrees = sum(part / 60**index for index, part in enumerate(parts))
    elif isinstance(value, numbers.Real):  # one rational: decimal degrees
        degrees = float(value)
    else:
        return None
    return abs(degrees) if math.isfinite(degrees) else None


def _gps(exif: Image.Exif) -> GpsPosition | None:
    """The photo's position, or ``None`` when absent, void or not plausible."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if not gps:
        return None
    if (_ascii(gps.get(ExifTags.GPS.GPSStatus)) or "A").upper().startswith("V"):
        return None  # the receiver marked the fix as void
    lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude))
    lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude))
    lat_ref = (_ascii(gps.get(ExifTags.GPS.GPSLatitudeRef)) or "").upper()[:1]
    lon_ref = (_ascii(gps.get(ExifTags.GPS.GPSLongitudeRef)) or "").upper()[:1]
    # Without its reference a coordinate has no hemisphere: better no hint than a wrong one.
    if lat is None or lon is None or lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None
    if lat_ref == "S":
        lat = -lat
    if lon_ref == "W":
        lon = -lon
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    if lat == 0.0 and lon == 0.0:
        return None  # devices without a fix often write (0, 0)
    return GpsPosition(lat, lon)


_OFFSET_RE: Final = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def _exif_datetime(value: object, subsec: object, offset: object) -> datetime | None:
    """A datetime from EXIF ``YYYY:MM:DD HH:MM:SS`` plus optional sub-seconds and offset."""
    text = _ascii(value)
    if text is None:
        return None
    try:
        moment = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    digits = _ascii(subsec)
    if digits and digits.isdigit():
        moment = moment.replace(microsecond=int(digits[:6].ljust(6, "0")))
    match = _OFFSET_RE.match(_ascii(offset) or "")
    if match:
        sign = -1 if match[1] == "-" else 1
        delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
        if delta <= timedelta(hours=14):
            moment = moment.replace(tzinfo=timezone(sign * delta))
    return moment


def _gps_datetime(exif: Image.Exif) -> datetime | None:
    """The UTC time of the GPS fix (GPSDateStamp + GPSTimeStamp)."""
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    date = _ascii(gps.get(ExifTags.GPS.GPSDateStamp))
    clock = gps.get(ExifTags.GPS.GPSTimeStamp)
    if date is None or not isinstance(clock, (tuple, list)) or len(clock) != 3:
        return None
    hours, minutes, seconds = (float(part) for part in clock)
    if not all(math.isfinite(part) for part in (hours, minutes, seconds)):
        return None
    try:
        day = datetime.strptime(date[:10], "%Y:%m:%d").replace(tzinfo=UTC)
        return day + timedelta(hours=int(hours), minutes=int(minutes), seconds=seconds)
    except (ValueError, OverflowError):
        return None


def _taken_at(exif: Image.Exif) -> datetime | None:
    """When the photo was taken: DateTimeOriginal, then DateTimeDigitized, then the GPS time."""
    tags = exif.get_ifd(ExifTags.IFD.Exif)
    for stamp, subsec, offset in (
        (
            ExifTags.Base.DateTimeOriginal,
            ExifTags.Base.SubsecTimeOriginal,
            ExifTags.Base.OffsetTimeOriginal,
        ),
        (
            ExifTags.Base.DateTimeDigitized,
            ExifTags.Base.SubsecTimeDigitized,
            ExifTags.Base.OffsetTimeDigitized,
        ),
    ):
        moment = _exif_datetime(tags.get(stamp), tags.get(subsec), tags.get(offset))
        if moment is not None:
            return moment
    return _gps_datetime(exif)


# Malformed EXIF must never cost the person their photo: metadata is only a hint.
_METADATA_ERRORS: Final = (
    SyntaxError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    ZeroDivisionError,
    OSError,
    struct.error,
)


def _metadata(image: Image.Image) -> tuple[GpsPosition | None, datetime | None]:
    """GPS position and time taken, read before anything is stripped."""
    try:
        exif = image.getexif()
    except _METADATA_ERRORS:
        return None, None
    try:
        position = _gps(exif)
    except _METADATA_ERRORS:
        position = None
    try:
        taken_at = _taken_at(exif)
    except _METADATA_ERRORS:
        taken_at = None
    return position, taken_at


def _orient(image: Image.Image) -> None:
    """Turn ``image`` upright in place from its EXIF (or XMP) orientation."""
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except _METADATA_ERRORS:
        # Unreadable orientation metadata: keep the pixels as stored.
        pass


# --------------------------------------------------------------------------
# Pixels


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """``size`` scaled down so that its longest side is at most ``longest`` (never up)."""
    width, height = size
    if max(width, height) <= longest:
        return size
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _draft_jpeg(image: ImageFile.ImageFile, display_size: int) -> None:
    """Ask libjpeg to decode at 1/2, 1/4 or 1/8 scale when that still serves the display size."""
    if image.format not in ("JPEG", "MPO"):
        return
    width, height = image.size
    floor = math.ceil(display_size * _DRAFT_TOLERANCE)
    factor = 1
    while factor < 8 and math.ceil(max(width, height) / (factor * 2)) >= floor:
        factor *= 2
    if factor > 1:
        # Pillow picks the largest scale whose output is at least the requested size.
        image.draft("RGB", (max(1, width // factor), max(1, height // factor)))


def _decodable(image: Image.Image) -> Image.Image:
    """``image`` in L, LA, RGB, RGBA or CMYK: the modes resampling and colour management handle."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I;16"):
        # 16-bit greyscale: scale to 8 bits (a plain conversion clips at 255).
        return image.point(lambda value: value / 257).convert("L")
    if mode == "La":
        return image.convert("LA")
    if "A" in image.getbands() or "a" in image.getbands() or "transparency" in image.info:
        return image.convert("RGBA")
    return image.convert("RGB")


def _resize(image: Image.Image, longest: int) -> Image.Image:
    """A copy of ``image`` whose longest side is at most ``longest``."""
    size = _fit(image.size, longest)
    if size == image.size:
        return image.copy()
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """``image`` (L, RGB or CMYK) as sRGB RGB, through its embedded ICC profile when it has one."""
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            if "srgb" not in ImageCms.getProfileDescription(source).lower():
                # A fresh sRGB profile each time: LittleCMS profile handles
                # are not meant to be shared between threads.
                converted = ImageCms.profileToProfile(
                    image,
                    source,
                    ImageCms.createProfile("sRGB"),
                    renderingIntent=ImageCms.Intent.PERCEPTUAL,
                    outputMode="RGB",
                )
                if converted is not None:
                    return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            # A broken or mismatched profile: fall back to the plain conversion.
            pass
    return image if image.mode == "RGB" else image.convert("RGB")


def _flatten(image: Image.Image) -> Image.Image:
    """``image`` without alpha: transparent areas become white."""
    if image.mode not in ("LA", "RGBA"):
        return image
    opaque_mode = image.mode[:-1]
    background = Image.new(opaque_mode, image.size, 255 if opaque_mode == "L" else (255, 255, 255))
    background.paste(image.convert(opaque_mode), mask=image.getchannel("A"))
    return background


def _encode(image: Image.Image, quality: int) -> bytes:
    """JPEG bytes of ``image`` with no metadata at all (no EXIF, XMP, ICC, comment)."""
    image.info.clear()
    buffer = io.BytesIO()
    # Sequential, not progressive: progressive scans cost 2-3x the encoding
    # time for a file a few per cent smaller.
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def process(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    display_size: int = DISPLAY_SIZE,
    thumb_size: int = THUMB_SIZE,
    quality: int = QUALITY,
) -> ProcessedPhoto:
    """Check an uploaded photo and produce its display variant and thumbnail.

    ``data`` is the whole upload; nothing but its bytes decides its type.
    Raises :class:`ImageRejected` for anything Eclor does not keep: empty or
    more than ``max_bytes`` bytes, not a JPEG/PNG/WebP/HEIC, more than
    ``max_pixels`` declared pixels, truncated or corrupt. Pure function: it
    writes nothing, so a refusal leaves no trace.
    """
    if max_bytes < 1 or max_pixels < 1 or display_size < 1 or thumb_size < 1:
        raise ValueError("limits and sizes must be positive")
    if not 1 <= quality <= 95:
        raise ValueError("quality must be between 1 and 95")
    _ensure_strict_decoding()
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    fmt = detect_format(data)
    max_pixels = min(max_pixels, _FORMAT_MAX_PIXELS.get(fmt, max_pixels))

    with _open(data, fmt, max_pixels) as source:
        _draft_jpeg(source, display_size)
        _load(source, fmt, data, max_pixels)
        gps, taken_at = _metadata(source)
        icc_profile = source.info.get("icc_profile")
        _orient(source)
        # Everything below works on at most display-sized images.
        display = _resize(_decodable(source), display_size)
    profile = icc_profile if isinstance(icc_profile, bytes) else None
    with _to_srgb(_flatten(display), profile) as rgb, _resize(rgb, thumb_size) as thumb:
        return ProcessedPhoto(
            display=_encode(rgb, quality),
            thumb=_encode(thumb, quality),
            mime=OUTPUT_MIME,
            width=rgb.width,
            height=rgb.height,
            thumb_width=thumb.width,
            thumb_height=thumb.height,
            gps=gps,
            taken_at=taken_at,
            sha256=hashlib.sha256(data).hexdigest(),
            source_format=fmt,
        )
