"""Work orders: made from an alarm or from reports, closed once (even by two people at once), and
closing one resolves its reports with the "after" photo and tells every reporter and follower once;
residents never see work orders, internal comments or assignees."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading

from PIL import Image
from sqlalchemy import select

from app.db import read_session, utcnow, write_session
from app.maintenance import orders
from app.models.jobs import Job
from app.models.maintenance import MaintenanceAlarm, MaintenanceRule, WorkOrder
from app.models.reports import Report, ReportPhoto
from app.reports import intake
from app.reports import workflow as rp


def jpeg(colour: tuple[int, int, int] = (40, 140, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


def _report(engine, reporter_id: int, lat: float = 49.472, lon: float = 5.955) -> int:
    created = intake.create_report(
        engine,
        intake.NewReport(
            category="bulky_items", lat=lat, lon=lon, reporter_id=reporter_id, description="Matelas"
        ),
        media_dir=None,
    )
    return created.report.id


def _follow(engine, report_id: int, user_id: int) -> None:
    with write_session(engine) as session:
        rp.follow(session, session.get(Report, report_id), user_id, True)


def _alarm(engine) -> int:
    now = utcnow()
    with write_session(engine) as session:
        rule = MaintenanceRule(name="Dépôts répétés", kind="cluster", layer="reports")
        session.add(rule)
        session.flush()
        alarm = MaintenanceAlarm(
            rule_id=rule.id,
            subject="reports:bulky_items:1",
            source="reports",
            title="Dépôts répétés · 3 signalements",
            severity="major",
            commune_insee="57038",
            lat=49.472,
            lon=5.955,
            first_seen=now - dt.timedelta(hours=2),
            last_seen=now,
        )
        session.add(alarm)
        session.flush()
        return alarm.id


def _notes_for(engine, user_id: int) -> list[dict]:
    with read_session(engine) as session:
        payloads = [
            json.loads(p)
            for p in session.scalars(select(Job.payload).where(Job.kind == "notify.user"))
        ]
    return [p for p in payloads if p["user_id"] == user_id]


def test_closing_a_work_order_resolves_its_reports_with_the_after_photo_and_tells_each_reporter_and_follower_once(
    client, engine, staff, resident, personas
):
    neighbour, follower = personas["other_resident"], personas["merchant"]
    first = _report(engine, resident.id)
    second = _report(engine, neighbour.id, lat=49.4722)
    _follow(engine, first, follower.id)
    alarm_id = _alarm(engine)
    answer = staff.client.post_form(
        "/staff/work-orders",
        {
            "title": "Enlever les encombrants rue de la Gare",
            "team": "dechets",
            "assignee_id": str(staff.id),
            "due_on": utcnow().date().isoformat(),
            "alarm_id": str(alarm_id),
            "reports": f"{first}, S-{second}",
            "checklist": "Photo avant\nEnlever\nPhoto après",
        },
    )
    assert answer.status_code == 303, answer.text
    order_id = int(answer.headers["location"].rsplit("/", 1)[1])
    with read_session(engine) as session:
        order = session.get(WorkOrder, order_id)
        alarm = session.get(MaintenanceAlarm, alarm_id)
    assert order is not None and order.state == "planned" and order.commune_insee == "57038"
    assert alarm is not None and alarm.state == "acknowledged"
    before_notes = {p["user_id"] for p in _notes_for(engine, resident.id)}
    token = staff.client.csrf_token()
    photo = staff.client.post(
        f"/staff/work-orders/{order_id}/photos",
        data={"_csrf_token": token, "kind": "after"},
        files={"photo": ("apres.jpg", jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert photo.status_code == 303, photo.text
    closed = staff.client.post(
        f"/staff/work-orders/{order_id}/close",
        data={
            "_csrf_token": token,
            "minutes": "45",
            "note": "Encombrants enlevés, trottoir nettoyé.",
        },
        follow_redirects=False,
    )
    assert closed.status_code == 303, closed.text
    with read_session(engine) as session:
        order = session.get(WorkOrder, order_id)
        reports = [session.get(Report, i) for i in (first, second)]
        afters = session.scalars(select(ReportPhoto).where(ReportPhoto.kind == "after")).all()
        alarm = session.get(MaintenanceAlarm, alarm_id)
    assert order.state == "done" and order.minutes_spent == 45 and order.closed_by == staff.id
    assert [r.status for r in reports] == ["resolved", "resolved"]
    assert sorted(p.report_id for p in afters) == [first, second]
    assert alarm.state == "cleared" and alarm.cleared_why == "work_order"
    told = {
        who: [n for n in _notes_for(engine, uid) if n["topic"] == "my_reports"]
        for who, uid in (
            ("resident", resident.id),
            ("neighbour", neighbour.id),
            ("follower", follower.id),
        )
    }
    assert {who: len(notes) for who, notes in told.items()} == {
        "resident": 1,
        "neighbour": 1,
        "follower": 1,
    }, (told, before_notes)
    assert "Encombrants enlevés" in told["resident"][0]["body"]
    assert told["resident"][0]["url"] == f"/reports/{first}"
    assert told["follower"][0]["url"] == f"/reports/{first}"
    # closing again changes nothing and tells nobody twice
    again = staff.client.post(
        f"/staff/work-orders/{order_id}/close",
        data={"_csrf_token": token, "minutes": "60"},
        follow_redirects=False,
    )
    assert again.status_code == 400 and "déjà clos" in again.text
    assert len([n for n in _notes_for(engine, resident.id) if n["topic"] == "my_reports"]) == 1
    # the resident's page shows the fix, never the assignee or the order
    page = resident.client.get(f"/reports/{first}")
    assert page.status_code == 200 and "Encombrants enlevés" in page.text
    assert staff.email not in page.text and "bon de travail" not in page.text.lower()


def test_two_staff_closing_the_same_work_order_at_once_make_one_closure(
    engine, staff, admin, resident
):
    report = _report(engine, resident.id)
    with write_session(engine) as session:
        order = orders.create(
            session,
            orders.OrderForm(title="Enlever le dépôt", team="dechets"),
            actor_id=staff.id,
            report_ids=[report],
        )
        order_id = order.id
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def close(actor: int) -> None:
        start.wait()
        try:
            with write_session(engine) as session:
                orders.close(
                    session,
                    order_id,
                    actor_id=actor,
                    note="Fait.",
                    minutes=None,
                    photo=None,
                    media_dir=None,
                )
            outcomes.append("closed")
        except orders.OrderError:
            outcomes.append("refused")

    threads = [threading.Thread(target=close, args=(who,)) for who in (staff.id, admin.id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["closed", "refused"]
    assert len([n for n in _notes_for(engine, resident.id) if n["topic"] == "my_reports"]) == 1
    with read_session(engine) as session:
        assert session.get(Report, report).status == "resolved"


def test_residents_cannot_see_work_orders_internal_comments_or_assignees(engine, staff, resident):
    alarm_id = _alarm(engine)
    assert (
        staff.client.post_form(f"/staff/alarms/{alarm_id}/comment", {"text": "Note interne 7731"})
    ).status_code == 303
    assert (
        staff.client.post_form(f"/staff/alarms/{alarm_id}/assign", {"assignee_id": str(staff.id)})
    ).status_code == 303
    detail = staff.client.get(f"/staff/alarms/{alarm_id}")
    assert "Note interne 7731" in detail.text and staff.email in detail.text
    for url in (
        f"/staff/alarms/{alarm_id}",
        "/staff/alarms",
        "/staff/alarms.json",
        "/staff/work-orders",
        "/staff/work-orders/today",
    ):
        answer = resident.client.get(url, follow_redirects=False)
        assert answer.status_code == 403, url
        assert "Note interne 7731" not in answer.text and staff.email not in answer.text


def test_a_work_order_form_with_bad_input_says_what_is_wrong_and_creates_nothing(
    engine, staff, resident
):
    closed = _report(engine, resident.id)
    with write_session(engine) as session:
        rp.change_status(
            session, session.get(Report, closed), "resolved", actor_id=None, notify_people=False
        )
    cases = [
        ({"title": "", "team": "dechets"}, "Ce champ"),
        ({"title": "Enlever", "team": "plomberie"}, "Équipe inconnue"),
        ({"title": "Enlever", "team": "dechets", "reports": "abc"}, "numéros de signalement"),
        ({"title": "Enlever", "team": "dechets", "reports": "999999"}, "introuvable"),
        ({"title": "Enlever", "team": "dechets", "reports": str(closed)}, "déjà clos"),
        ({"title": "Enlever", "team": "dechets", "due_on": "2026-13-45"}, "Date invalide"),
        ({"title": "Enlever", "team": "dechets", "assignee_id": str(resident.id)}, "personnel"),
    ]
    for data, message in cases:
        answer = staff.client.post_form("/staff/work-orders", data)
        assert answer.status_code == 400, (data, answer.status_code)
        assert message in answer.text, (data, message)
    with read_session(engine) as session:
        assert session.scalars(select(WorkOrder)).all() == []


def test_a_bad_photo_or_time_is_refused_in_french_and_the_order_stays_open(engine, staff):
    with write_session(engine) as session:
        order = orders.create(
            session, orders.OrderForm(title="Réparer le banc", team="espaces_verts"), actor_id=None
        )
    token = staff.client.csrf_token()
    bad_photo = staff.client.post(
        f"/staff/work-orders/{order.id}/photos",
        data={"_csrf_token": token, "kind": "after"},
        files={"photo": ("x.jpg", b"<html>not a photo</html>", "image/jpeg")},
        follow_redirects=False,
    )
    assert bad_photo.status_code == 400 and "order-error" in bad_photo.text
    bad_time = staff.client.post(
        f"/staff/work-orders/{order.id}/close",
        data={"_csrf_token": token, "minutes": "une heure"},
        follow_redirects=False,
    )
    assert bad_time.status_code == 400 and "minutes" in bad_time.text
    with read_session(engine) as session:
        assert session.get(WorkOrder, order.id).state == "new"


def test_an_agents_list_for_today_is_in_route_order(engine, staff, admin):
    today = utcnow().date()
    with write_session(engine) as session:
        made = {}
        for title, lon in (("Loin", 6.05), ("Départ", 5.90), ("Milieu", 5.97), ("Demain", 5.91)):
            order = orders.create(
                session,
                orders.OrderForm(
                    title=title,
                    team="voirie",
                    assignee_id=staff.id,
                    due_on=today + dt.timedelta(days=1 if title == "Demain" else 0),
                ),
                actor_id=None,
            )
            order.lat, order.lon = 49.47, lon
            made[title] = order.id
        other = orders.create(
            session,
            orders.OrderForm(title="À un autre", team="voirie", assignee_id=admin.id, due_on=today),
            actor_id=None,
        )
        other.lat, other.lon = 49.47, 5.95
    # the first is the earliest created that is due; then the nearest each time
    with read_session(engine) as session:
        route = [o.title for o in orders.today_for(session, staff.id, today)]
    assert route == ["Loin", "Milieu", "Départ"]
    page = staff.client.get("/staff/work-orders/today")
    assert page.status_code == 200
    assert page.text.index("Loin") < page.text.index("Milieu") < page.text.index("Départ")
    assert "À un autre" not in page.text and "Demain" not in page.text


def test_the_figures_give_the_time_from_signal_to_fix_per_category_and_commune_and_the_load_per_team(
    engine, staff, resident
):
    report = _report(engine, resident.id)
    now = utcnow()
    with write_session(engine) as session:
        fixed = orders.create(
            session,
            orders.OrderForm(title="Enlever le matelas", team="dechets"),
            actor_id=None,
            report_ids=[report],
        )
        fixed.signal_at = now - dt.timedelta(hours=30)
        orders.close(
            session,
            fixed.id,
            actor_id=staff.id,
            note="Fait.",
            minutes=40,
            photo=None,
            media_dir=None,
            now=now,
        )
        late = orders.create(
            session,
            orders.OrderForm(
                title="Tailler la haie",
                team="espaces_verts",
                due_on=now.date() - dt.timedelta(days=3),
            ),
            actor_id=None,
        )
        late_id = late.id
    page = staff.client.get("/staff/work-orders/stats")
    assert page.status_code == 200
    fix_row = page.text[page.text.index('id="fix-times"') : page.text.index('id="teams"')]
    assert "Encombrants" in fix_row and "57038" in fix_row and "30" in fix_row
    teams = page.text[page.text.index('id="teams"') :]
    green = teams[teams.index("Espaces verts") : teams.index("</tr>", teams.index("Espaces verts"))]
    waste = teams[teams.index("Déchets") : teams.index("</tr>", teams.index("Déchets"))]
    assert [c for c in green.split("<td>")[1:4]] == ["1</td>", "1</td>", "0</td>"]
    assert waste.split("<td>")[3:5] == ["1</td>", "40</td>"]
    assert f"/staff/work-orders/{late_id}" in page.text
