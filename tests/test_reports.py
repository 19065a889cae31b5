"""Dump-site reports: making one, idempotency, nearby duplicates, follow-up, staff triage, exports."""

from __future__ import annotations

import csv
import io
import json
import random
import threading
from datetime import timedelta

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import Session

from app import auth, privacy
from app.db import utcnow, write_session
from app.models.jobs import Job
from app.models.reports import (
    Report,
    ReportApiKey,
    ReportEvent,
    ReportFollow,
    ReportPhoto,
)
from app.reports import catalogue, demo, exports, intake
from app.reports import workflow as rp

LAT, LON = 49.4720, 5.9550  # Audun-le-Tiche


def jpeg(colour: tuple[int, int, int] = (120, 80, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 72), colour).save(buf, format="JPEG")
    return buf.getvalue()


def submit(
    client, key: str = "key-0001-abcd", *, headers: dict[str, str] | None = None, **fields: str
):
    data = {
        "_csrf_token": client.csrf_token(),
        "category": "bulky_items",
        "lat": str(LAT),
        "lon": str(LON),
        "idempotency_key": key,
        "description": "Un canapé au bout du chemin.",
    }
    data.update(fields)
    return client.post(
        "/reports/new",
        data=data,
        files=[("photos", ("p.jpg", jpeg(), "image/jpeg"))],
        headers=headers or {},
        follow_redirects=False,
    )


def make(
    engine,
    reporter_id: int | None,
    *,
    category: str = "bulky_items",
    lat: float = LAT,
    lon: float = LON,
    status: str = "new",
    key: str | None = None,
) -> int:
    created = intake.create_report(
        engine,
        intake.NewReport(
            category=category,
            lat=lat,
            lon=lon,
            reporter_id=reporter_id,
            description="Dépôt",
            idempotency_key=key,
        ),
        media_dir=None,
    )
    if status != "new":
        with write_session(engine) as s:
            report = s.get(Report, created.report.id)
            reason = rp.ensure_reject_reasons(s)[0].id
            rp.change_status(
                s, report, status, actor_id=None, reject_reason_id=reason, notify_people=False
            )
    return created.report.id


def jobs_for(engine, user_id: int) -> list[dict]:
    with Session(engine) as s:
        payloads = [
            json.loads(j.payload) for j in s.scalars(select(Job).where(Job.kind == "notify.user"))
        ]
    return [p for p in payloads if p["user_id"] == user_id]


@pytest.fixture
def neighbour(personas):
    """Another resident, signed in before the test makes any request."""
    return personas["other_resident"]


# --- the form ---------------------------------------------------------------------------------------


def test_the_form_opens_the_camera_and_carries_an_idempotency_key(resident):
    page = resident.client.get("/reports/new")
    assert page.status_code == 200
    assert 'type="file" accept="image/*" capture="environment" multiple' in page.text
    assert 'enctype="multipart/form-data"' in page.text
    assert 'name="idempotency_key" id="idempotency_key" value="' in page.text
    for code in catalogue.CATEGORIES:
        assert f'value="{code}"' in page.text


def test_it_sends_an_anonymous_visitor_to_sign_in_first(client):
    response = client.get("/reports/new", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/login?next=/reports/new"
    )


def test_a_resident_makes_a_report_and_finds_it_in_my_reports(resident, engine, client):
    response = submit(resident.client, witnessed="yes", volume="car")
    assert response.status_code == 303
    report_id = int(response.headers["location"].split("/")[2].split("?")[0])
    with Session(engine) as s:
        report = s.get(Report, report_id)
        assert report.status == "new" and report.commune_insee == "57038" and report.witnessed
        assert report.volume == "car" and report.reporter_id == resident.id
        assert s.get(ReportFollow, (report_id, resident.id)) is not None
    mine = resident.client.get("/reports/mine")
    assert catalogue.number(report) in mine.text
    public = client.get(f"/reports/{report_id}")
    assert public.status_code == 200
    assert resident.email not in public.text and "Julie" not in public.text
    assert f'data-lat="{round(LAT, 3)}"' in public.text and str(LAT) + "0" not in public.text


def test_a_double_post_with_one_idempotency_key_makes_one_report(resident, engine):
    first = submit(resident.client, "same-key-123456")
    second = submit(resident.client, "same-key-123456")
    assert first.status_code == second.status_code == 303
    assert first.headers["location"].split("?")[0] == second.headers["location"]
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 1
        assert s.scalar(select(func.count()).select_from(ReportPhoto)) == 1


def test_the_page_scripts_queue_gets_json_and_a_replay_answers_the_first_report(resident, engine):
    headers = {"x-eclor-queue": "1", "accept": "application/json"}
    first = submit(resident.client, "queued-key-0001", headers=headers)
    again = submit(resident.client, "queued-key-0001", headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] and again.json()["existing"] is True
    assert first.json()["number"].startswith("PHVA-")
    bad = submit(resident.client, "queued-key-0002", headers=headers, category="nuclear")
    assert bad.status_code == 400 and "category" in bad.json()["errors"]


def test_someone_elses_idempotency_key_does_not_reveal_their_report(resident, neighbour, engine):
    assert submit(resident.client, "shared-key-0001").status_code == 303
    response = submit(neighbour.client, "shared-key-0001")
    assert response.status_code == 400
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 1


def test_fifty_concurrent_submissions_on_sqlite_all_land(app, engine, settings):
    from tests.e2e.conftest import LiveServer

    tokens = []
    with write_session(engine) as s:
        for i in range(50):
            user = auth.create_user(s, f"habitant{i}@eclor.test")
            tokens.append(auth.start_session(s, user, idle_minutes=60, absolute_days=1))
    photo = jpeg()
    results: list[int] = []
    errors: list[str] = []
    with LiveServer(app) as server:
        barrier = threading.Barrier(50)

        def one(i: int) -> None:
            try:
                with httpx.Client(base_url=server.url, timeout=60) as http:
                    http.cookies.set(auth.SESSION_COOKIE, tokens[i])
                    http.get("/about")
                    csrf = http.cookies["csrftoken"]
                    barrier.wait()
                    r = http.post(
                        "/reports/new",
                        headers={"x-csrftoken": csrf, "x-eclor-queue": "1"},
                        data={
                            "category": "tyres",
                            "lat": str(LAT + i * 0.0001),
                            "lon": str(LON),
                            "idempotency_key": f"concurrent-{i:04d}",
                        },
                        files=[("photos", ("p.jpg", photo, "image/jpeg"))],
                    )
                    results.append(r.status_code)
            except Exception as exc:  # noqa: BLE001  (any failure of a thread is collected and reported)
                errors.append(repr(exc))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert errors == []
    assert sorted(results) == [201] * 50
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 50
        assert s.scalar(select(func.count()).select_from(ReportPhoto)) == 50


def test_it_refuses_a_place_outside_the_territory_and_a_report_without_a_place(resident, engine):
    outside = submit(resident.client, "outside-key-01", lat="48.8566", lon="2.3522")
    assert outside.status_code == 400 and "en dehors du territoire" in outside.text
    nowhere = submit(resident.client, "nowhere-key-01", lat="", lon="")
    assert nowhere.status_code == 400 and "Indiquez le lieu" in nowhere.text
    half = submit(resident.client, "half-key-0001", lat="49.47", lon="")
    assert half.status_code == 400
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 0


def test_a_commune_alone_places_the_report_approximately(resident, engine):
    response = submit(resident.client, "commune-key-01", lat="", lon="", commune="54580")
    assert response.status_code == 303
    with Session(engine) as s:
        report = s.scalars(select(Report)).one()
    assert report.approximate and report.commune_insee == "54580"


# --- nearby, follow, thanks ---------------------------------------------------------------------------


def test_nearby_shows_open_reports_of_any_kind_within_100_m_the_same_kind_first(engine, resident):
    other_kind = make(
        engine, resident.id, category="tyres", lat=LAT + 0.0004
    )  # closest, another kind
    near = make(engine, resident.id)  # 45 m away, same kind, open
    far = make(engine, resident.id, lat=LAT + 0.002)  # about 180 m away
    closed = make(engine, resident.id, status="rejected")
    client = resident.client  # the form is for signed-in residents
    html = client.get(f"/reports/nearby?lat={LAT + 0.0004}&lon={LON}&category=bulky_items").text
    with Session(engine) as s:
        numbers = {i: catalogue.number(s.get(Report, i)) for i in (near, far, other_kind, closed)}
    assert numbers[near] in html and numbers[other_kind] in html
    assert html.index(numbers[near]) < html.index(numbers[other_kind])  # the same kind first
    assert numbers[far] not in html and numbers[closed] not in html
    # No kind chosen yet (the place is known first): every open report nearby, nearest first;
    # both round to the same public block here, so the older report comes first, on every database.
    html = client.get(f"/reports/nearby?lat={LAT + 0.0004}&lon={LON}").text
    assert html.index(numbers[other_kind]) < html.index(numbers[near])
    assert (
        "Suivre celui-ci"
        not in client.get("/reports/nearby?lat=49.0&lon=5.0&category=bulky_items").text
    )


def test_a_neighbour_follows_and_thanks_a_report_and_hears_about_its_progress(
    engine, resident, neighbour, staff
):
    report_id = make(engine, resident.id)
    assert (
        neighbour.client.post_form(f"/reports/{report_id}/follow", {"on": "1"}).status_code == 303
    )
    assert neighbour.client.post_form(f"/reports/{report_id}/thank").status_code == 303
    assert neighbour.client.post_form(f"/reports/{report_id}/thank").status_code == 303  # once only
    with Session(engine) as s:
        assert s.get(Report, report_id).thanks_count == 1
    staff.client.post_form(
        f"/staff/reports/{report_id}/status", {"status": "confirmed", "note": "Vu."}
    )
    assert [j["topic"] for j in jobs_for(engine, neighbour.id)] == ["my_reports"]
    assert jobs_for(engine, resident.id)[0]["url"] == f"/reports/{report_id}"
    assert jobs_for(engine, staff.id) == []
    assert "Ne plus suivre" in neighbour.client.get(f"/reports/{report_id}").text
    assert (
        catalogue.number(Report(id=report_id, created_at=utcnow(), category="x", lat=0, lon=0))
        in neighbour.client.get("/reports/mine").text
    )


# --- staff triage ----------------------------------------------------------------------------------


def test_staff_move_a_report_through_its_states_and_every_change_is_in_its_history(
    engine, resident, staff, client
):
    report_id = make(engine, resident.id)
    for status in ("confirmed", "scheduled", "in_progress", "resolved"):
        data = {"status": status, "note": f"étape {status}"}
        if status == "scheduled":
            data["expected_on"] = "2026-12-01"
        response = staff.client.post_form(f"/staff/reports/{report_id}/status", data)
        assert response.status_code == 303, response.text
    with Session(engine) as s:
        report = s.get(Report, report_id)
        events = s.scalars(
            select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id)
        ).all()
    assert (
        report.status == "resolved"
        and report.resolved_at is not None
        and report.expected_at is not None
    )
    assert [e.to_status for e in events] == [
        "new",
        "confirmed",
        "scheduled",
        "in_progress",
        "resolved",
    ]
    assert len(jobs_for(engine, resident.id)) == 4
    public = client.get(f"/reports/{report_id}").text
    assert "étape scheduled" in public and "Résolu" in public


def test_staff_cannot_make_a_transition_the_workflow_does_not_allow(engine, resident, staff):
    report_id = make(engine, resident.id, status="rejected")
    response = staff.client.post_form(f"/staff/reports/{report_id}/status", {"status": "resolved"})
    assert response.status_code == 400 and "pas possible" in response.text
    with Session(engine) as s:
        assert s.get(Report, report_id).status == "rejected"


def test_rejecting_needs_a_reason_from_the_managed_list(engine, resident, staff):
    report_id = make(engine, resident.id)
    response = staff.client.post_form(f"/staff/reports/{report_id}/status", {"status": "rejected"})
    assert response.status_code == 400 and "motif" in response.text
    with write_session(engine) as s:
        reason = rp.ensure_reject_reasons(s)[0]
        assert s.get(Report, report_id).status == "new"
    response = staff.client.post_form(
        f"/staff/reports/{report_id}/status",
        {"status": "rejected", "reject_reason": str(reason.id)},
    )
    assert response.status_code == 303
    with Session(engine) as s:
        report = s.get(Report, report_id)
    assert report.status == "rejected" and report.reject_reason_id == reason.id
    assert reason.label in report.status_notes


def test_marking_a_duplicate_points_to_the_original_and_its_reporter_follows_it(
    engine, resident, neighbour, staff
):
    original = make(engine, resident.id)
    copy = make(engine, neighbour.id)
    with Session(engine) as s:
        number = catalogue.number(s.get(Report, original))
    bad = staff.client.post_form(
        f"/staff/reports/{copy}/status", {"status": "duplicate", "duplicate_of": "PHVA-2026-999999"}
    )
    assert bad.status_code == 400
    ok = staff.client.post_form(
        f"/staff/reports/{copy}/status", {"status": "duplicate", "duplicate_of": number}
    )
    assert ok.status_code == 303
    with Session(engine) as s:
        assert s.get(Report, copy).duplicate_of_id == original
        assert s.get(ReportFollow, (original, neighbour.id)) is not None


def test_staff_recategorise_move_the_pin_and_keep_internal_notes_internal(
    engine, resident, staff, client
):
    report_id = make(engine, resident.id)
    assert (
        staff.client.post_form(
            f"/staff/reports/{report_id}/category", {"category": "rubble"}
        ).status_code
        == 303
    )
    assert (
        staff.client.post_form(
            f"/staff/reports/{report_id}/move", {"lat": "49.4675", "lon": "5.9290"}
        ).status_code
        == 303
    )
    assert (
        staff.client.post_form(
            f"/staff/reports/{report_id}/note", {"note": "Propriétaire du terrain : M. X"}
        ).status_code
        == 303
    )
    assert (
        staff.client.post_form(
            f"/staff/reports/{report_id}/move", {"lat": "nan", "lon": "5"}
        ).status_code
        == 400
    )
    with Session(engine) as s:
        report = s.get(Report, report_id)
    assert report.category == "rubble" and report.commune_insee == "54580"
    assert "Propriétaire du terrain" not in client.get(f"/reports/{report_id}").text
    assert "Propriétaire du terrain" in staff.client.get(f"/staff/reports/{report_id}").text


def test_bulk_actions_change_every_checked_report(engine, resident, staff):
    ids = [make(engine, resident.id, lat=LAT + i * 0.01) for i in range(3)]
    client = staff.client
    response = client.post(
        "/staff/reports/bulk",
        data={
            "_csrf_token": client.csrf_token(),
            "action": "confirmed",
            "ids": [str(i) for i in ids[:2]],
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and "done=2" in response.headers["location"]
    with Session(engine) as s:
        assert [s.get(Report, i).status for i in ids] == ["confirmed", "confirmed", "new"]
    none = client.post_form("/staff/reports/bulk", {"action": "confirmed"})
    assert none.status_code == 400


def test_the_board_lists_new_reports_first_and_filters(engine, resident, staff):
    older_new = make(engine, resident.id)
    confirmed = make(engine, resident.id, status="confirmed", category="tyres")
    page = staff.client.get("/staff/reports").text
    with Session(engine) as s:
        n_new, n_conf = (
            catalogue.number(s.get(Report, older_new)),
            catalogue.number(s.get(Report, confirmed)),
        )
    assert page.index(n_new) < page.index(n_conf)
    filtered = staff.client.get("/staff/reports?category=tyres&commune=57038").text
    assert n_conf in filtered and n_new not in filtered


def test_residents_and_visitors_cannot_reach_the_staff_pages(resident, client):
    for url in (
        "/staff/reports",
        "/staff/reports.csv",
        "/staff/reports/stats",
        "/staff/reports/api-keys",
    ):
        assert resident.client.get(url).status_code == 403
        assert client.get(url, follow_redirects=False).status_code == 303


# --- reporter actions -------------------------------------------------------------------------------


def test_the_reporter_reopens_a_resolved_report_within_the_allowed_days_only(
    engine, resident, neighbour, staff
):
    report_id = make(engine, resident.id, status="resolved")
    assert (
        neighbour.client.post_form(
            f"/reports/{report_id}/reopen", {"text": "Toujours là"}
        ).status_code
        == 404
    )
    empty = resident.client.post_form(f"/reports/{report_id}/reopen", {"text": ""})
    assert empty.status_code == 400
    assert (
        resident.client.post_form(
            f"/reports/{report_id}/reopen", {"text": "Toujours là"}
        ).status_code
        == 303
    )
    with Session(engine) as s:
        assert s.get(Report, report_id).status == "confirmed"
    assert any("rouvert" in j["title"] for j in jobs_for(engine, staff.id)) is False
    old = make(engine, resident.id, status="resolved")
    with write_session(engine) as s:
        s.get(Report, old).resolved_at = utcnow() - timedelta(days=catalogue.REOPEN_DAYS + 1)
    late = resident.client.post_form(f"/reports/{old}/reopen", {"text": "Toujours là"})
    assert late.status_code == 400


def test_a_hidden_report_is_not_found_by_the_public_but_stays_visible_to_its_reporter(
    engine, resident, client
):
    report_id = make(engine, resident.id, status="hidden")
    assert client.get(f"/reports/{report_id}").status_code == 404
    assert resident.client.get(f"/reports/{report_id}").status_code == 200
    assert (
        catalogue.number(Report(id=report_id, created_at=utcnow(), category="x", lat=0, lon=0))
        not in client.get("/reports").text
    )


def test_the_public_list_filters_by_commune_category_and_status(engine, resident, client):
    a = make(engine, resident.id, category="tyres")
    b = make(engine, resident.id, category="rubble", lat=49.467, lon=5.929, status="resolved")
    with Session(engine) as s:
        na, nb = catalogue.number(s.get(Report, a)), catalogue.number(s.get(Report, b))
    assert (
        na in client.get("/reports?category=tyres").text
        and nb not in client.get("/reports?category=tyres").text
    )
    assert (
        nb in client.get("/reports?commune=54580").text
        and na not in client.get("/reports?commune=54580").text
    )
    closed = client.get("/reports?status=closed").text
    assert nb in closed and na not in closed
    assert client.get("/reports?status=bogus&commune=../x").status_code == 200


def test_the_home_page_shows_my_reports(engine, resident):
    make(engine, resident.id)
    assert "Mes signalements" in resident.client.get("/").text


# --- exports, statistics, keys, privacy, demo -----------------------------------------------------------


def test_the_csv_export_has_every_report_and_neutralises_formulas(engine, resident, staff):
    with write_session(engine) as s:
        s.add(
            Report(
                category="other",
                lat=LAT,
                lon=LON,
                description='=HYPERLINK("http://x")',
                commune_insee="57038",
            )
        )
    make(engine, resident.id)
    response = staff.client.get("/staff/reports.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == exports.csv_headings() and len(rows) == 3
    assert any(r[rows[0].index("Description")].startswith("'=HYPERLINK") for r in rows[1:])


def test_statistics_count_per_commune_category_month_and_give_the_median_time_to_resolve(
    engine, resident, staff
):
    now = utcnow()
    with write_session(engine) as s:
        for days in (2, 4, 10):
            s.add(
                Report(
                    category="tyres",
                    lat=LAT,
                    lon=LON,
                    commune_insee="57038",
                    status="resolved",
                    created_at=now - timedelta(days=20),
                    resolved_at=now - timedelta(days=20 - days),
                )
            )
        s.add(Report(category="rubble", lat=LAT, lon=LON, commune_insee="54580", created_at=now))
    with Session(engine) as s:
        stats = exports.stats(s)
    assert stats.total == 4 and stats.resolved == 3 and stats.median_days_to_resolve == 4.0
    assert dict(stats.by_commune) == {"Audun-le-Tiche": 3, "Villerupt": 1}
    assert dict(stats.by_category) == {"tyres": 3, "rubble": 1}
    page = staff.client.get("/staff/reports/stats").text
    assert (
        '<dd id="stat-median">4.0 jours</dd>' in page
        or '<dd id="stat-median">4,0 jours</dd>' in page
    )


def test_staff_issue_an_open311_key_shown_once_and_stored_hashed_then_revoke_it(engine, staff):
    response = staff.client.post_form("/staff/reports/api-keys", {"name": "Appli commune"})
    assert response.status_code == 201
    key = response.text.split('<code class="api-key" id="new-key">')[1].split("</code>")[0]
    with Session(engine) as s:
        row = s.scalars(select(ReportApiKey)).one()
        assert (
            row.key_hash != key and key not in row.key_hash and rp.check_api_key(s, key) is not None
        )
    assert key not in staff.client.get("/staff/reports/api-keys").text
    assert staff.client.post_form(f"/staff/reports/api-keys/{row.id}/revoke").status_code == 303
    with Session(engine) as s:
        assert rp.check_api_key(s, key) is None


def test_staff_manage_reject_reasons_and_response_templates(engine, staff):
    assert (
        staff.client.post_form(
            "/staff/reports/reasons", {"label": "Déjà enlevé par la commune"}
        ).status_code
        == 303
    )
    assert (
        staff.client.post_form(
            "/staff/reports/reasons", {"label": "Déjà enlevé par la commune"}
        ).status_code
        == 400
    )
    assert (
        staff.client.post_form(
            "/staff/reports/templates", {"title": "Merci", "body": "Merci beaucoup."}
        ).status_code
        == 303
    )
    page = staff.client.get("/staff/reports/settings").text
    assert "Déjà enlevé par la commune" in page and "Merci beaucoup." in page


def test_the_privacy_export_has_the_persons_reports_and_photos_and_erasure_keeps_them_anonymised(
    engine, resident, settings
):
    assert submit(resident.client, "privacy-key-001").status_code == 303
    with Session(engine) as s:
        data, files = privacy.export_user(s, resident.id, settings.resolved_media_dir)
    assert len(data["reports"]["reports"]) == 1 and len(files) == 1 and files[0].exists()
    with write_session(engine) as s:
        privacy.erase_user(s, resident.id, settings.resolved_media_dir)
    with Session(engine) as s:
        report = s.scalars(select(Report)).one()
        assert report.reporter_id is None
        assert (
            s.scalars(select(ReportFollow).where(ReportFollow.user_id == resident.id)).all() == []
        )
        assert s.scalars(select(ReportEvent.actor_id)).all() == [None]


def test_the_demo_loader_makes_reports_in_every_state_with_photos_and_runs_once(engine, settings):
    from app.demo import load_users

    with write_session(engine) as s:
        load_users(s, random.Random(1))
    with write_session(engine) as s:
        said = demo.load_demo(s, random.Random(2), settings.resolved_media_dir)
    with write_session(engine) as s:
        again = demo.load_demo(s, random.Random(2), settings.resolved_media_dir)
    assert said and again is None
    with Session(engine) as s:
        states = set(s.scalars(select(Report.status)))
        communes = set(s.scalars(select(Report.commune_insee)))
        photos = s.scalar(select(func.count()).select_from(ReportPhoto))
        after = s.scalar(
            select(func.count()).select_from(ReportPhoto).where(ReportPhoto.kind == "after")
        )
    assert states == set(catalogue.STATUSES) and len(communes) == 8
    assert photos == len(demo.DEMO_REPORTS) + after and after >= 1


def test_the_pages_read_in_english_when_the_person_chose_it(resident):
    resident.client.cookies.set("lang", "en")
    page = resident.client.get("/reports/new").text
    assert "Report an illegal dump" in page and "Bulky items" in page and "Use my position" in page


def test_a_boosted_navigation_to_a_map_page_loads_it_in_full_so_its_scripts_run(client):
    response = client.get(
        "/reports?category=tyres", headers={"HX-Request": "true", "HX-Boosted": "true"}
    )
    assert response.headers["hx-redirect"] == "/reports?category=tyres" and response.content == b""
    fragment = client.get(
        "/reports?category=tyres", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert (
        fragment.text.startswith('<div id="results">') and "HX-Request" in fragment.headers["vary"]
    )


def test_a_response_template_gives_the_message_when_staff_write_none(engine, resident, staff):
    from app.models.reports import ResponseTemplate

    report_id = make(engine, resident.id)
    with write_session(engine) as s:
        template = ResponseTemplate(title="Vu", body="Nos équipes passeront cette semaine.")
        s.add(template)
        s.flush()
        template_id = template.id
    response = staff.client.post_form(
        f"/staff/reports/{report_id}/status", {"status": "confirmed", "template": str(template_id)}
    )
    assert response.status_code == 303
    assert jobs_for(engine, resident.id)[0]["body"] == "Nos équipes passeront cette semaine."
