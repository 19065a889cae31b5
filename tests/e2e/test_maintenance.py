"""Browser checks of maintenance: a field agent on a phone (390×844) opens today's work orders, adds
an "after" photo and closes the order with no network, comes back online and the closure reaches the
reporter; staff at a desk (1440×900) go from an alarm to a work order. Screenshots in
/tmp/shots/maintenance-*.png."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.db import read_session, utcnow, write_session
from app.maintenance import orders
from app.models.jobs import Job
from app.models.maintenance import MaintenanceAlarm, MaintenanceRule, WorkOrder, WorkOrderPhoto
from app.models.reports import Report, ReportPhoto
from app.reports import intake
from tests.e2e.conftest import ConsoleLog, sign_in
from tests.test_maintenance_orders import jpeg

pytestmark = pytest.mark.e2e
SHOTS = Path("/tmp/shots")
DESK = {"width": 1440, "height": 900}


def _report(engine: Any, reporter_id: int, lat: float) -> int:
    created = intake.create_report(
        engine,
        intake.NewReport(
            category="bulky_items",
            lat=lat,
            lon=5.955,
            reporter_id=reporter_id,
            description="Matelas",
        ),
        media_dir=None,
    )
    return created.report.id


def _told(engine: Any, user_id: int) -> list[dict[str, Any]]:
    with read_session(engine) as session:
        payloads = [
            json.loads(p)
            for p in session.scalars(select(Job.payload).where(Job.kind == "notify.user"))
        ]
    return [p for p in payloads if p["user_id"] == user_id and p["topic"] == "my_reports"]


def test_an_agent_adds_an_after_photo_and_closes_offline_and_the_closure_reaches_the_reporter(
    live_server: Any, phone: Any, staff: Any, resident: Any, engine: Any, tmp_path: Path
) -> None:
    context, page, log = phone
    report_id = _report(engine, resident.id, 49.472)
    today = utcnow().date()
    with write_session(engine) as session:
        order = orders.create(
            session,
            orders.OrderForm(
                title="Enlever le matelas rue Clemenceau",
                team="dechets",
                assignee_id=staff.id,
                due_on=today,
                checklist="Photo avant\nEnlever",
            ),
            actor_id=staff.id,
            report_ids=[report_id],
        )
        second = orders.create(
            session,
            orders.OrderForm(
                title="Nettoyer le dépôt du stade",
                team="dechets",
                assignee_id=staff.id,
                due_on=today,
            ),
            actor_id=staff.id,
        )
        second.lat, second.lon = 49.476, 5.961
        order_id = order.id
    sign_in(context, live_server, staff)
    page.goto(live_server.url + "/staff/work-orders/today")
    expect(page.locator("h1")).to_have_text("Ma tournée du jour")
    expect(page.locator(".maint-route-list li")).to_have_count(2)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "maintenance-today-phone.png"), full_page=True)
    page.click("text=Enlever le matelas rue Clemenceau")
    expect(page.locator("h1")).to_have_text("Enlever le matelas rue Clemenceau")
    page.wait_for_load_state("networkidle")

    context.set_offline(True)
    photo = tmp_path / "apres.jpg"
    photo.write_bytes(jpeg((200, 200, 190)))
    page.set_input_files("#photo", str(photo))
    page.click("text=Ajouter la photo")
    expect(page.locator("#order-queue")).to_contain_text("Pas de réseau")
    page.fill("#minutes", "35")
    page.fill("#note", "Matelas enlevé, trottoir balayé.")
    page.click("text=Terminer le bon de travail")
    expect(page.locator("#order-queue")).to_contain_text("Pas de réseau")
    page.screenshot(path=str(SHOTS / "maintenance-offline-phone.png"), full_page=True)
    with read_session(engine) as session:
        assert session.get(WorkOrder, order_id).state == "planned"
        assert session.scalars(select(WorkOrderPhoto)).all() == []
    assert _told(engine, resident.id) == []

    context.set_offline(False)
    expect(page.locator("#order-state")).to_have_text("Terminé", timeout=15000)
    page.screenshot(path=str(SHOTS / "maintenance-closed-phone.png"), full_page=True)
    with read_session(engine) as session:
        closed = session.get(WorkOrder, order_id)
        report = session.get(Report, report_id)
        kept = session.scalars(select(WorkOrderPhoto)).all()
        after = session.scalars(select(ReportPhoto).where(ReportPhoto.kind == "after")).all()
    assert closed.state == "done" and closed.minutes_spent == 35
    assert [p.kind for p in kept] == ["after"]
    assert report.status == "resolved" and [p.report_id for p in after] == [report_id]
    (told,) = _told(engine, resident.id)
    assert "Matelas enlevé" in told["body"] and told["url"] == f"/reports/{report_id}"
    # the reporter's page shows the after photo
    mine = resident.client.get(f"/reports/{report_id}")
    assert after[0].thumb_name in mine.text or after[0].display_name in mine.text
    # the round's map asks the tile server, which has no name here
    assert [e for e in log.errors if "ERR_NAME_NOT_RESOLVED" not in e] == []


def test_staff_at_a_desk_go_from_an_alarm_to_a_work_order(
    live_server: Any, browser: Any, staff: Any, engine: Any
) -> None:
    now = utcnow()
    with write_session(engine) as session:
        rule = MaintenanceRule(
            name="File d'attente à la déchèterie",
            kind="measure",
            layer="sensors",
            subject="waste_centre",
            measure="queue",
            threshold=15,
            duration_s=600,
        )
        session.add(rule)
        session.flush()
        for n, (severity, title) in enumerate(
            (
                ("minor", "File d'attente à la déchèterie · Déchèterie d'Audun-le-Tiche"),
                ("critical", "Panne d'éclairage · SL-AUD-0042"),
                ("major", "Dépôts répétés · 3 signalements autour de S-12"),
            )
        ):
            session.add(
                MaintenanceAlarm(
                    rule_id=rule.id,
                    subject=f"s:{n}",
                    source="sensors",
                    title=title,
                    severity=severity,
                    commune_insee="57038",
                    lat=49.47,
                    lon=5.95,
                    first_seen=now - dt.timedelta(minutes=30 + n),
                    last_seen=now - dt.timedelta(minutes=n),
                    count=3 + n,
                    value="queue = 18",
                )
            )
    context = browser.new_context(viewport=DESK, locale="fr-FR")
    page = context.new_page()
    log = ConsoleLog()
    log.attach(page)
    sign_in(context, live_server, staff)
    page.goto(live_server.url + "/staff/alarms")
    expect(page.locator(".maint-item")).to_have_count(3)
    page.screenshot(path=str(SHOTS / "maintenance-alarms-desk.png"), full_page=True)
    page.click("text=File d'attente à la déchèterie · Déchèterie d'Audun-le-Tiche")
    page.click("text=Prendre en compte")
    expect(page.locator(".badge.state-acknowledged")).to_be_visible()
    page.fill("#comment-text", "L'agent d'accueil ouvre une deuxième voie.")
    page.click("text=Publier")
    expect(page.locator(".maint-comments")).to_contain_text("deuxième voie")
    page.screenshot(path=str(SHOTS / "maintenance-alarm-desk.png"), full_page=True)
    page.select_option("#wo-team", "dechets")
    page.click("text=Créer un bon de travail")
    page.wait_for_url("**/staff/work-orders/*")  # the alarm's own title says "File d'attente" too
    expect(page.locator("h1")).to_contain_text("File d'attente")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / "maintenance-order-desk.png"), full_page=True)
    page.goto(live_server.url + "/staff/rules")
    page.screenshot(path=str(SHOTS / "maintenance-rules-desk.png"), full_page=True)
    with read_session(engine) as session:
        (made,) = session.scalars(select(WorkOrder)).all()
    assert made.alarm_id is not None and made.team == "dechets"
    assert log.errors == []
    context.close()


def test_an_administrator_makes_a_team_and_chooses_its_members_in_the_browser(
    live_server: Any, browser: Any, phone: Any, admin: Any, staff: Any, engine: Any
) -> None:
    from app.models.maintenance import MaintenanceTeam, MaintenanceTeamMember

    context = browser.new_context(viewport=DESK, locale="fr-FR")
    page = context.new_page()
    log = ConsoleLog()
    log.attach(page)
    sign_in(context, live_server, admin)
    page.goto(live_server.url + "/staff/teams")
    expect(page.locator("h1")).to_have_text("Équipes")
    page.fill("#code", "voirie")
    page.fill("#name", "Propreté urbaine")
    page.click("text=Créer l’équipe")
    expect(page.locator("#code-error")).to_contain_text("Une équipe porte déjà ce code")
    page.fill("#code", "proprete")
    page.click("text=Créer l’équipe")
    team = page.locator("#team-proprete")
    expect(team.locator("h2")).to_have_text("Propreté urbaine")
    team.locator(f'input[name="members"][value="{staff.id}"]').check()
    team.get_by_role("button", name="Enregistrer l’équipe").click()
    expect(page.locator("p.notice")).to_have_text("Équipe enregistrée.")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "maintenance-teams-desk.png"), full_page=True)
    with read_session(engine) as session:
        assert session.get(MaintenanceTeam, {"territory_id": 1, "code": "proprete"}) is not None
        members = session.scalars(
            select(MaintenanceTeamMember.user_id).where(
                MaintenanceTeamMember.territory_id == 1, MaintenanceTeamMember.team == "proprete"
            )
        ).all()
    assert list(members) == [staff.id]
    assert [e for e in log.errors if "status of 400" not in e] == []
    context.close()
    phone_context, phone_page, phone_log = phone
    sign_in(phone_context, live_server, admin)
    phone_page.goto(live_server.url + "/staff/teams")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    phone_page.screenshot(path=str(SHOTS / "maintenance-teams-phone.png"), full_page=True)
    assert width <= 390 and phone_log.errors == []


def test_an_agents_round_for_today_is_on_the_map_in_route_order_and_still_a_list_without_javascript(
    live_server: Any, browser: Any, phone: Any, staff: Any, engine: Any, settings: Any
) -> None:
    from tests.e2e.test_reports import Console

    today = utcnow().date()
    places = (("Loin", 49.470, 6.020), ("Départ", 49.468, 5.935), ("Milieu", 49.476, 5.975))
    with write_session(engine) as session:
        for title, lat, lon in places:
            order = orders.create(
                session,
                orders.OrderForm(title=title, team="voirie", assignee_id=staff.id, due_on=today),
                actor_id=staff.id,
            )
            order.lat, order.lon = lat, lon
        orders.create(  # no place: last in the list, not on the map
            session,
            orders.OrderForm(title="Appeler la mairie", team="voirie", assignee_id=staff.id),
            actor_id=staff.id,
        )
    context, page, _log = phone
    log = Console(page, settings.tile_url)  # no network to the tile server here
    sign_in(context, live_server, staff)
    page.goto(live_server.url + "/staff/work-orders/today")
    expect(page.locator("#route-map")).to_be_visible()
    pins = page.locator("#route-map .route-pin")
    expect(pins).to_have_count(3)
    titles = [pins.nth(i).get_attribute("title") for i in range(3)]
    assert titles == ["1. Loin", "2. Milieu", "3. Départ"], titles
    assert [pins.nth(i).inner_text() for i in range(3)] == ["1", "2", "3"]
    # the pins stand where the orders are: west to east, Départ < Milieu < Loin
    xs = {t: pins.nth(i).bounding_box()["x"] for i, t in enumerate(titles)}
    assert xs["3. Départ"] < xs["2. Milieu"] < xs["1. Loin"]
    expect(page.locator("#route-map path.route-line")).to_have_count(1)  # the route, in its order
    items = page.locator("#route-list li a")
    expect(items).to_have_text(["Loin", "Milieu", "Départ", "Appeler la mairie"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "maintenance-round-map-phone.png"), full_page=True)
    pins.nth(1).click()
    expect(page.locator("h1")).to_have_text("Milieu")
    assert log.errors == []

    # without JavaScript: the same list, in the same order, and no empty map
    plain = browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=False, locale="fr-FR"
    )
    sign_in(plain, live_server, staff)
    no_js = plain.new_page()
    no_js.goto(live_server.url + "/staff/work-orders/today")
    expect(no_js.locator("#route-list li a")).to_have_text(
        ["Loin", "Milieu", "Départ", "Appeler la mairie"]
    )
    expect(no_js.locator("#route-map")).to_be_hidden()
    no_js.screenshot(path=str(SHOTS / "maintenance-round-nojs-phone.png"), full_page=True)
    plain.close()
