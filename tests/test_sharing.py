"""Neighbour sharing: the loan calendar, reminders that fire once, lapsing ads, gifts, requests, reports."""

from __future__ import annotations

import io
import json
import threading
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.db import read_session, utcnow, write_session
from app.jobs import ClaimedJob, JobContext
from app.models.jobs import Job
from app.models.sharing import CategoryWatch, ItemReport, Loan, LoanMessage, SharedItem
from app.sharing import loans as sharing
from app.sharing import reminders

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone


def make_item(
    engine,
    owner_id: int,
    *,
    kind: str = "lend",
    title: str = "Perceuse à percussion",
    category: str = "tools",
    max_days: int = 14,
) -> int:
    with write_session(engine) as s:
        item = SharedItem(
            owner_id=owner_id,
            kind=kind,
            title=title,
            category=category,
            commune_insee="57038",
            max_days=max_days,
            expires_at=utcnow(),
        )
        sharing.publish(s, item)
        return item.id


def today() -> date:
    return sharing.local_today(PARIS)


def request(engine, item_id: int, borrower_id: int, start: date, end: date) -> int:
    with write_session(engine) as s:
        return sharing.request_loan(s, item_id, borrower_id, start, end).id


def move(engine, loan_id: int, actor_id: int, action: str) -> None:
    with write_session(engine) as s:
        sharing.move_loan(s, loan_id, actor_id, action)


def notices(engine, user_id: int, prefix: str) -> list[dict]:
    with read_session(engine) as s:
        jobs = s.scalars(select(Job).where(Job.kind == "notify.user")).all()
    return [
        json.loads(j.payload)
        for j in jobs
        if json.loads(j.payload)["user_id"] == user_id
        and (j.dedupe_key or "").startswith(f"notify:{prefix}")
    ]


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


# --- the calendar -------------------------------------------------------------------------------


def test_no_two_loans_of_one_object_overlap(engine, personas):
    owner, a, b = personas["resident"].id, personas["other_resident"].id, personas["merchant"].id
    item_id = make_item(engine, owner)
    d = today() + timedelta(days=3)
    request(engine, item_id, a, d, d + timedelta(days=2))
    for start, end in (
        (d + timedelta(days=2), d + timedelta(days=4)),  # shares the last day
        (d - timedelta(days=1), d),  # shares the first day
        (d - timedelta(days=2), d + timedelta(days=6)),
    ):  # contains it
        with pytest.raises(sharing.SharingError, match="déjà réservé"):
            request(engine, item_id, b, start, end)
    request(engine, item_id, b, d + timedelta(days=3), d + timedelta(days=5))  # the day after: free
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Loan)) == 2


def test_concurrent_requests_for_the_same_dates_book_the_object_once(engine, personas):
    owner = personas["resident"].id
    borrowers = [
        personas["other_resident"].id,
        personas["merchant"].id,
        personas["other_merchant"].id,
    ]
    item_id = make_item(engine, owner)
    d = today() + timedelta(days=5)
    barrier = threading.Barrier(12)
    outcomes: list[str] = []

    def ask(i: int) -> None:
        barrier.wait()
        try:
            request(
                engine, item_id, borrowers[i % 3], d + timedelta(days=i % 2), d + timedelta(days=2)
            )
            outcomes.append("booked")
        except sharing.SharingError:
            outcomes.append("refused")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert outcomes.count("booked") == 1 and outcomes.count("refused") == 11
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Loan)) == 1


def test_a_declined_or_cancelled_loan_frees_its_dates(engine, personas):
    owner, a, b = personas["resident"].id, personas["other_resident"].id, personas["merchant"].id
    item_id = make_item(engine, owner)
    d = today() + timedelta(days=2)
    first = request(engine, item_id, a, d, d + timedelta(days=1))
    move(engine, first, owner, "decline")
    second = request(engine, item_id, b, d, d + timedelta(days=1))
    move(engine, second, b, "cancel")
    request(engine, item_id, a, d, d + timedelta(days=1))


def test_only_the_owner_moves_a_loan_and_a_stranger_cannot_touch_it(engine, personas):
    owner, borrower, stranger = (
        personas["resident"],
        personas["other_resident"],
        personas["merchant"],
    )
    item_id = make_item(engine, owner.id)
    d = today() + timedelta(days=2)
    loan_id = request(engine, item_id, borrower.id, d, d + timedelta(days=1))
    assert borrower.client.post_form(f"/sharing/loans/{loan_id}/accept").status_code == 409
    assert stranger.client.post_form(f"/sharing/loans/{loan_id}/accept").status_code == 404
    assert stranger.client.get(f"/sharing/loans/{loan_id}").status_code == 404
    assert (
        stranger.client.post_form(
            f"/sharing/loans/{loan_id}/messages", {"body": "coucou"}
        ).status_code
        == 404
    )
    assert owner.client.post_form(f"/sharing/loans/{loan_id}/accept").status_code == 303
    assert (
        borrower.client.post_form(
            f"/sharing/loans/{loan_id}/messages", {"body": "Merci, à samedi !"}
        ).status_code
        == 303
    )
    assert "Merci, à samedi !" in owner.client.get(f"/sharing/loans/{loan_id}").text
    with read_session(engine) as s:
        assert s.get(Loan, loan_id).status == "accepted"
        assert s.scalar(select(func.count()).select_from(LoanMessage)) == 1


def test_an_extension_is_refused_when_a_reservation_follows_and_allowed_otherwise(engine, personas):
    owner, a, b = personas["resident"].id, personas["other_resident"].id, personas["merchant"].id
    item_id = make_item(engine, owner)
    d = today() + timedelta(days=1)
    loan = request(engine, item_id, a, d, d + timedelta(days=2))
    move(engine, loan, owner, "accept")
    move(engine, loan, owner, "pickup")
    following = request(engine, item_id, b, d + timedelta(days=4), d + timedelta(days=5))
    with (
        pytest.raises(sharing.SharingError, match="réservé l'objet juste après"),
        write_session(engine) as s,
    ):
        sharing.extend_loan(s, loan, a, d + timedelta(days=4))
    with write_session(engine) as s:
        sharing.extend_loan(s, loan, a, d + timedelta(days=3))  # up to the day before the next one
    move(engine, following, b, "cancel")
    with write_session(engine) as s:
        sharing.extend_loan(s, loan, a, d + timedelta(days=6))
    with read_session(engine) as s:
        assert s.get(Loan, loan).end_on == d + timedelta(days=6)


# --- reminders ------------------------------------------------------------------------------------


def _picked_up_loan(engine, owner: int, borrower: int, end: date) -> int:
    item_id = make_item(engine, owner)
    with write_session(engine) as s:
        loan = Loan(
            item_id=item_id,
            borrower_id=borrower,
            kind="loan",
            status="picked_up",
            start_on=end - timedelta(days=2),
            end_on=end,
        )
        s.add(loan)
        s.flush()
        return loan.id


def test_overdue_reminders_fire_once_however_often_the_sweep_runs(engine, settings, personas):
    owner, borrower = personas["resident"].id, personas["other_resident"].id
    loan_id = _picked_up_loan(engine, owner, borrower, today() - timedelta(days=2))
    ctx = JobContext(
        engine, "test-worker", ClaimedJob(0, sharing.SWEEP_KIND, {}, 1, 8), 60, settings
    )
    for _ in range(3):
        reminders.run_sweep(ctx, {})
    with write_session(engine) as s:
        assert reminders.send_reminders(s) == {"pickup_eve": 0, "due": 0, "overdue": 0}
    assert len(notices(engine, borrower, f"loan-overdue:{loan_id}")) == 1
    assert len(notices(engine, owner, f"loan-overdue:{loan_id}")) == 1
    # The sweep keeps itself scheduled, once per hour.
    with read_session(engine) as s:
        sweeps = s.scalars(select(Job).where(Job.kind == sharing.SWEEP_KIND)).all()
    assert len(sweeps) == 1 and sweeps[0].run_at > utcnow()


def test_the_day_before_pick_up_and_the_due_date_are_reminded_once_each(engine, personas):
    owner, borrower = personas["resident"].id, personas["other_resident"].id
    item_id = make_item(engine, owner)
    tomorrow = today() + timedelta(days=1)
    upcoming = request(engine, item_id, borrower, tomorrow, tomorrow + timedelta(days=1))
    move(engine, upcoming, owner, "accept")
    due = _picked_up_loan(engine, owner, borrower, today())
    with write_session(engine) as s:
        assert reminders.send_reminders(s) == {"pickup_eve": 1, "due": 1, "overdue": 0}
    with write_session(engine) as s:
        assert reminders.send_reminders(s) == {"pickup_eve": 0, "due": 0, "overdue": 0}
    assert len(notices(engine, borrower, f"loan-eve:{upcoming}")) == 1
    assert len(notices(engine, borrower, f"loan-due:{due}")) == 1
    # A returned loan is never reminded.
    move(engine, due, owner, "return")
    with write_session(engine) as s:
        later = utcnow() + timedelta(days=3)
        assert reminders.send_reminders(s, later)["overdue"] == 0


# --- ads ------------------------------------------------------------------------------------------


def test_a_lapsed_ad_disappears_from_search_and_comes_back_when_renewed(engine, resident, client):
    item_id = make_item(engine, resident.id, title="Tondeuse thermique", category="garden")
    assert "Tondeuse thermique" in client.get("/sharing?q=tondeuse").text
    with write_session(engine) as s:
        item = s.get(SharedItem, item_id)
        item.expires_at = utcnow() - timedelta(minutes=1)
    assert "Tondeuse thermique" not in client.get("/sharing?q=tondeuse").text
    assert "Tondeuse thermique" not in client.get("/sharing").text
    assert client.get(f"/sharing/items/{item_id}").status_code == 404
    with read_session(engine) as s:
        assert sharing.search(s, q="tondeuse") == []
    assert "Annonce expirée" in resident.client.get(f"/sharing/items/{item_id}").text
    assert resident.client.post_form(f"/sharing/items/{item_id}/renew").status_code == 303
    assert "Tondeuse thermique" in client.get("/sharing?q=tondeuse").text


def test_a_paused_ad_is_hidden_from_others_and_only_its_owner_pauses_it(engine, client, personas):
    owner, other = personas["resident"], personas["other_resident"]
    item_id = make_item(engine, owner.id, title="Raclette 8 personnes", category="kitchen")
    assert other.client.post_form(f"/sharing/items/{item_id}/pause").status_code == 404
    assert owner.client.post_form(f"/sharing/items/{item_id}/pause").status_code == 303
    assert "Raclette" not in client.get("/sharing").text
    assert other.client.get(f"/sharing/items/{item_id}").status_code == 404
    with pytest.raises(sharing.SharingError):
        request(engine, item_id, other.id, today() + timedelta(days=1), today() + timedelta(days=2))
    assert owner.client.post_form(f"/sharing/items/{item_id}/resume").status_code == 303
    assert "Raclette" in client.get("/sharing").text


def test_a_resident_publishes_an_ad_with_photos_and_a_fake_photo_changes_nothing(engine, resident):
    c = resident.client
    fields = {
        "_csrf_token": c.csrf_token(),
        "kind": "give",
        "title": "Poussette pliable",
        "category": "kids",
        "condition": "good",
        "commune_insee": "54580",
    }
    bad = c.post(
        "/sharing/items",
        data=fields,
        files={"photos": ("p.jpg", b"%PDF-1.7 not a photo", "image/jpeg")},
        follow_redirects=False,
    )
    assert bad.status_code == 400 and "pas une photo" in bad.text
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SharedItem)) == 0
    ok = c.post(
        "/sharing/items",
        data=fields,
        files=[
            ("photos", ("a.jpg", jpeg(), "image/jpeg")),
            ("photos", ("b.jpg", jpeg(), "image/jpeg")),
        ],
        follow_redirects=False,
    )
    assert ok.status_code == 303
    page = c.get(ok.headers["location"])
    assert page.status_code == 200 and page.text.count("/sharing/photos/") == 2
    with read_session(engine) as s:
        item = s.scalars(select(SharedItem)).one()
        assert item.expires_at - item.renewed_at == timedelta(days=30)
    photo_url = page.text.split('src="/sharing/photos/')[1].split('"')[0]
    photo = c.get(f"/sharing/photos/{photo_url}")
    assert (
        photo.headers["content-type"] == "image/jpeg"
        and photo.headers["x-content-type-options"] == "nosniff"
    )
    assert c.get("/sharing/photos/..%2F..%2Fsecret_key").status_code == 404


def test_a_gift_is_reserved_by_one_neighbour_and_handed_over(engine, personas):
    owner, a, b = personas["resident"], personas["other_resident"], personas["merchant"]
    item_id = make_item(engine, owner.id, kind="give", title="Lot de romans", category="books")
    assert (
        a.client.post_form(
            f"/sharing/items/{item_id}/reserve", {"message": "Je passe ce soir ?"}
        ).status_code
        == 303
    )
    assert b.client.post_form(f"/sharing/items/{item_id}/reserve").status_code == 409
    with read_session(engine) as s:
        loan = s.scalars(select(Loan)).one()
    assert owner.client.post_form(f"/sharing/loans/{loan.id}/handover").status_code == 303
    with read_session(engine) as s:
        assert s.get(SharedItem, item_id).status == "given"
        assert s.get(Loan, loan.id).status == "handed_over"
    assert "Lot de romans" not in b.client.get("/sharing").text


def test_a_looking_for_request_tells_the_neighbours_who_follow_that_category(engine, personas):
    seeker, gardener, cook = personas["resident"], personas["other_resident"], personas["merchant"]
    assert (
        gardener.client.post_form("/sharing/watches", {"category": ["garden", "tools"]}).status_code
        == 303
    )
    assert cook.client.post_form("/sharing/watches", {"category": "kitchen"}).status_code == 303
    assert seeker.client.post_form("/sharing/watches", {"category": "garden"}).status_code == 303
    response = seeker.client.post_form(
        "/sharing/wanted", {"title": "Taille-haie", "category": "garden", "commune_insee": "57038"}
    )
    assert response.status_code == 303
    wanted_id = int(response.headers["location"].rsplit("/", 1)[1])
    told = notices(engine, gardener.id, f"wanted:{wanted_id}")
    assert (
        len(told) == 1
        and told[0]["topic"] == "sharing"
        and told[0]["url"] == f"/sharing/wanted/{wanted_id}"
    )
    assert notices(engine, cook.id, "wanted:") == []
    assert notices(engine, seeker.id, "wanted:") == []  # not told of one's own request
    # Unticking every box unfollows.
    assert gardener.client.post_form("/sharing/watches", {}).status_code == 303
    with read_session(engine) as s:
        assert (
            s.scalars(select(CategoryWatch).where(CategoryWatch.user_id == gardener.id)).all() == []
        )


def test_an_abusive_ad_is_reported_once_per_person_and_staff_can_remove_it(engine, personas):
    owner, reporter, staff = personas["resident"], personas["other_resident"], personas["staff"]
    item_id = make_item(engine, owner.id, title="Objet douteux")
    assert (
        reporter.client.post_form(f"/sharing/items/{item_id}/report", {"reason": ""}).status_code
        == 400
    )
    for _ in range(2):
        assert (
            reporter.client.post_form(
                f"/sharing/items/{item_id}/report", {"reason": "Arnaque"}
            ).status_code
            == 303
        )
    with read_session(engine) as s:
        report = s.scalars(select(ItemReport)).one()
    assert reporter.client.get("/sharing/reports").status_code == 403
    assert "Objet douteux" in staff.client.get("/sharing/reports").text
    assert (
        staff.client.post_form(f"/sharing/reports/{report.id}/hide", {"reason": "fake"}).status_code
        == 303
    )
    assert reporter.client.get(f"/sharing/items/{item_id}").status_code == 404


def test_the_privacy_eraser_removes_ads_loans_and_messages_and_tells_the_other_party(
    engine, settings, personas
):
    from app import privacy

    owner, borrower = personas["resident"].id, personas["other_resident"].id
    item_id = make_item(engine, owner)
    d = today() + timedelta(days=2)
    loan = request(engine, item_id, borrower, d, d + timedelta(days=1))
    with write_session(engine) as s:
        sharing.post_message(s, loan, borrower, "Bonjour")
        exported, _files = privacy.export_user(s, owner, settings.resolved_media_dir)
        assert exported["sharing"]["items"][0]["title"] == "Perceuse à percussion"
        privacy.erase_user(s, owner, settings.resolved_media_dir)
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SharedItem)) == 0
        assert s.scalar(select(func.count()).select_from(Loan)) == 0
        assert s.scalar(select(func.count()).select_from(LoanMessage)) == 0
        told = [
            json.loads(j.payload) for j in s.scalars(select(Job).where(Job.kind == "notify.user"))
        ]
    assert any(t["user_id"] == borrower and "annulé" in t["title"] for t in told)


def test_the_owner_edits_an_ad_and_bad_input_changes_nothing(engine, personas):
    owner, other = personas["resident"], personas["other_resident"]
    item_id = make_item(engine, owner.id)
    fields = {
        "title": "Perceuse sans fil",
        "category": "tools",
        "condition": "fair",
        "commune_insee": "54580",
        "max_days": "5",
        "description": "Deux batteries.",
    }
    assert other.client.post_form(f"/sharing/items/{item_id}/save", fields).status_code == 404
    assert (
        owner.client.post_form(
            f"/sharing/items/{item_id}/save", {**fields, "category": "nope"}
        ).status_code
        == 400
    )
    with read_session(engine) as s:
        assert s.get(SharedItem, item_id).title == "Perceuse à percussion"
    assert owner.client.get(f"/sharing/items/{item_id}/edit").status_code == 200
    assert owner.client.post_form(f"/sharing/items/{item_id}/save", fields).status_code == 303
    with read_session(engine) as s:
        item = s.get(SharedItem, item_id)
        assert (item.title, item.kind, item.max_days, item.commune_insee) == (
            "Perceuse sans fil",
            "lend",
            5,
            "54580",
        )
