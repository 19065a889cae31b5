"""Access rules of open data: the catalogue, files and error reports for everyone; staff control for staff."""

from __future__ import annotations

from typing import Any

from tests.access import AccessContext, Row, roles_only, same_for_all

STAFF = ("staff", "admin")


def an_issue(ctx: AccessContext) -> dict[str, Any]:
    from app.db import write_session
    from app.models.opendata import OpenDataIssue

    with write_session(ctx.engine) as session:
        issue = OpenDataIssue(
            slug="signalements", body="La colonne commune est vide pour deux lignes."
        )
        session.add(issue)
        session.flush()
        return {"issue_id": issue.id}


ROWS = [
    Row("GET", "/data", same_for_all(200)),
    Row("GET", "/data/catalog.jsonld", same_for_all(200)),
    Row("GET", "/data/catalog.ttl", same_for_all(200)),
    Row("GET", "/data/catalog.rdf", same_for_all(200)),
    Row("GET", "/data/signalements", same_for_all(200), route="/data/{name}"),
    Row(
        "GET",
        "/data/commerces/live",
        same_for_all(404),
        route="/data/{slug}/live",
        notes="a dataset that does not change has no stream; streams themselves are tested in test_opendata_live",
    ),
    Row(
        "POST",
        "/data/signalements/issues",
        same_for_all(400),
        route="/data/{slug}/issues",
        data={"body": "court"},
    ),
    Row("GET", "/staff/data", roles_only(STAFF)),
    Row(
        "POST",
        "/staff/data/signalements/publish",
        roles_only(STAFF, 303, anonymous=401),
        route="/staff/data/{slug}/publish",
        data={"published": "1"},
    ),
    Row("POST", "/staff/data/upload", roles_only(STAFF, 400, anonymous=401), data={"slug": "x"}),
    Row(
        "POST",
        "/staff/data/issues/{issue_id}/answer",
        roles_only(STAFF, 303, anonymous=401),
        setup=an_issue,
        data={"answer": "Corrigé, merci."},
    ),
]
