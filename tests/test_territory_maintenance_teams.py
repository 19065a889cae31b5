"""Maintenance teams per territory: a team's code is unique within its territory, so the first
territory and the Minett each have their own ``voirie``; a work order or an alarm of one territory's
``voirie`` never reaches the other's team, its members' list of the day or their notifications; a
territory's bundle carries its teams (not their members) and its rules' team."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.auth import create_user
from app.db import make_engine, read_session, utcnow, write_session
from app.maintenance import orders, watches
from app.migrate import downgrade, upgrade
from app.models.maintenance import (
    MaintenanceAlarm,
    MaintenanceRule,
    MaintenanceTeam,
    MaintenanceTeamMember,
    MaintenanceWatch,
    WorkOrder,
)
from app.models.territory import Territory
from app.territories import bind, read
from app.territory_setup import SetupError, export_bundle, import_bundle
from tests.conftest import fresh_database_url
from tests.test_territories import ESCH, add_minett

B_STAFF = "agent@minett.example"


@pytest.fixture
def crews(engine, personas) -> dict[str, Any]:
    """Both territories' ``voirie``: the first territory's staff member in its own, an agent of the
    Minett in the Minett's; each follows the alarms of ``voirie`` in their territory."""
    minett = int(add_minett(engine).id or 0)
    staff = personas["staff"]
    with write_session(engine) as session:
        b_staff = create_user(session, B_STAFF, role="staff", display_name="Agent du Minett")
        b_staff.territory_id = minett
        session.flush()
        session.add(MaintenanceTeamMember(territory_id=1, team="voirie", user_id=staff.id))
        session.add(MaintenanceTeamMember(territory_id=minett, team="voirie", user_id=b_staff.id))
        session.add(MaintenanceWatch(user_id=staff.id, severities="", teams="voirie"))
        session.add(
            MaintenanceWatch(user_id=b_staff.id, severities="", teams="voirie", territory_id=minett)
        )
        b_id = b_staff.id
    return {"minett": minett, "b_staff": b_id}


def test_a_new_territory_starts_with_its_own_four_trades_under_the_same_codes(engine, crews):
    with read_session(engine) as session:
        teams = session.scalars(
            select(MaintenanceTeam).order_by(
                col(MaintenanceTeam.territory_id), col(MaintenanceTeam.code)
            )
        ).all()
    codes = ["dechets", "eclairage", "espaces_verts", "voirie"]
    assert [(t.territory_id, t.code) for t in teams] == [
        *((1, c) for c in codes),
        *((crews["minett"], c) for c in codes),
    ]


def test_a_work_order_for_the_minetts_voirie_reaches_its_agent_and_never_the_first_territorys(
    engine, crews, personas
):
    staff = personas["staff"]
    elected = personas["elected"]
    with write_session(engine) as session:
        from app.models.accounts import User

        user = session.get(User, elected.id)
        assert user is not None
        user.role, user.territory_id = "staff", crews["minett"]
    made = elected.client.post_form(
        "/staff/work-orders", {"title": "Nid-de-poule à Esch", "team": "voirie"}, headers=ESCH
    )
    assert made.status_code == 303, made.text
    with read_session(engine) as session:
        order = session.scalars(
            select(WorkOrder).where(col(WorkOrder.title) == "Nid-de-poule à Esch")
        ).one()
        assert (order.team, order.territory_id) == ("voirie", crews["minett"])
        bind(session, read(session).default)
        assert orders.today_for(session, staff.id, utcnow().date()) == []
        bind(session, read(session).by_slug["minett"])
        assert [o.id for o in orders.today_for(session, crews["b_staff"], utcnow().date())] == [
            order.id
        ]
    # The first territory's agent of its own voirie: not on their list of the day, nor on its page.
    today = staff.client.get("/staff/work-orders/today")
    assert today.status_code == 200 and "Nid-de-poule à Esch" not in today.text
    assert "Nid-de-poule à Esch" not in staff.client.get("/staff/work-orders?team=voirie").text
    # One made on the first territory's host goes to its own voirie, not the Minett's.
    staff.client.post_form("/staff/work-orders", {"title": "Trottoir à Audun", "team": "voirie"})
    with read_session(engine) as session:
        order = session.scalars(
            select(WorkOrder).where(col(WorkOrder.title) == "Trottoir à Audun")
        ).one()
        assert order.territory_id == 1
        bind(session, read(session).by_slug["minett"])
        mine = orders.today_for(session, crews["b_staff"], utcnow().date())
        assert [o.title for o in mine] == ["Nid-de-poule à Esch"]


def test_an_alarm_for_the_minetts_voirie_tells_its_followers_of_voirie_only(
    engine, crews, personas
):
    staff = personas["staff"]
    now = utcnow()
    with write_session(engine) as session:
        alarms = []
        for territory, title in ((crews["minett"], "Alarme-Esch"), (1, "Alarme-Audun")):
            alarm = MaintenanceAlarm(
                subject=f"sensors:{title}",
                source="sensors",
                title=title,
                severity="major",
                first_seen=now,
                last_seen=now,
                team="voirie",
                territory_id=territory,
            )
            session.add(alarm)
            session.flush()
            alarms.append(alarm)
        assert watches.tell_staff(session, alarms[0]) == [crews["b_staff"]]
        assert watches.tell_staff(session, alarms[1]) == [staff.id]


def test_each_territorys_admin_manages_its_own_team_of_a_code_the_other_also_has(
    engine, crews, personas
):
    admin = personas["admin"]
    # The Minett's admin (an administrator of no other territory) on the Minett's host.
    other = personas["other_merchant"]
    with write_session(engine) as session:
        from app.models.accounts import User

        user = session.get(User, other.id)
        assert user is not None
        user.role, user.territory_id = "admin", crews["minett"]
    answer = other.client.post_form(
        "/staff/teams/voirie",
        {"name": "Voirie du Minett", "active": "on", "members": str(crews["b_staff"])},
        headers=ESCH,
    )
    assert answer.status_code == 303, answer.text
    made = other.client.post_form("/staff/teams", {"code": "ponts", "name": "Ponts"}, headers=ESCH)
    assert made.status_code == 303, made.text
    # The first territory's admin makes a "ponts" too; twice in one territory is refused.
    assert (
        admin.client.post_form("/staff/teams", {"code": "ponts", "name": "Ponts"}).status_code
        == 303
    )
    twice = admin.client.post_form("/staff/teams", {"code": "ponts", "name": "Ouvrages"})
    assert twice.status_code == 400 and "Une équipe porte déjà ce code." in twice.text
    # A member of another territory is refused in French, nothing changed.
    refused = admin.client.post_form(
        "/staff/teams/voirie", {"name": "Voirie", "active": "on", "members": str(crews["b_staff"])}
    )
    assert refused.status_code == 400
    assert "Cette personne ne fait pas partie du personnel." in refused.text
    with read_session(engine) as session:
        teams = {
            (t.territory_id, t.code): t.name
            for t in session.scalars(
                select(MaintenanceTeam).where(col(MaintenanceTeam.code).in_(["voirie", "ponts"]))
            )
        }
        members = {
            (m.territory_id, m.team, m.user_id)
            for m in session.scalars(select(MaintenanceTeamMember))
        }
    assert teams == {
        (1, "voirie"): "Voirie",
        (crews["minett"], "voirie"): "Voirie du Minett",
        (1, "ponts"): "Ponts",
        (crews["minett"], "ponts"): "Ponts",
    }
    assert members == {
        (1, "voirie", personas["staff"].id),
        (crews["minett"], "voirie", crews["b_staff"]),
    }
    page = admin.client.get("/staff/teams").text
    assert "Voirie du Minett" not in page and "Agent du Minett" not in page


def test_a_bundle_carries_the_territorys_teams_and_its_rules_team_into_another_install(
    engine, crews, tmp_path
):
    minett = crews["minett"]
    with write_session(engine) as session:
        voirie = session.get(MaintenanceTeam, {"territory_id": minett, "code": "voirie"})
        assert voirie is not None
        voirie.name = "Voirie du Minett"
        session.add(MaintenanceTeam(code="ponts", name="Ponts", active=False, territory_id=minett))
        session.add(
            MaintenanceRule(name="Chaussée", kind="status", team="ponts", territory_id=minett)
        )
    with read_session(engine) as session:
        bundle = export_bundle(session, "minett")
    carried = json.loads(zipfile.ZipFile(io.BytesIO(bundle)).read("maintenance_teams.json"))
    assert {t["code"]: (t["name"], t["active"]) for t in carried} == {
        "dechets": ("Déchets", True),
        "eclairage": ("Éclairage", True),
        "espaces_verts": ("Espaces verts", True),
        "ponts": ("Ponts", False),
        "voirie": ("Voirie du Minett", True),
    }
    assert all(set(t) == {"code", "name", "active"} for t in carried)  # no member travels
    other = fresh_database_url(tmp_path)
    upgrade(other)
    fresh = make_engine(other)
    try:
        with Session(fresh) as session:
            territory = import_bundle(session, bundle)
            session.commit()
            teams = session.scalars(
                select(MaintenanceTeam).where(col(MaintenanceTeam.territory_id) == territory.id)
            ).all()
            assert {t.code: (t.name, t.active) for t in teams} == {
                t["code"]: (t["name"], t["active"]) for t in carried
            }
            rule = session.scalars(
                select(MaintenanceRule).where(col(MaintenanceRule.name) == "Chaussée")
            ).one()
            assert (rule.team, rule.territory_id) == ("ponts", territory.id)
            # The install's own first territory keeps its voirie beside the Minett's.
            assert session.get(MaintenanceTeam, {"territory_id": 1, "code": "voirie"}) is not None
            assert not session.scalars(select(MaintenanceTeamMember)).all()
    finally:
        fresh.dispose()


def _rezip(bundle: bytes, **replace: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, replace.get(name, src.read(name)))
    return out.getvalue()


def test_a_bundle_with_a_bad_team_or_a_rule_of_a_team_it_lacks_is_refused_and_nothing_written(
    engine, crews, tmp_path
):
    with write_session(engine) as session:
        session.add(
            MaintenanceRule(
                name="Chaussée", kind="status", team="voirie", territory_id=crews["minett"]
            )
        )
    with read_session(engine) as session:
        good = export_bundle(session, "minett")
    other = fresh_database_url(tmp_path)
    upgrade(other)
    fresh = make_engine(other)
    team = {"code": "ponts", "name": "Ponts", "active": True}
    voirie = {"code": "voirie", "name": "Voirie", "active": True}
    try:
        for files, message in (
            ({"maintenance_teams.json": json.dumps([team])}, "« Chaussée » confie ses alarmes"),
            (
                {"maintenance_teams.json": json.dumps([voirie, {**team, "code": "Ponts!"}])},
                "code d’équipe « Ponts! » invalide",
            ),
            (
                {"maintenance_teams.json": json.dumps([voirie, team, team])},
                "L’équipe de maintenance « ponts » figure deux fois",
            ),
            (
                {"maintenance_teams.json": json.dumps([voirie, {**team, "name": ""}])},
                "le nom doit compter de 2 à 60 caractères",
            ),
        ):
            with pytest.raises(SetupError, match=message), Session(fresh) as session:
                import_bundle(session, _rezip(good, **files))
        with Session(fresh) as session:
            assert len(session.scalars(select(Territory)).all()) == 1
            assert {t.territory_id for t in session.scalars(select(MaintenanceTeam))} == {1}
        # A bundle of an earlier Eclor (rules without their team) is still read.
        rules = json.loads(zipfile.ZipFile(io.BytesIO(good)).read("maintenance_rules.json"))
        old = [{k: v for k, v in r.items() if k != "team"} for r in rules]
        with Session(fresh) as session:
            import_bundle(session, _rezip(good, **{"maintenance_rules.json": json.dumps(old)}))
            session.commit()
            rule = session.scalars(select(MaintenanceRule)).one()
            assert rule.team == ""
    finally:
        fresh.dispose()


def test_the_migration_keeps_the_teams_and_members_and_gives_a_bare_territory_the_four_trades(
    tmp_path,
):
    url = fresh_database_url(tmp_path)
    upgrade(url)
    downgrade(url, "0044_maintenance_territory")
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            user = create_user(session, "agent@pays-haut.example", role="staff")
            session.commit()
            session.execute(
                text("INSERT INTO maintenance_team_members (team, user_id) VALUES ('voirie', :u)"),
                {"u": user.id},
            )
            session.execute(
                text("INSERT INTO maintenance_team_members (team, user_id) VALUES ('gone', :u)"),
                {"u": user.id},
            )
            session.execute(
                text("UPDATE maintenance_teams SET name = 'Routes' WHERE code = 'voirie'")
            )
            session.execute(
                text(
                    "INSERT INTO territories (slug, name, timezone, lat, lon, hosts, languages) "
                    "VALUES ('minett', 'Minett', 'Europe/Luxembourg', 49.5, 5.98, '[]', '[\"fr\"]')"
                )
            )
            session.commit()
            user_id = user.id
        upgrade(url)
        with Session(engine) as session:
            teams = session.execute(
                text("SELECT territory_id, code, name FROM maintenance_teams ORDER BY 1, 2")
            ).all()
            members = session.execute(
                text("SELECT territory_id, team, user_id FROM maintenance_team_members")
            ).all()
        assert [tuple(t) for t in teams if t[1] == "voirie"] == [
            (1, "voirie", "Routes"),
            (2, "voirie", "Voirie"),
        ]
        assert len(teams) == 8
        assert [tuple(m) for m in members] == [(1, "voirie", user_id)]
    finally:
        engine.dispose()
