"""Consultations: staff write and publish a question set; residents of the communes consulted
answer once (even with ten submissions at once); bad answers are refused with a message and
write nothing; results (charts, Borda points, moderated texts, places) only after the close and
equal to a hand count; CSV export and open data."""

from __future__ import annotations

import csv
import io
import threading
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from app import auth
from app.db import read_session, utcnow, write_session
from app.models.participation import Consultation, ConsultationAnswer, ConsultationResponse
from app.participation import consultations as logic
from app.participation import opendata
from tests.live_server import live
from tests.participation_helpers import AUDUN, AUMETZ, live_in

PARIS = ZoneInfo("Europe/Paris")  # the first territory's time zone

OPTIONS = "Voiture\nBus\nVélo"


def make_consultation(
    engine, *, communes: str = "", closed: bool = False, published: bool = True
) -> tuple[int, dict[str, int]]:
    """A consultation with one question of each kind; ids by kind."""
    now = utcnow()
    with write_session(engine) as s:
        row = Consultation(
            title="Vos trajets",
            communes=communes,
            opens_at=now - timedelta(days=10),
            closes_at=now + timedelta(days=10),
        )
        s.add(row)
        s.flush()
        ids = {}
        for kind, label, options, required in (
            ("single", "Comment allez-vous au travail ?", OPTIONS, True),
            ("multiple", "Où travaillez-vous ?", "Ici\nLuxembourg\nAilleurs", False),
            (
                "ranking",
                "Vos priorités",
                "Parking relais\nPistes cyclables\nBus le dimanche",
                False,
            ),
            ("text", "Une remarque ?", "", False),
            ("place", "Où une aire de covoiturage ?", "", False),
        ):
            ids[kind] = logic.add_question(
                s, row, kind=kind, label=label, options=options, required=required
            ).id
        row.published = published
        if closed:
            row.closes_at = now - timedelta(minutes=1)
        return row.id, ids


def answers_of(engine, consultation_id: int) -> list[ConsultationAnswer]:
    with read_session(engine) as s:
        return list(
            s.scalars(
                select(ConsultationAnswer)
                .join(
                    ConsultationResponse, ConsultationResponse.id == ConsultationAnswer.response_id
                )
                .where(ConsultationResponse.consultation_id == consultation_id)
            ).all()
        )


def responses_of(engine, consultation_id: int) -> list[ConsultationResponse]:
    with read_session(engine) as s:
        return list(
            s.scalars(
                select(ConsultationResponse).where(
                    ConsultationResponse.consultation_id == consultation_id
                )
            ).all()
        )


def close(engine, consultation_id: int) -> None:
    with write_session(engine) as s:
        s.get(Consultation, consultation_id).closes_at = utcnow() - timedelta(seconds=1)


# --- answering ----------------------------------------------------------------------------------


def test_a_resident_answers_every_kind_of_question_and_each_answer_is_kept(engine, resident):
    cid, q = make_consultation(engine)
    page = resident.client.get(f"/participation/consultations/{cid}")
    assert page.status_code == 200 and "Comment allez-vous au travail ?" in page.text
    r = resident.client.post_form(
        f"/participation/consultations/{cid}/answer",
        {
            f"q{q['single']}": "1",
            f"q{q['multiple']}": ["0", "1"],
            f"q{q['ranking']}_0": "2",
            f"q{q['ranking']}_1": "3",
            f"q{q['ranking']}_2": "1",
            f"q{q['text']}": "Un parking vélo à la gare, s’il vous plaît.",
            f"q{q['place']}_lat": "49.4721",
            f"q{q['place']}_lon": "5.9553",
        },
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?answered=1")
    stored = answers_of(engine, cid)
    by_q: dict[int, list[ConsultationAnswer]] = {}
    for a in stored:
        by_q.setdefault(a.question_id, []).append(a)
    assert [a.choice for a in by_q[q["single"]]] == [1]
    assert sorted(a.choice for a in by_q[q["multiple"]]) == [0, 1]
    assert sorted((a.rank, a.choice) for a in by_q[q["ranking"]]) == [(1, 2), (2, 0), (3, 1)]
    [text] = by_q[q["text"]]
    assert text.text_status == "pending" and text.text.startswith("Un parking vélo")
    [place] = by_q[q["place"]]
    assert (place.lat, place.lon) == (49.4721, 5.9553)
    [response] = responses_of(engine, cid)
    assert response.respondent == f"user:{resident.id}" and response.user_id == resident.id
    again = resident.client.get(f"/participation/consultations/{cid}")
    assert "Vous avez répondu" in again.text and "Envoyer ma réponse" not in again.text


def test_a_resident_answers_once_even_with_ten_submissions_at_once(engine, settings, resident):
    cid, q = make_consultation(engine)
    with write_session(engine) as s:
        token = auth.start_session(
            s, s.get(auth.User, resident.id), idle_minutes=60, absolute_days=1
        )
    statuses: list[int] = []
    with live(settings) as base:
        first = httpx.Client(base_url=base, cookies={auth.SESSION_COOKIE: token})
        first.get(f"/participation/consultations/{cid}")
        cookies = dict(first.cookies)
        first.close()
        barrier = threading.Barrier(10)

        def submit() -> None:
            with httpx.Client(base_url=base, cookies=cookies, timeout=60) as c:
                barrier.wait()
                r = c.post(
                    f"/participation/consultations/{cid}/answer",
                    data={"_csrf_token": cookies["csrftoken"], f"q{q['single']}": "0"},
                )
                statuses.append(r.status_code)

        threads = [threading.Thread(target=submit) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(statuses) == [303] + [400] * 9
    assert len(responses_of(engine, cid)) == 1
    assert [a.choice for a in answers_of(engine, cid)] == [0]


def test_bad_answers_are_refused_with_a_message_and_write_nothing(engine, resident):
    cid, q = make_consultation(engine)
    url = f"/participation/consultations/{cid}/answer"
    cases = [
        ({}, "Cette question demande une réponse."),
        ({f"q{q['single']}": "7"}, "Choix invalide."),
        ({f"q{q['single']}": ["0", "1"]}, "Un seul choix est possible."),
        ({f"q{q['single']}": "x"}, "Choix invalide."),
        (
            {f"q{q['single']}": "0", f"q{q['ranking']}_0": "1", f"q{q['ranking']}_1": "1"},
            "chacun à un rang différent",
        ),
        ({f"q{q['single']}": "0", f"q{q['ranking']}_0": "9"}, "Classement invalide."),
        ({f"q{q['single']}": "0", f"q{q['text']}": "x" * 2001}, "dépasse 2,000 caractères"),
        (
            {f"q{q['single']}": "0", f"q{q['place']}_lat": "48.85", f"q{q['place']}_lon": "2.35"},
            "Ce lieu n’est pas sur le territoire.",
        ),
        (
            {f"q{q['single']}": "0", f"q{q['place']}_lat": "nan", f"q{q['place']}_lon": "5.9"},
            "Ce lieu n’est pas sur le territoire.",
        ),
        ({f"q{q['single']}": "0", f"q{q['place']}_commune": "99999"}, "Choisissez une commune"),
    ]
    for data, message in cases:
        r = resident.client.post_form(url, data)
        assert r.status_code == 400, (data, r.status_code)
        assert message in r.text, (data, message)
        assert 'id="error-summary"' in r.text
    assert responses_of(engine, cid) == [] and answers_of(engine, cid) == []


def test_only_residents_of_the_communes_consulted_answer(engine, resident, personas):
    cid, q = make_consultation(engine, communes=AUDUN)
    neighbour = personas["other_resident"]
    live_in(engine, resident.id, AUDUN)
    live_in(engine, neighbour.id, AUMETZ)
    refused = neighbour.client.post_form(
        f"/participation/consultations/{cid}/answer", {f"q{q['single']}": "0"}
    )
    assert refused.status_code == 400
    assert "réservée aux habitants des communes concernées" in refused.text
    accepted = resident.client.post_form(
        f"/participation/consultations/{cid}/answer", {f"q{q['single']}": "0"}
    )
    assert accepted.status_code == 303
    assert [r.user_id for r in responses_of(engine, cid)] == [resident.id]


def test_a_resident_without_a_commune_declares_it_once_then_answers(engine, resident):
    cid, q = make_consultation(engine, communes=AUDUN)
    page = resident.client.get(f"/participation/consultations/{cid}")
    assert "Votre commune de résidence" in page.text and "Envoyer ma réponse" not in page.text
    r = resident.client.post_form(
        f"/participation/consultations/{cid}/commune", {"commune_insee": AUDUN}
    )
    assert r.status_code == 303
    again = resident.client.post_form(
        f"/participation/consultations/{cid}/commune", {"commune_insee": AUMETZ}
    )
    assert again.status_code == 400  # changing it is the town hall's job
    assert (
        resident.client.post_form(
            f"/participation/consultations/{cid}/answer", {f"q{q['single']}": "2"}
        ).status_code
        == 303
    )


def test_a_closed_consultation_an_upcoming_one_and_a_draft_take_no_answer(engine, resident, client):
    closed, q = make_consultation(engine, closed=True)
    r = resident.client.post_form(
        f"/participation/consultations/{closed}/answer", {f"q{q['single']}": "0"}
    )
    assert r.status_code == 400 and "n’est pas ouverte" in r.text
    upcoming, q3 = make_consultation(engine)
    with write_session(engine) as s:
        s.get(Consultation, upcoming).opens_at = utcnow() + timedelta(days=2)
    page = resident.client.get(f"/participation/consultations/{upcoming}")
    assert "La consultation ouvrira le" in page.text and "Envoyer ma réponse" not in page.text
    early = resident.client.post_form(
        f"/participation/consultations/{upcoming}/answer", {f"q{q3['single']}": "0"}
    )
    assert early.status_code == 400 and "n’est pas ouverte" in early.text
    draft, q2 = make_consultation(engine, published=False)
    assert client.get(f"/participation/consultations/{draft}").status_code == 404
    assert (
        resident.client.post_form(
            f"/participation/consultations/{draft}/answer", {f"q{q2['single']}": "0"}
        ).status_code
        == 404
    )
    assert responses_of(engine, closed) == responses_of(engine, upcoming) == []
    assert responses_of(engine, draft) == []


# --- results --------------------------------------------------------------------------------------

# 12 seeded responses, each (single choice, multiple choices, ranking of the 3 options, text).
SEEDED = [
    (0, [0], [0, 1, 2], "Plus de bus le samedi."),
    (0, [0, 1], [0, 2, 1], ""),
    (0, [1], [1, 0, 2], ""),
    (1, [1], [2, 0, 1], "Une piste vers Esch."),
    (1, [1, 2], [0, 1, 2], ""),
    (2, [], [1, 2, 0], ""),
    (0, [0], [0, 1, 2], ""),
    (0, [2], [], ""),
    (1, [1], [2, 1, 0], ""),
    (0, [0, 1, 2], [0, 2, 1], "Injure à masquer"),
    (2, [1], [1, 0, 2], ""),
    (0, [], [0, 1, 2], ""),
]


def seed_responses(engine, cid: int, q: dict[str, int]) -> None:
    with write_session(engine) as s:
        row = s.get(Consultation, cid)
        for n, (single, multiple, ranking, text) in enumerate(SEEDED):
            answers = [logic.Answer(q["single"], choices=[single])]
            if multiple:
                answers.append(logic.Answer(q["multiple"], choices=multiple))
            if ranking:
                answers.append(logic.Answer(q["ranking"], choices=ranking))
            if text:
                answers.append(logic.Answer(q["text"], text=text))
            if n < 3:
                answers.append(logic.Answer(q["place"], lat=49.47213, lon=5.95531))
            elif n < 5:
                answers.append(logic.Answer(q["place"], commune_insee=AUMETZ))
            logic.insert_response(s, row, answers, f"test:{n}", None, AUDUN if n % 2 else AUMETZ)


def test_results_are_published_only_after_the_close_and_match_a_hand_count(engine, client):
    cid, q = make_consultation(engine)
    seed_responses(engine, cid, q)
    before = client.get(f"/participation/consultations/{cid}/results")
    assert before.status_code == 403 and "à la clôture" in before.text
    assert client.get(f"/api/participation/consultations/{cid}/results").json()["closed"] is False
    close(engine, cid)
    data = client.get(f"/api/participation/consultations/{cid}/results").json()
    assert data["closed"] is True and data["responses"] == 12
    by_kind = {item["kind"]: item for item in data["questions"]}
    # Hand count of SEEDED: single 0 ×7, 1 ×3, 2 ×2.
    assert [(o["label"], o["count"]) for o in by_kind["single"]["options"]] == [
        ("Voiture", 7),
        ("Bus", 3),
        ("Vélo", 2),
    ]
    assert by_kind["single"]["respondents"] == 12
    # Multiple: 10 answered; option 0 ×4, 1 ×7, 2 ×3.
    assert by_kind["multiple"]["respondents"] == 10
    assert [o["count"] for o in by_kind["multiple"]["options"]] == [4, 7, 3]
    # Ranking, 11 rankings of 3: Borda points 3/2/1. Option 0: first ×6, second ×3, third ×2 →
    # 18+6+2 = 26; option 1: first ×3, second ×5, third ×3 → 9+10+3 = 22; option 2: first ×2,
    # second ×3, third ×6 → 6+6+6 = 18 (66 = 11 × 6 in all).
    ranking = by_kind["ranking"]
    assert ranking["respondents"] == 11
    assert [(o["label"], o["points"]) for o in ranking["options"]] == [
        ("Parking relais", 26),
        ("Pistes cyclables", 22),
        ("Bus le dimanche", 18),
    ]
    # Places: three points, rounded to 0.001°, and two answers by commune.
    place = by_kind["place"]
    assert place["places"] == [{"lat": 49.472, "lon": 5.955}] * 3
    assert place["by_commune"] == {AUMETZ: 2}
    # Free texts: none published before staff read them.
    assert by_kind["text"]["texts"] == []
    page = client.get(f"/participation/consultations/{cid}/results")
    assert page.status_code == 200
    assert '<svg class="bar"' in page.text and 'width="58.3"' in page.text  # 7 of 12 for Voiture


def test_free_texts_are_shown_only_once_staff_publish_them(engine, staff, client):
    cid, q = make_consultation(engine)
    seed_responses(engine, cid, q)
    close(engine, cid)
    manage = staff.client.get(f"/participation/staff/consultations/{cid}")
    assert "Injure à masquer" in manage.text and "Plus de bus le samedi." in manage.text
    pending = {a.text: a.id for a in answers_of(engine, cid) if a.text}
    for text, decision in (
        ("Plus de bus le samedi.", "published"),
        ("Injure à masquer", "hidden"),
    ):
        r = staff.client.post_form(
            f"/participation/staff/answers/{pending[text]}/moderate", {"decision": decision}
        )
        assert r.status_code == 303
    bad = staff.client.post_form(
        f"/participation/staff/answers/{pending['Une piste vers Esch.']}/moderate",
        {"decision": "delete"},
    )
    assert bad.status_code == 400 and "publier ou masquer" in bad.text
    page = client.get(f"/participation/consultations/{cid}/results").text
    api = client.get(f"/api/participation/consultations/{cid}/results").json()
    texts = next(i for i in api["questions"] if i["kind"] == "text")["texts"]
    assert texts == ["Plus de bus le samedi."]
    assert "Plus de bus le samedi." in page
    assert "Injure à masquer" not in page and "Une piste vers Esch." not in page


def test_staff_export_every_response_as_csv_without_a_name(engine, staff, resident):
    cid, q = make_consultation(engine)
    seed_responses(engine, cid, q)
    r = staff.client.get(f"/participation/staff/consultations/{cid}/responses.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["réponse", "date", "commune"] and len(header) == 8
    assert len(body) == 12
    first = body[0]
    assert first[3] == "Voiture" and first[4] == "Ici"
    assert first[5] == "Parking relais > Pistes cyclables > Bus le dimanche"
    assert first[6] == "[pending] Plus de bus le samedi." and first[7] == "49.472, 5.955"
    assert sum(1 for row in body if row[3] == "Voiture") == 7
    assert (
        resident.client.get(f"/participation/staff/consultations/{cid}/responses.csv").status_code
        == 403
    )


def test_the_open_data_rows_suppress_small_counts_and_carry_no_text(engine):
    cid, q = make_consultation(engine)
    with write_session(engine) as s:
        row = s.get(Consultation, cid)
        for n in range(13):
            logic.insert_response(
                s,
                row,
                [
                    logic.Answer(q["single"], choices=[0 if n < 11 else 1]),
                    logic.Answer(q["text"], text="Texte d’un habitant"),
                ],
                f"od:{n}",
                None,
                AUDUN,
            )
    with read_session(engine) as s:
        assert list(opendata.RESULTS.rows(s, "https://eclor.example")) == []  # still open
    close(engine, cid)
    with read_session(engine) as s:
        rows = list(opendata.RESULTS.rows(s, "https://eclor.example"))
    single = [r for r in rows if r[5] == "single"]
    assert [(r[6], r[7], r[9]) for r in single] == [
        ("Voiture", 11, False),
        ("Bus", None, True),
        ("Vélo", None, True),
    ]
    # The multiple-choice and ranking questions had no answer: under 11 respondents, all masked.
    assert all(r[7] is None and r[9] for r in rows if r[5] != "single")
    assert not any("Texte d’un habitant" in str(cell) for r in rows for cell in r)


# --- staff writing a consultation ------------------------------------------------------------------


def test_staff_create_a_consultation_add_questions_publish_it_and_it_then_stays_as_it_is(
    engine, staff, client
):
    first, last = date.today() - timedelta(days=1), date.today() + timedelta(days=20)
    bad = staff.client.post_form(
        "/participation/staff/consultations",
        {"title": "Marché", "first_day": last.isoformat(), "last_day": first.isoformat()},
    )
    assert bad.status_code == 400 and "La date de fin doit suivre" in bad.text
    r = staff.client.post_form(
        "/participation/staff/consultations",
        {
            "title": "Le marché du samedi",
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "communes": [AUDUN, AUMETZ],
        },
    )
    assert r.status_code == 303
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    with read_session(engine) as s:
        row = s.get(Consultation, cid)
        assert row.communes == f"{AUDUN},{AUMETZ}" and not row.published
        assert logic.days(row, PARIS) == (first, last)
    assert client.get(f"/participation/consultations/{cid}").status_code == 404  # a draft
    refused = staff.client.post_form(
        f"/participation/staff/consultations/{cid}/state", {"action": "publish"}
    )
    assert refused.status_code == 400 and "au moins une question" in refused.text
    for data, status in (
        ({"kind": "single", "label": "Le bon jour ?", "options": "Samedi"}, 400),
        ({"kind": "single", "label": "Le bon jour ?", "options": "Samedi\nsamedi"}, 400),
        ({"kind": "poll", "label": "Le bon jour ?", "options": "Samedi\nDimanche"}, 400),
        (
            {
                "kind": "single",
                "label": "Le bon jour ?",
                "options": "Samedi\nDimanche",
                "required": "1",
            },
            303,
        ),
    ):
        answer = staff.client.post_form(f"/participation/staff/consultations/{cid}/questions", data)
        assert answer.status_code == status, data
    assert (
        staff.client.post_form(
            f"/participation/staff/consultations/{cid}/state", {"action": "publish"}
        ).status_code
        == 303
    )
    assert client.get(f"/participation/consultations/{cid}").status_code == 200
    late = staff.client.post_form(
        f"/participation/staff/consultations/{cid}/questions",
        {"kind": "text", "label": "Autre chose ?"},
    )
    assert late.status_code == 400 and "ne change plus de questions" in late.text
    closing = staff.client.post_form(
        f"/participation/staff/consultations/{cid}/state", {"action": "close"}
    )
    assert closing.status_code == 303
    assert client.get(f"/participation/consultations/{cid}/results").status_code == 200
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ConsultationResponse)) == 0


def test_erasing_a_person_keeps_their_response_counted_but_unlinked_and_drops_their_text(
    engine, resident
):
    from app.participation import privacy

    cid, q = make_consultation(engine)
    resident.client.post_form(
        f"/participation/consultations/{cid}/answer",
        {f"q{q['single']}": "2", f"q{q['text']}": "Mon adresse est au 3 rue Foch."},
    )
    with read_session(engine) as s:
        exported, _files = privacy.export_person(s, resident.id, None)
    [response] = exported["consultation_responses"]
    assert {a.get("text") for a in response["answers"]} >= {"Mon adresse est au 3 rue Foch."}
    with write_session(engine) as s:
        privacy.erase_person(s, resident.id, None)
    [kept] = responses_of(engine, cid)
    assert kept.user_id is None and kept.respondent.startswith("erased:")
    assert [(a.choice, a.text) for a in answers_of(engine, cid)] == [(2, "")]


def test_the_results_map_shades_each_commune_by_its_count(engine, client):
    from app.geo import svg_paths
    from app.participation import maps

    # The projection keeps a square a square at this latitude, and puts north at the top.
    height, paths, labels = svg_paths(
        {
            "sq": [
                (49.5, 6.0),
                (49.5, 6.0 + 0.1 / 0.6494),
                (49.4, 6.0 + 0.1 / 0.6494),
                (49.4, 6.0),
                (49.5, 6.0),
            ]
        },
        width=108,
    )
    assert abs(height - 108) < 1 and paths["sq"].startswith("M4.0,4.0 ")
    assert abs(labels["sq"][0] - 54) < 0.5 and abs(labels["sq"][1] - 54) < 0.5
    with read_session(engine) as s:
        m = maps.commune_map(s, {AUDUN: 8, AUMETZ: 2})
    steps = {a.insee: (a.count, a.step) for a in m.areas}
    assert len(m.areas) == 8 and m.top == 8
    assert steps[AUDUN] == (8, 4) and steps[AUMETZ] == (2, 1) and steps["57097"] == (0, 0)
    cid, q = make_consultation(engine)
    seed_responses(engine, cid, q)
    close(engine, cid)
    page = client.get(f"/participation/consultations/{cid}/results").text
    assert page.count('<path class="area step-') == 8
    assert "Audun-le-Tiche : 6 réponses" in page and "Aumetz : 6 réponses" in page


def test_the_results_of_a_closed_budget_are_open_data_as_proclaimed(engine):
    from app.models.participation import Budget
    from app.participation import budgets
    from tests.participation_helpers import make_budget, set_phase

    budget_id, (garden, benches, cycle, books) = make_budget(engine, envelope=60_000)
    with write_session(engine) as s:
        for n, pick in enumerate([[garden, books], [garden], [cycle], [benches, books]]):
            budgets.cast(s, budgets.Vote(budget_id, pick, f"t:{n}", AUDUN))
    with read_session(engine) as s:
        assert list(opendata.BUDGETS.rows(s, "https://eclor.example")) == []  # vote not closed
    set_phase(engine, budget_id, "results")
    with read_session(engine) as s:
        rows = list(opendata.BUDGETS.rows(s, "https://eclor.example"))
        assert s.get(Budget, budget_id).phase == "results"
    # Garden 2 votes, books 2 (cheaper: ranked above), cycle 1, benches 1 (cheaper than cycle):
    # funded in that order while the 60,000 € last: books 3,500 + garden 18,000 + benches 24,000.
    assert [(r[5], r[6], r[10], r[11]) for r in rows] == [
        (1, "Boîte à livres", 2, True),
        (2, "Jardin partagé", 2, True),
        (3, "Bancs place du Marché", 1, True),
        (4, "Piste cyclable", 1, False),
    ]


def test_an_id_past_postgresqls_integer_is_a_404_not_a_500(client):
    for path in (
        "/api/participation/budgets/425559276111/results",
        "/api/participation/consultations/425559276111/results",
        "/api/participation/proposals/425559276111",
        "/participation/budgets/425559276111",
        "/participation/consultations/425559276111",
        "/participation/proposals/425559276111",
    ):
        assert client.get(path).status_code == 404, path
