"""Staff triage: duplicates that point to the original with checks, bulk actions that say what they skipped,
the planned pick-up date everywhere staff and residents look, and a CSV in French with its codes."""

from __future__ import annotations

import asyncio
import csv
import email
import email.policy
import io
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app.db import write_session
from app.models.reports import Report, ReportEvent
from app.reports import catalogue, intake
from app.reports import workflow as rp
from workers import runner

LAT, LON = 49.4720, 5.9550  # Audun-le-Tiche
THIL_LAT, THIL_LON = 49.4730, 5.9050


def make(
    engine: Any,
    reporter_id: int | None,
    *,
    category: str = "bulky_items",
    lat: float = LAT,
    lon: float = LON,
    status: str = "new",
) -> int:
    created = intake.create_report(
        engine,
        intake.NewReport(
            category=category, lat=lat, lon=lon, reporter_id=reporter_id, description="Dépôt"
        ),
        media_dir=None,
    )
    if status != "new":
        with write_session(engine) as s:
            report = s.get(Report, created.report.id)
            rp.change_status(
                s,
                report,
                status,
                actor_id=None,
                notify_people=False,
                reject_reason_id=rp.ensure_reject_reasons(s)[0].id,
            )
    return int(created.report.id)


def number_of(engine: Any, report_id: int) -> str:
    with Session(engine) as s:
        return catalogue.number(s.get(Report, report_id))


def get(engine: Any, report_id: int) -> Report:
    with Session(engine) as s:
        return s.get(Report, report_id)


# --- duplicates -----------------------------------------------------------------------------------


def test_a_duplicate_of_a_duplicate_points_to_the_original(engine, resident, staff) -> None:
    original, first_copy, second_copy = (make(engine, resident.id) for _ in range(3))
    assert (
        staff.client.post_form(
            f"/staff/reports/{first_copy}/status",
            {"status": "duplicate", "duplicate_of": number_of(engine, original)},
        ).status_code
        == 303
    )
    answer = staff.client.post_form(
        f"/staff/reports/{second_copy}/status",
        {"status": "duplicate", "duplicate_of": number_of(engine, first_copy)},
    )
    assert answer.status_code == 303
    assert get(engine, second_copy).duplicate_of_id == original
    assert number_of(engine, original) in get(engine, second_copy).status_notes


def test_a_report_that_becomes_a_duplicate_hands_its_own_duplicates_to_the_original(
    engine, resident, staff
) -> None:
    a, b, c = (make(engine, resident.id) for _ in range(3))
    staff.client.post_form(
        f"/staff/reports/{c}/status", {"status": "duplicate", "duplicate_of": number_of(engine, b)}
    )
    staff.client.post_form(
        f"/staff/reports/{b}/status", {"status": "duplicate", "duplicate_of": number_of(engine, a)}
    )
    assert (get(engine, b).duplicate_of_id, get(engine, c).duplicate_of_id) == (a, a)


def test_a_duplicate_in_another_commune_or_category_needs_an_explicit_confirmation(
    engine, resident, staff
) -> None:
    original = make(engine, resident.id, category="tyres", lat=THIL_LAT, lon=THIL_LON)
    copy = make(engine, resident.id)
    refused = staff.client.post_form(
        f"/staff/reports/{copy}/status",
        {"status": "duplicate", "duplicate_of": number_of(engine, original)},
    )
    assert refused.status_code == 400
    assert "commune différente" in refused.text and "catégorie différente" in refused.text
    assert (
        "Confirmer malgré" in refused.text and number_of(engine, original) in refused.text
    )  # the form keeps it
    assert get(engine, copy).status == "new"
    confirmed = staff.client.post_form(
        f"/staff/reports/{copy}/status",
        {
            "status": "duplicate",
            "duplicate_of": number_of(engine, original),
            "duplicate_confirm": "true",
        },
    )
    assert confirmed.status_code == 303
    report = get(engine, copy)
    assert report.status == "duplicate" and report.duplicate_of_id == original
    assert "Confirmé malgré" in report.status_notes and "Thil" in report.status_notes


def test_the_staff_detail_suggests_nearby_candidates_same_category_first(
    engine, resident, staff
) -> None:
    report = make(engine, resident.id)
    other_kind = make(engine, resident.id, category="tyres", lat=LAT + 0.0003)
    same_kind = make(engine, resident.id, lat=LAT + 0.0015)
    far = make(engine, resident.id, lat=LAT + 0.01)
    page = staff.client.get(f"/staff/reports/{report}").text
    section = page[page.index("Doublon possible") :]
    assert section.index(number_of(engine, same_kind)) < section.index(
        number_of(engine, other_kind)
    )
    assert number_of(engine, far) not in section
    assert "Marquer comme doublon de celui-ci" in section and "catégorie différente" in section
    answer = staff.client.post_form(
        f"/staff/reports/{report}/status",
        {"status": "duplicate", "duplicate_of": number_of(engine, same_kind)},
    )
    assert answer.status_code == 303 and get(engine, report).duplicate_of_id == same_kind


# --- bulk actions ----------------------------------------------------------------------------------


def test_a_bulk_action_says_which_reports_it_skipped_and_why(engine, resident, staff) -> None:
    fresh = make(engine, resident.id)
    already = make(engine, resident.id, status="in_progress")
    closed = make(engine, resident.id, status="rejected")
    client = staff.client
    answer = client.post(
        "/staff/reports/bulk",
        data={
            "_csrf_token": client.csrf_token(),
            "action": "in_progress",
            "query": "category=bulky_items",
            "ids": [str(fresh), str(already), str(closed)],
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    board = client.get(answer.headers["location"]).text
    assert (
        "1 signalement(s) mis à jour" in board
        and "category=bulky_items" in answer.headers["location"]
    )
    assert "2 signalements laissés tels quels" in board
    assert re.search(
        re.escape(number_of(engine, already)) + r"</strong> : déjà « En cours »", board
    )
    assert re.search(
        re.escape(number_of(engine, closed)) + r"</strong> : impossible depuis « Rejeté »", board
    )


def test_a_bulk_rejection_without_a_reason_shows_the_form_again_keeping_the_selection(
    engine, resident, staff
) -> None:
    ids = [make(engine, resident.id) for _ in range(3)]
    client = staff.client
    answer = client.post(
        "/staff/reports/bulk",
        data={
            "_csrf_token": client.csrf_token(),
            "action": "rejected",
            "note": "Terrain privé",
            "ids": [str(i) for i in ids[:2]],
        },
        follow_redirects=False,
    )
    assert answer.status_code == 400
    page = answer.text
    assert "Choisissez le motif du rejet." in page and 'id="bulk-form"' in page
    checked = set(re.findall(r'name="ids" value="(\d+)"[^>]*checked', page))
    assert checked == {str(i) for i in ids[:2]}
    assert '<option value="rejected" selected>' in page and 'value="Terrain privé"' in page
    assert [get(engine, i).status for i in ids] == ["new"] * 3
    with write_session(engine) as s:
        reason = rp.ensure_reject_reasons(s)[0].id
    again = client.post(
        "/staff/reports/bulk",
        data={
            "_csrf_token": client.csrf_token(),
            "action": "rejected",
            "reject_reason": str(reason),
            "ids": sorted(checked),
        },
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert [get(engine, i).status for i in ids] == ["rejected", "rejected", "new"]


def test_a_bulk_action_with_nothing_checked_keeps_the_board_and_says_so(staff) -> None:
    answer = staff.client.post_form("/staff/reports/bulk", {"action": "confirmed"})
    assert answer.status_code == 400 and "Cochez au moins un signalement." in answer.text
    assert 'id="bulk-form"' in answer.text


# --- planned pick-up date ---------------------------------------------------------------------------


def run_worker(settings: Any, engine: Any) -> None:
    for _ in range(2):
        asyncio.run(runner.run(settings, engine, once=True, services=False, install_signals=False))


def mail_texts(settings: Any) -> list[str]:
    folder = Path(settings.mail_dir)
    out = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        out.append(
            str(message["subject"])
            + "\n"
            + message.get_body(preferencelist=("plain",)).get_content()
        )
    return out


def test_the_planned_pickup_date_is_on_the_staff_pages_the_csv_and_the_residents_email(
    engine, settings, resident, staff
) -> None:
    report = make(engine, resident.id)
    assert (
        staff.client.post_form(
            f"/staff/reports/{report}/status", {"status": "scheduled", "expected_on": "2026-12-12"}
        ).status_code
        == 303
    )
    words = "samedi 12 décembre 2026"
    assert words in staff.client.get(f"/staff/reports/{report}").text
    assert words in staff.client.get("/staff/reports").text
    rows = list(
        csv.DictReader(
            io.StringIO(staff.client.get("/staff/reports.csv").text.lstrip("\ufeff")), delimiter=";"
        )
    )
    assert rows[0]["Enlèvement prévu le"] == "12/12/2026"
    run_worker(settings, engine)
    texts = [t for t in mail_texts(settings) if number_of(engine, report) in t]
    assert texts and f"Enlèvement prévu le {words}." in texts[-1]
    assert "prochains jours" not in texts[-1]


def test_scheduling_without_a_date_is_refused_with_a_message(engine, resident, staff) -> None:
    report = make(engine, resident.id)
    answer = staff.client.post_form(f"/staff/reports/{report}/status", {"status": "scheduled"})
    assert answer.status_code == 400 and "Indiquez la date d’enlèvement prévue." in answer.text
    bulk = staff.client.post_form(
        "/staff/reports/bulk", {"action": "scheduled", "ids": str(report)}
    )
    assert bulk.status_code == 400 and "Indiquez la date d’enlèvement prévue." in bulk.text
    assert get(engine, report).status == "new"


# --- CSV ---------------------------------------------------------------------------------------------


def test_the_csv_has_french_labels_with_the_codes_in_their_own_columns(
    engine, resident, staff
) -> None:
    make(engine, resident.id, status="confirmed")
    text = staff.client.get("/staff/reports.csv").text.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    row = rows[0]
    assert (row["Catégorie"], row["Code catégorie"]) == ("Encombrants", "bulky_items")
    assert (row["État"], row["Code état"]) == ("Confirmé", "confirmed")
    assert (row["Commune"], row["Code INSEE"]) == ("Audun-le-Tiche", "57038")
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", row["Signalé le"])
    assert "bulky_items" not in row["Catégorie"] and "confirmed" not in row["État"]
    with Session(engine) as s:
        events = s.scalars(select(ReportEvent)).all()
    assert events  # the history is untouched by an export
