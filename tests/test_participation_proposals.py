"""Proposals: support once, comments reportable and moderated (hidden everywhere, the JSON API
included), staff's answer told to the proposer and every supporter."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db import read_session
from app.models.jobs import Job
from app.models.participation import CommentReport, Proposal, ProposalComment, ProposalSupport


def propose(persona, **extra) -> int:
    r = persona.client.post_form(
        "/participation/proposals",
        {
            "title": "Un composteur partagé rue Foch",
            "body": "Pour les habitants des immeubles sans jardin.",
            "commune_insee": "57038",
            "place": "Rue Foch",
            **extra,
        },
    )
    assert r.status_code == 303, r.text
    return int(r.headers["location"].rsplit("/", 1)[1])


def comment(persona, proposal_id: int, body: str) -> int:
    r = persona.client.post_form(f"/participation/proposals/{proposal_id}/comments", {"body": body})
    assert r.status_code == 303
    return 0


def notices(engine, user_id: int) -> list[dict]:
    with read_session(engine) as s:
        jobs = s.scalars(select(Job).where(Job.kind == "notify.user")).all()
    return [json.loads(j.payload) for j in jobs if json.loads(j.payload)["user_id"] == user_id]


def test_a_proposal_is_published_and_refused_with_messages_when_incomplete(engine, resident):
    bad = resident.client.post_form(
        "/participation/proposals", {"title": "abc", "body": "", "commune_insee": "99999"}
    )
    assert bad.status_code == 400
    assert bad.text.count('class="field-error"') == 2  # title and description
    with read_session(engine) as s:
        assert s.scalars(select(Proposal)).all() == []
    pid = propose(resident)
    page = resident.client.get(f"/participation/proposals/{pid}")
    assert "Un composteur partagé rue Foch" in page.text
    assert "Un composteur partagé rue Foch" in resident.client.get("/participation/proposals").text


def test_support_counts_once_and_not_ones_own(engine, resident, personas):
    pid = propose(resident)
    other = personas["other_resident"]
    for _ in range(3):
        assert other.client.post_form(f"/participation/proposals/{pid}/support").status_code == 303
    own = resident.client.post_form(f"/participation/proposals/{pid}/support")
    assert own.status_code == 400
    with read_session(engine) as s:
        assert len(s.scalars(select(ProposalSupport)).all()) == 1
    assert other.client.get(f"/api/participation/proposals/{pid}").json()["supports"] == 1


def test_moderation_hides_a_comment_everywhere_apis_included(
    engine, client, resident, personas, staff
):  # the anonymous client first: test clients of one app close in the reverse order
    pid = propose(resident)
    other = personas["other_resident"]
    comment(other, pid, "Commentaire injurieux à masquer")
    comment(other, pid, "Bonne idée, je soutiens")
    with read_session(engine) as s:
        rude = s.scalars(
            select(ProposalComment).where(ProposalComment.body.startswith("Commentaire injurieux"))
        ).one()
    # Reported by a resident (twice counts once), listed for staff.
    for _ in range(2):
        r = resident.client.post_form(
            f"/participation/comments/{rude.id}/report", {"reason": "insultant"}
        )
        assert r.status_code == 303
    with read_session(engine) as s:
        assert len(s.scalars(select(CommentReport)).all()) == 1
    assert "Commentaire injurieux" in staff.client.get("/participation/staff/comments").text
    # Without a reason: refused, still visible.
    no_reason = staff.client.post_form(f"/participation/staff/comments/{rude.id}/hide", {})
    assert no_reason.status_code == 400
    assert "Commentaire injurieux" in client.get(f"/api/participation/proposals/{pid}").text
    hidden = staff.client.post_form(
        f"/participation/staff/comments/{rude.id}/hide", {"reason": "offensive"}
    )
    assert hidden.status_code == 303
    # Gone from the page (for everyone, its author and staff included) and from the API.
    for reader in (client, resident.client, other.client, staff.client):
        page = reader.get(f"/participation/proposals/{pid}").text
        assert "Commentaire injurieux" not in page
        assert "Bonne idée, je soutiens" in page
    api = client.get(f"/api/participation/proposals/{pid}").json()
    assert [c["body"] for c in api["comments"]] == ["Bonne idée, je soutiens"]
    assert "Commentaire injurieux" not in client.get("/participation/proposals").text
    # The author is told why; it cannot be reported any more; staff can restore it.
    assert any("Contenu choquant" in n["body"] for n in notices(engine, other.id))
    assert resident.client.post_form(f"/participation/comments/{rude.id}/report").status_code == 404
    staff.client.post_form(f"/participation/staff/comments/{rude.id}/restore")
    assert "Commentaire injurieux" in client.get(f"/api/participation/proposals/{pid}").text


def test_staffs_answer_is_told_to_the_proposer_and_supporters(engine, resident, personas, staff):
    pid = propose(resident)
    supporter, bystander = personas["other_resident"], personas["merchant"]
    supporter.client.post_form(f"/participation/proposals/{pid}/support")
    no_reason = staff.client.post_form(
        f"/participation/staff/proposals/{pid}/status", {"status": "rejected"}
    )
    assert no_reason.status_code == 400
    assert notices(engine, resident.id) == []
    r = staff.client.post_form(
        f"/participation/staff/proposals/{pid}/status",
        {"status": "rejected", "reason": "Terrain privé, pas de place sur le domaine public."},
    )
    assert r.status_code == 303
    for person in (resident, supporter):
        (notice,) = notices(engine, person.id)
        assert "Refusée" in notice["title"]
        assert "Terrain privé" in notice["body"]
        assert notice["url"] == f"/participation/proposals/{pid}"
    assert notices(engine, bystander.id) == []
    assert "Terrain privé" in resident.client.get(f"/participation/proposals/{pid}").text
    # A resident cannot answer.
    assert (
        resident.client.post_form(
            f"/participation/staff/proposals/{pid}/status", {"status": "accepted"}
        ).status_code
        == 403
    )


# --- a photo ------------------------------------------------------------------------------------


def proposal_form(**extra) -> dict:
    return {
        "_csrf_token": "",
        "title": "Un composteur partagé rue Foch",
        "body": "Pour les habitants des immeubles sans jardin.",
        "commune_insee": "57038",
        **extra,
    }


def post_with_photo(persona, files, **extra):
    data = proposal_form(**extra)
    data["_csrf_token"] = persona.client.csrf_token()
    return persona.client.post(
        "/participation/proposals", data=data, files=files, follow_redirects=False
    )


def test_a_proposal_keeps_its_photo_re_encoded_without_its_position(
    engine, resident, client, settings
):
    from PIL import Image

    from app import images
    from app.models.participation import ProposalPhoto
    from tests.test_report_photos import gps_jpeg

    r = post_with_photo(resident, {"photo": ("compost.jpg", gps_jpeg(), "image/jpeg")})
    assert r.status_code == 303, r.text
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    with read_session(engine) as s:
        photo = s.get(ProposalPhoto, pid)
    assert photo is not None and (photo.width, photo.height) == (640, 480)
    page = client.get(f"/participation/proposals/{pid}")
    assert f'src="/participation/photos/{photo.display_name}"' in page.text
    served = client.get(f"/participation/photos/{photo.display_name}")
    assert served.status_code == 200 and served.headers["content-type"] == images.OUTPUT_MIME
    import io

    image = Image.open(io.BytesIO(served.content))
    assert not image.getexif().get_ifd(0x8825)  # no GPS left in what is served
    assert "Jean Dupont" not in served.content.decode("latin-1")
    assert client.get(f"/participation/photos/{photo.thumb_name}").status_code == 200


def test_a_bad_photo_is_refused_with_a_message_and_nothing_is_written(engine, resident, settings):
    from tests.test_report_photos import png_bomb

    before = sorted(p.name for p in settings.resolved_media_dir.rglob("*") if p.is_file())
    for files, message in (
        ({"photo": ("bomb.png", png_bomb(), "image/png")}, "trop grande"),
        (
            {"photo": ("page.jpg", b"<html><script>alert(1)</script>", "image/jpeg")},
            "pas une photo",
        ),
    ):
        r = post_with_photo(resident, files)
        assert r.status_code == 400, files
        assert message in r.text.lower() or message in r.text, (message, r.text[-2000:])
    with read_session(engine) as s:
        assert s.scalars(select(Proposal)).all() == []
    after = sorted(p.name for p in settings.resolved_media_dir.rglob("*") if p.is_file())
    assert after == before


def test_the_photo_of_a_hidden_proposal_is_staffs_only_and_erasure_removes_it(
    engine, resident, staff, client, settings
):
    from app.db import write_session
    from app.models.participation import ProposalPhoto
    from app.participation import privacy
    from tests.test_report_photos import jpeg

    r = post_with_photo(resident, {"photo": ("parc.jpg", jpeg(), "image/jpeg")})
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    with read_session(engine) as s:
        name = s.get(ProposalPhoto, pid).display_name
    with write_session(engine) as s:
        s.get(Proposal, pid).hidden = True
    assert client.get(f"/participation/photos/{name}").status_code == 404
    assert resident.client.get(f"/participation/photos/{name}").status_code == 404
    assert staff.client.get(f"/participation/photos/{name}").status_code == 200
    media = settings.resolved_media_dir
    with read_session(engine) as s:
        exported, files = privacy.export_person(s, resident.id, media)
    assert [p["id"] for p in exported["proposals"]] == [pid] and len(files) == 1
    with write_session(engine) as s:
        doomed = privacy.erase_person(s, resident.id, media)
    assert len(doomed) == 2  # the display size and the thumbnail, deleted after commit
    with read_session(engine) as s:
        assert s.get(ProposalPhoto, pid) is None and s.get(Proposal, pid) is not None
