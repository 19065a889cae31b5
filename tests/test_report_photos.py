"""Photos of dump-site reports: bad files refused with nothing stored, EXIF never served."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageDraw, TiffImagePlugin
from sqlalchemy import func, select
from sqlmodel import Session

from app import images
from app.models.jobs import Job
from app.models.reports import Report, ReportEvent, ReportPhoto
from app.reports import demo


def picture(size: tuple[int, int] = (640, 480)) -> Image.Image:
    image = Image.new("RGB", size, (96, 140, 70))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], size[1] // 3), fill=(120, 170, 230))
    draw.ellipse((size[0] // 4, size[1] // 3, size[0] // 2, size[1] - 10), fill=(30, 30, 30))
    return image


def jpeg(image: Image.Image | None = None, **params: object) -> bytes:
    buf = io.BytesIO()
    (image or picture()).save(buf, format="JPEG", **params)
    return buf.getvalue()


def gps_jpeg(
    lat: tuple[int, int, float] = (49, 28, 19.2), lon: tuple[int, int, float] = (5, 57, 18.0)
) -> bytes:
    """A phone photo taken in Audun-le-Tiche, with its position, its owner's name and a model."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Eclor"
    exif[ExifTags.Base.Model] = "Test Phone"
    exif[ExifTags.Base.Artist] = "Jean Dupont"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = tuple(TiffImagePlugin.IFDRational(int(v * 10), 10) for v in lat)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = tuple(
        TiffImagePlugin.IFDRational(int(v * 10), 10) for v in lon
    )
    return jpeg(exif=exif.tobytes())


def png_bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", 60_000, 60_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


BAD_FILES = {
    "png_bomb": png_bomb,
    "truncated_jpeg": lambda: jpeg()[:1500],
    "pdf_named_jpg": lambda: (
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    ),
    "svg_named_jpg": lambda: (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(1)</script></svg>"
    ),
    "html_named_jpg": lambda: b"<!doctype html><html><body><script>alert(1)</script></body></html>",
    "empty_looking_jpeg": lambda: b"\xff\xd8\xff",
}


def form(client, **extra: str) -> dict[str, str]:
    data = {
        "_csrf_token": client.csrf_token(),
        "category": "rubble",
        "lat": "49.4720",
        "lon": "5.9550",
        "idempotency_key": extra.pop("key", "photo-test-key-1"),
    }
    data.update(extra)
    return data


def post(client, files: list[tuple[str, bytes]], **extra: str):
    return client.post(
        "/reports/new",
        data=form(client, **extra),
        files=[("photos", (name, data, "image/jpeg")) for name, data in files],
        follow_redirects=False,
    )


def stored_files(media: Path) -> list[Path]:
    return (
        [p for p in (media / "photos").rglob("*") if p.is_file()]
        if (media / "photos").exists()
        else []
    )


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_it_refuses_each_bad_file_with_a_clear_message_and_stores_nothing(
    resident, engine, settings
):
    for kind, make_file in sorted(BAD_FILES.items()):
        response = post(resident.client, [("photo.jpg", make_file())], key=f"bad-file-{kind}")
        assert response.status_code == 400, kind
        assert 'class="field-error" id="photos-error"' in response.text, kind
        assert (
            count(engine, Report) == 0
            and count(engine, ReportPhoto) == 0
            and count(engine, Job) == 0
        ), kind
        assert stored_files(settings.resolved_media_dir) == [], kind


def test_it_refuses_a_bad_second_photo_and_keeps_nothing_of_the_good_first_one(
    resident, engine, settings
):
    response = post(resident.client, [("a.jpg", jpeg()), ("b.jpg", BAD_FILES["html_named_jpg"]())])
    assert response.status_code == 400
    assert "Photo 2" in response.text
    assert count(engine, Report) == 0
    assert stored_files(settings.resolved_media_dir) == []


def test_it_refuses_more_than_three_photos(resident, engine):
    response = post(resident.client, [(f"{i}.jpg", jpeg()) for i in range(4)])
    assert response.status_code == 400
    assert "Trois photos au maximum" in response.text
    assert count(engine, Report) == 0


def test_it_asks_for_a_photo_when_none_is_sent(resident, engine):
    response = post(resident.client, [])
    assert response.status_code == 400
    assert "Ajoutez au moins une photo" in response.text
    assert count(engine, Report) == 0


def test_it_serves_an_uploaded_jpeg_carrying_gps_without_any_exif(resident, engine, client):
    original = gps_jpeg()
    assert b"Jean Dupont" in original
    response = post(resident.client, [("IMG_0001.jpg", original)])
    assert response.status_code == 303
    with Session(engine) as s:
        photo = s.scalars(select(ReportPhoto)).one()
    for name in (photo.display_name, photo.thumb_name):
        served = client.get(f"/reports/photos/{name}")
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/jpeg"
        assert served.headers["x-content-type-options"] == "nosniff"
        body = served.content
        with Image.open(io.BytesIO(body)) as image:
            assert image.format == "JPEG"
            assert len(image.getexif()) == 0
            assert "exif" not in image.info and "xmp" not in image.info
        assert b"Exif" not in body and b"Jean Dupont" not in body and b"Test Phone" not in body


def test_it_places_the_report_from_the_photos_gps_when_no_place_is_given(resident, engine):
    response = post(resident.client, [("IMG_0002.jpg", gps_jpeg())], lat="", lon="")
    assert response.status_code == 303
    with Session(engine) as s:
        report = s.scalars(select(Report)).one()
    assert report.lat == pytest.approx(49 + 28 / 60 + 19.2 / 3600, abs=1e-4)
    assert report.lon == pytest.approx(5 + 57 / 60 + 18 / 3600, abs=1e-4)
    assert report.commune_insee == "57038" and not report.approximate


def test_it_keeps_the_report_when_a_photo_cannot_be_written_after_it_was_accepted(
    resident, engine, monkeypatch
):
    def full_disk(processed, media_dir):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(images, "save", full_disk)
    response = post(resident.client, [("a.jpg", jpeg())])
    assert response.status_code == 303
    with Session(engine) as s:
        report = s.scalars(select(Report)).one()
        assert s.scalars(select(ReportPhoto)).all() == []
        created = s.scalars(select(ReportEvent).where(ReportEvent.report_id == report.id)).one()
    assert "photo n’a pas pu être enregistrée" in created.text


def test_it_removes_the_files_when_the_report_itself_is_refused(resident, engine, settings):
    response = post(resident.client, [("a.jpg", jpeg())], lat="48.8566", lon="2.3522")  # Paris
    assert response.status_code == 400
    assert "en dehors du territoire" in response.text
    assert count(engine, Report) == 0
    assert stored_files(settings.resolved_media_dir) == []


@pytest.fixture
def neighbour(personas):
    """Another resident, signed in before the test makes any request."""
    return personas["other_resident"]


def test_it_hides_the_photos_of_a_hidden_report_from_everyone_but_staff_and_the_reporter(
    resident, staff, neighbour, engine, client
):
    assert post(resident.client, [("a.jpg", jpeg())]).status_code == 303
    with Session(engine) as s:
        report = s.scalars(select(Report)).one()
        name = s.scalars(select(ReportPhoto.thumb_name)).one()
    assert client.get(f"/reports/photos/{name}").status_code == 200
    response = staff.client.post_form(f"/staff/reports/{report.id}/status", {"status": "hidden"})
    assert response.status_code == 303
    assert client.get(f"/reports/photos/{name}").status_code == 404
    assert neighbour.client.get(f"/reports/photos/{name}").status_code == 404
    assert resident.client.get(f"/reports/photos/{name}").status_code == 200
    assert staff.client.get(f"/reports/photos/{name}").status_code == 200


def test_it_answers_not_found_for_names_it_did_not_make(client):
    for name in ("../../etc/passwd", "x" * 32 + ".jpg", "secret.png", "%2e%2e%2fapp.py"):
        assert client.get(f"/reports/photos/{name}").status_code == 404, name


def test_it_stores_an_after_photo_when_staff_resolve(resident, staff, engine, client):
    assert post(resident.client, [("a.jpg", jpeg())]).status_code == 303
    with Session(engine) as s:
        report_id = s.scalars(select(Report.id)).one()
    response = staff.client.post(
        f"/staff/reports/{report_id}/status",
        data={
            "_csrf_token": staff.client.csrf_token(),
            "status": "resolved",
            "note": "Enlevé ce matin.",
        },
        files=[("after_photo", ("after.jpg", gps_jpeg(), "image/jpeg"))],
        follow_redirects=False,
    )
    assert response.status_code == 303
    with Session(engine) as s:
        after = s.scalars(select(ReportPhoto).where(ReportPhoto.kind == "after")).one()
    page = client.get(f"/reports/{report_id}")
    assert after.thumb_name in page.text
    assert b"Exif" not in client.get(f"/reports/photos/{after.display_name}").content


def test_the_demo_drawing_passes_through_the_photo_module() -> None:
    import random

    processed = images.process(demo.demo_photo("tyres", random.Random(1)))
    assert processed.width <= images.DISPLAY_SIZE and processed.gps is None
