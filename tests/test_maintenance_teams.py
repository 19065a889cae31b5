"""Teams are managed by an administrator in a form: created, renamed, archived, with their members;
work orders go to the teams that exist and are not archived, and an agent's list for today holds
their teams' unassigned orders."""

from __future__ import annotations

from sqlalchemy import select

from app.db import read_session, utcnow
from app.models.maintenance import MaintenanceTeam, MaintenanceTeamMember, WorkOrder


def _teams(engine) -> dict[str, tuple[str, bool]]:
    with read_session(engine) as session:
        return {t.code: (t.name, t.active) for t in session.scalars(select(MaintenanceTeam))}


def _members(engine, code: str) -> list[int]:
    with read_session(engine) as session:
        return sorted(
            session.scalars(
                select(MaintenanceTeamMember.user_id).where(MaintenanceTeamMember.team == code)
            )
        )


def test_an_administrator_manages_teams_and_their_members_in_a_form(engine, staff, admin, resident):
    page = admin.client.get("/staff/teams")
    assert page.status_code == 200
    for name in ("Voirie", "Éclairage", "Déchets", "Espaces verts"):
        assert name in page.text
    assert staff.client.get("/staff/teams").status_code == 403
    assert staff.client.post_form("/staff/teams", {"code": "x1", "name": "X"}).status_code == 403

    # bad input: said under the field, nothing created
    before = _teams(engine)
    for data, message in (
        ({"code": "Propreté!", "name": "Propreté urbaine"}, "Le code commence par une lettre"),
        ({"code": "voirie", "name": "Routes"}, "Une équipe porte déjà ce code"),
        ({"code": "routes", "name": "voirie"}, "Une équipe porte déjà ce nom"),
        ({"code": "proprete", "name": ""}, "Ce champ"),
    ):
        answer = admin.client.post_form("/staff/teams", data)
        assert answer.status_code == 400 and message in answer.text, (data, answer.text[:300])
        assert 'class="field-error"' in answer.text
    assert _teams(engine) == before

    made = admin.client.post_form("/staff/teams", {"code": "proprete", "name": "Propreté urbaine"})
    assert made.status_code == 303
    assert _teams(engine)["proprete"] == ("Propreté urbaine", True)

    # members: staff only, chosen with checkboxes
    wrong = admin.client.post(
        "/staff/teams/proprete",
        data={
            "_csrf_token": admin.client.csrf_token(),
            "name": "Propreté urbaine",
            "members": [str(staff.id), str(resident.id)],
        },
        follow_redirects=False,
    )
    assert wrong.status_code == 400 and "ne fait pas partie du personnel" in wrong.text
    assert _members(engine, "proprete") == []
    saved = admin.client.post(
        "/staff/teams/proprete",
        data={
            "_csrf_token": admin.client.csrf_token(),
            "name": "Propreté",
            "members": [str(staff.id), str(admin.id)],
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert _members(engine, "proprete") == sorted([staff.id, admin.id])
    assert _teams(engine)["proprete"] == ("Propreté", True)
    assert admin.client.post_form("/staff/teams/nulle", {"name": "Nulle"}).status_code == 404

    # the new team takes work orders; its members see its unassigned ones in their list for today
    order = staff.client.post_form(
        "/staff/work-orders",
        {"title": "Nettoyer la place", "team": "proprete", "due_on": utcnow().date().isoformat()},
    )
    assert order.status_code == 303
    assert "Nettoyer la place" in staff.client.get("/staff/work-orders/today").text

    # archived: no new order goes to it, the old one keeps it
    archived = admin.client.post_form(
        "/staff/teams/proprete",
        {"name": "Propreté", "archived": "on", "members": str(staff.id)},
    )
    assert archived.status_code == 303 and _teams(engine)["proprete"] == ("Propreté", False)
    assert _members(engine, "proprete") == [staff.id]
    refused = staff.client.post_form(
        "/staff/work-orders", {"title": "Encore la place", "team": "proprete"}
    )
    assert refused.status_code == 400 and "Équipe inconnue" in refused.text
    assert 'value="proprete"' not in refused.text.split('id="team"')[1].split("</select>")[0]
    with read_session(engine) as session:
        assert [o.team for o in session.scalars(select(WorkOrder))] == ["proprete"]
