"""Participatory budget: one vote per resident (even at once), residents only, the envelope,
one-time codes, helpers, paper ballots, results that match a hand count, works' progress."""

from __future__ import annotations

import random
import threading
from datetime import date

import httpx

from app import auth
from app.db import read_session, write_session
from app.models.participation import Budget, VoteCode
from app.participation import budgets as logic
from tests.live_server import live
from tests.participation_helpers import (
    AUDUN,
    AUMETZ,
    ballots,
    choices,
    live_in,
    make_budget,
    set_phase,
)


def vote_form(client, budget_id: int, projects: list[int], **extra):
    return client.post_form(
        f"/participation/budgets/{budget_id}/vote",
        {"project": [str(p) for p in projects], "confirm": "1", **extra},
    )


def issue(engine, budget_id: int, voter: str, insee: str | None = AUDUN) -> str:
    with write_session(engine) as s:
        return logic.issue_code(s, s.get(Budget, budget_id), voter=voter, commune_insee=insee)


# --- one vote per resident --------------------------------------------------------------------


def test_a_resident_votes_once_even_with_twenty_submissions_at_once(engine, settings, resident):
    budget_id, (garden, benches, *_) = make_budget(engine)
    live_in(engine, resident.id, AUDUN)
    with write_session(engine) as s:
        token = auth.start_session(
            s, s.get(auth.User, resident.id), idle_minutes=60, absolute_days=1
        )
    statuses: list[int] = []
    with live(settings) as base:
        first = httpx.Client(base_url=base, cookies={auth.SESSION_COOKIE: token})
        first.get(f"/participation/budgets/{budget_id}")
        cookies = dict(first.cookies)
        first.close()
        barrier = threading.Barrier(20)

        def submit() -> None:
            with httpx.Client(base_url=base, cookies=cookies, timeout=60) as c:
                barrier.wait()
                r = c.post(
                    f"/participation/budgets/{budget_id}/vote",
                    data={
                        "_csrf_token": cookies["csrftoken"],
                        "project": [str(garden), str(benches)],
                        "confirm": "1",
                    },
                )
                statuses.append(r.status_code)

        threads = [threading.Thread(target=submit) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(statuses) == [303] + [400] * 19  # one recorded, 19 told they voted already
    cast = ballots(engine, budget_id)
    assert [(b.voter, b.user_id, b.channel) for b in cast] == [
        (f"user:{resident.id}", resident.id, "online")
    ]
    assert sorted(p for _, _, p in choices(engine, budget_id)) == sorted([garden, benches])


def test_the_unique_constraint_refuses_a_second_ballot_of_one_voter(engine):
    budget_id, (garden, *_) = make_budget(engine)
    with write_session(engine) as s:
        logic.cast(s, logic.Vote(budget_id, [garden], "user:999", AUDUN))
    # Straight into the table, past every check: the database itself refuses it.
    import pytest
    from sqlalchemy.exc import IntegrityError

    from app.models.participation import Ballot

    with pytest.raises(IntegrityError):
        with write_session(engine) as s:
            s.add(Ballot(budget_id=budget_id, voter="user:999", commune_insee=AUDUN))
            s.flush()


def test_a_one_time_code_votes_once(engine, client):
    budget_id, (garden, benches, *_) = make_budget(engine)
    code = issue(engine, budget_id, logic.person_voter("Jeanne Martin", date(1950, 3, 2), AUDUN))
    first = vote_form(client, budget_id, [garden], code=code.lower())  # typed in lower case
    assert first.status_code == 303
    again = vote_form(client, budget_id, [benches], code=code)
    assert again.status_code == 400
    assert "déjà servi" in again.text
    cast = ballots(engine, budget_id)
    assert [b.channel for b in cast] == ["code"]
    assert [p for _, _, p in choices(engine, budget_id)] == [garden]
    with read_session(engine) as s:
        assert s.get(VoteCode, logic._code_digest(code)).used_at is not None


def test_a_one_time_code_used_twice_at_once_counts_once(engine, settings):
    budget_id, (garden, *_) = make_budget(engine)
    code = issue(engine, budget_id, logic.person_voter("Paul Weber", date(1962, 7, 14), AUDUN))
    statuses: list[int] = []
    with live(settings) as base:
        with httpx.Client(base_url=base) as c:
            c.get(f"/participation/budgets/{budget_id}")
            cookies = dict(c.cookies)
        barrier = threading.Barrier(2)

        def submit() -> None:
            with httpx.Client(base_url=base, cookies=cookies, timeout=60) as c:
                barrier.wait()
                r = c.post(
                    f"/participation/budgets/{budget_id}/vote",
                    data={
                        "_csrf_token": cookies["csrftoken"],
                        "project": str(garden),
                        "code": code,
                        "confirm": "1",
                    },
                )
                statuses.append(r.status_code)

        threads = [threading.Thread(target=submit) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(statuses) == [303, 400]
    assert len(ballots(engine, budget_id)) == 1


def test_a_code_and_a_signed_in_vote_of_one_person_are_one_vote(engine, resident):
    budget_id, (garden, *_) = make_budget(engine)
    live_in(engine, resident.id, AUDUN)
    code = issue(engine, budget_id, logic.user_voter(resident.id))
    assert vote_form(resident.client, budget_id, [garden]).status_code == 303
    r = resident.client.post_form(
        f"/participation/budgets/{budget_id}/vote",
        {"project": str(garden), "confirm": "1", "code": code},
    )
    assert r.status_code == 400
    assert len(ballots(engine, budget_id)) == 1


# --- residents only ----------------------------------------------------------------------------


def test_a_non_resident_of_the_commune_cannot_vote_in_its_budget(engine, resident, personas):
    budget_id, (garden, *_) = make_budget(engine, commune=AUDUN)
    live_in(engine, resident.id, AUMETZ)
    r = vote_form(resident.client, budget_id, [garden])
    assert r.status_code == 400
    assert "réservé aux habitants" in r.text
    other = personas["other_resident"]  # no commune declared: refused too
    assert vote_form(other.client, budget_id, [garden]).status_code == 400
    # Nor with a code issued for another commune, nor through a helper for a resident of Aumetz.
    with write_session(engine) as s:
        budget = s.get(Budget, budget_id)
        try:
            logic.issue_code(s, budget, voter="person:x", commune_insee=AUMETZ)
            raise AssertionError("a code was issued to a non-resident")
        except logic.VoteError:
            pass
    assert ballots(engine, budget_id) == []
    # A resident of Aumetz votes in a budget of the whole territory.
    territory_id, (t_first, *_) = make_budget(engine, commune=None)
    assert vote_form(resident.client, territory_id, [t_first]).status_code == 303


def test_a_resident_declares_their_commune_once(engine, resident):
    budget_id, _ids = make_budget(engine)
    r = resident.client.post_form(
        f"/participation/budgets/{budget_id}/commune", {"commune_insee": AUDUN}
    )
    assert r.status_code == 303
    again = resident.client.post_form(
        f"/participation/budgets/{budget_id}/commune", {"commune_insee": AUMETZ}
    )
    assert again.status_code == 400
    with read_session(engine) as s:
        assert s.get(auth.User, resident.id).commune_insee == AUDUN


# --- the basket --------------------------------------------------------------------------------


def test_spend_the_envelope_refuses_a_basket_over_budget(engine, resident):
    budget_id, (garden, benches, cycle, books) = make_budget(engine, envelope=60_000)
    live_in(engine, resident.id, AUDUN)
    over = vote_form(resident.client, budget_id, [garden, benches, cycle])  # 87 000 €
    assert over.status_code == 400
    assert "dépasse l’enveloppe" in over.text
    # The confirmation step refuses it too, before anything is asked.
    check = resident.client.post_form(
        f"/participation/budgets/{budget_id}/vote", {"project": [str(cycle), str(benches)]}
    )
    assert check.status_code == 400
    assert ballots(engine, budget_id) == []
    ok = vote_form(resident.client, budget_id, [garden, benches, books])  # 45 500 €
    assert ok.status_code == 303
    assert [b.total for b in ballots(engine, budget_id)] == [45_500]


def test_pick_n_refuses_more_than_n_projects(engine, resident):
    budget_id, (garden, benches, cycle, _books) = make_budget(
        engine, mode="pick", pick_n=2, envelope=1_000_000
    )
    live_in(engine, resident.id, AUDUN)
    r = vote_form(resident.client, budget_id, [garden, benches, cycle])
    assert r.status_code == 400
    assert "au plus 2" in r.text
    assert vote_form(resident.client, budget_id, [garden, cycle]).status_code == 303


def test_bad_choices_are_refused_with_a_message(engine, resident):
    budget_id, (garden, *_) = make_budget(engine)
    other_id, (foreign, *_) = make_budget(engine)
    live_in(engine, resident.id, AUDUN)
    for projects in ([], ["abc"], [str(foreign)], ["99999999"]):
        r = resident.client.post_form(
            f"/participation/budgets/{budget_id}/vote", {"project": projects, "confirm": "1"}
        )
        assert r.status_code == 400, projects
        assert "field-error" in r.text
    assert ballots(engine, budget_id) == []


def test_no_vote_outside_the_vote_phase(engine, resident):
    budget_id, (garden, *_) = make_budget(engine, phase="review")
    live_in(engine, resident.id, AUDUN)
    r = vote_form(resident.client, budget_id, [garden])
    assert r.status_code == 400
    assert ballots(engine, budget_id) == []


# --- helpers and paper ballots -----------------------------------------------------------------


def test_a_helpers_vote_records_the_helper(engine, staff):
    budget_id, (garden, benches, *_) = make_budget(engine)
    person = {"name": "Marie Schmit", "birth_date": "1948-11-05", "commune_insee": AUDUN}
    r = staff.client.post_form(
        f"/participation/staff/budgets/{budget_id}/helper",
        {**person, "project": [str(garden), str(benches)]},
    )
    assert r.status_code == 200, r.text
    (ballot,) = ballots(engine, budget_id)
    assert ballot.channel == "helper"
    assert ballot.helper_id == staff.id
    assert ballot.user_id is None
    assert ballot.voter == logic.person_voter("Marie Schmit", date(1948, 11, 5), AUDUN)
    # The same resident cannot vote again through the helper, nor with a town-hall code.
    again = staff.client.post_form(
        f"/participation/staff/budgets/{budget_id}/helper",
        {**person, "name": "marie  SCHMIT", "project": str(garden)},
    )
    assert again.status_code == 400
    code = staff.client.post_form(f"/participation/staff/budgets/{budget_id}/codes", person)
    assert code.status_code == 400
    assert len(ballots(engine, budget_id)) == 1


def test_town_hall_code_then_vote_without_an_account(engine, staff, client):
    budget_id, (garden, *_) = make_budget(engine)
    r = staff.client.post_form(
        f"/participation/staff/budgets/{budget_id}/codes",
        {"name": "Luc Henry", "birth_date": "1990-01-31", "commune_insee": AUDUN},
    )
    assert r.status_code == 200
    code = r.text.split('id="issued-code">')[1].split("<")[0]
    assert vote_form(client, budget_id, [garden], code=code).status_code == 303
    (ballot,) = ballots(engine, budget_id)
    assert (ballot.channel, ballot.commune_insee) == ("code", AUDUN)


def test_e_mailed_code_goes_only_to_a_residents_account(engine, client, resident, settings):
    budget_id, (garden, *_) = make_budget(engine)
    live_in(engine, resident.id, AUDUN)
    for email in (resident.email, "inconnu@eclor.test"):
        r = client.post_form(f"/participation/budgets/{budget_id}/code", {"email": email})
        assert r.status_code == 303
    with read_session(engine) as s:
        codes = s.scalars(__import__("sqlalchemy").select(VoteCode)).all()
    assert [(c.voter, c.user_id) for c in codes] == [(f"user:{resident.id}", resident.id)]


# --- results -----------------------------------------------------------------------------------


def test_results_match_a_hand_count_of_the_seeded_votes(engine, staff, client):
    budget_id, ids = make_budget(engine, envelope=50_000)
    costs = dict(zip(ids, [18_000, 24_000, 45_000, 3_500], strict=True))
    rng = random.Random(20)
    seeded: list[tuple[str, list[int]]] = []
    with write_session(engine) as s:
        for n in range(60):
            pick = [i for i in ids if rng.random() < 0.5]
            while sum(costs[i] for i in pick) > 50_000:
                pick.pop()
            if not pick:
                continue
            channel = "paper" if n % 4 == 0 else "helper"
            voter = logic.paper_voter() if channel == "paper" else f"person:{n}"
            logic.cast(s, logic.Vote(budget_id, pick, voter, AUDUN, channel=channel))
            seeded.append((channel, pick))
    # The hand count, from the list of what was cast.
    hand = {i: {"online": 0, "paper": 0} for i in ids}
    for channel, pick in seeded:
        for i in pick:
            hand[i]["paper" if channel == "paper" else "online"] += 1
    assert client.get(f"/participation/budgets/{budget_id}/results").status_code == 403
    set_phase(engine, budget_id, "results")
    api = client.get(f"/api/participation/budgets/{budget_id}/results").json()
    got = {
        p["id"]: {"online": p["votes_online"], "paper": p["votes_paper"]} for p in api["projects"]
    }
    assert got == hand
    assert api["ballots_by_channel"] == {
        "helper": sum(1 for c, _ in seeded if c == "helper"),
        "paper": sum(1 for c, _ in seeded if c == "paper"),
    }
    # Winners: by votes, each one that still fits in the envelope.
    ranked = sorted(ids, key=lambda i: (-(hand[i]["online"] + hand[i]["paper"]), costs[i], i))
    left, won = 50_000, set()
    for i in ranked:
        if costs[i] <= left:
            won.add(i)
            left -= costs[i]
    assert {p["id"] for p in api["projects"] if p["selected"]} == won
    page = client.get(f"/participation/budgets/{budget_id}/results")
    assert page.status_code == 200
    for i in ids:
        assert f"<td><strong>{hand[i]['online'] + hand[i]['paper']}</strong></td>" in page.text


def test_a_winning_project_shows_the_progress_of_its_work_orders(engine, staff, client):
    from app.models.maintenance import WorkOrder

    budget_id, (garden, *_) = make_budget(engine)
    with write_session(engine) as s:
        logic.cast(s, logic.Vote(budget_id, [garden], "person:1", AUDUN, channel="helper"))
        order = WorkOrder(
            title="Clôture du jardin partagé", team="espaces_verts", state="in_progress"
        )
        s.add(order)
        s.flush()
        order_id = order.id
    set_phase(engine, budget_id, "works")
    r = staff.client.post_form(
        f"/participation/staff/projects/{garden}/orders", {"order_id": str(order_id)}
    )
    assert r.status_code == 303
    bad = staff.client.post_form(
        f"/participation/staff/projects/{garden}/orders", {"order_id": "987654"}
    )
    assert bad.status_code == 400
    page = client.get(f"/participation/budgets/{budget_id}/results")
    assert "Clôture du jardin partagé" in page.text
    assert "En cours" in page.text
    with write_session(engine) as s:
        s.get(WorkOrder, order_id).state = "done"
    assert "Terminé" in client.get(f"/participation/budgets/{budget_id}/results").text


def test_residents_pages_answer(engine, client, resident):
    budget_id, _ids = make_budget(engine)
    assert "Budget participatif 2027" in client.get("/participation").text
    page = client.get(f"/participation/budgets/{budget_id}")
    assert page.status_code == 200
    assert 'name="code"' in page.text  # a visitor votes with a code
    assert "Budget participatif 2027" in resident.client.get("/").text  # home panel
    assert client.get("/participation/budgets/999999").status_code == 404


# --- ideas ---------------------------------------------------------------------------------------


def test_residents_of_the_commune_propose_ideas_while_the_budget_collects_them(
    engine, resident, personas, staff
):
    from app.models.participation import BudgetProject
    from sqlalchemy import select

    budget_id, _projects = make_budget(engine, phase="ideas", projects=[])
    neighbour = personas["other_resident"]
    live_in(engine, resident.id, AUDUN)
    live_in(engine, neighbour.id, AUMETZ)
    url = f"/participation/budgets/{budget_id}/ideas"
    page = resident.client.get(f"/participation/budgets/{budget_id}")
    assert "Proposez une idée de projet" in page.text
    idea = {
        "title": "Un jardin partagé derrière l’école",
        "description": "Des bacs pour les familles et la classe de CE2.",
        "cost": "12000",
    }
    r = resident.client.post_form(url, idea)
    assert r.status_code == 303 and r.headers["location"].endswith("?proposed=1#ideas")
    refused = neighbour.client.post_form(url, idea)
    assert refused.status_code == 400 and "habitants de la commune" in refused.text
    for bad, message in (
        ({**idea, "title": "Eh"}, "trop court"),
        ({**idea, "description": ""}, "obligatoire"),
        ({**idea, "cost": "-5"}, "trop petite"),
        ({**idea, "cost": "beaucoup"}, "nombre entier"),
    ):
        answer = resident.client.post_form(url, bad)
        assert answer.status_code == 400 and message in answer.text, bad
    with read_session(engine) as s:
        ideas = s.scalars(select(BudgetProject).where(BudgetProject.budget_id == budget_id)).all()
    assert [(p.title, p.cost, p.status, p.proposer_id, p.commune_insee) for p in ideas] == [
        ("Un jardin partagé derrière l’école", 12_000, "proposed", resident.id, AUDUN)
    ]
    # Staff see it for review; once the budget moves on, no more ideas.
    assert (
        "Un jardin partagé derrière l’école"
        in staff.client.get(f"/participation/staff/budgets/{budget_id}").text
    )
    set_phase(engine, budget_id, "review")
    late = resident.client.post_form(url, {**idea, "title": "Une autre idée encore"})
    assert late.status_code == 400 and "ne recueille plus d’idées" in late.text


def test_a_resident_proposes_five_ideas_at_most_in_one_budget(engine, resident):
    budget_id, _projects = make_budget(engine, phase="ideas", projects=[])
    live_in(engine, resident.id, AUDUN)
    statuses = [
        resident.client.post_form(
            f"/participation/budgets/{budget_id}/ideas",
            {"title": f"Idée numéro {n}", "description": "Une description suffisante."},
        ).status_code
        for n in range(6)
    ]
    assert statuses == [303] * 5 + [400]
