"""Pages made by sync handlers are rendered in their worker thread, never on the event loop, and in
the request's language: the language travels with the request, not with the thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from app import i18n, templating

FRENCH_ONLY = ("<h1>Covoiturage</h1>", ">Rechercher<")


@pytest.fixture
def renders(monkeypatch) -> list[dict[str, Any]]:
    """Every page rendered through ``render_body``: where, in which language, and what."""
    seen: list[dict[str, Any]] = []
    real = templating.render_body

    def watched(request: Any, template: Any) -> bytes:
        body = real(request, template)
        seen.append(
            {
                "name": template.template_name,
                "on_loop": templating.on_event_loop(),
                "request": request,
                "template": template,
                "body": body.decode(),
            }
        )
        return body

    monkeypatch.setattr(templating, "render_body", watched)
    return seen


def test_an_english_request_to_a_carpool_page_is_rendered_off_the_loop_in_english(client, renders):
    client.cookies.set("lang", "en", domain="testserver.local")
    r = client.get("/carpool")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="en"' in r.text and ">Search<" in r.text
    assert not [french for french in FRENCH_ONLY if french in r.text]
    (render,) = [x for x in renders if x["name"] == "carpool/index.html"]
    assert render["on_loop"] is False  # the handler's worker thread rendered it
    assert render["body"] == r.text  # and what was rendered there is what was sent


def test_a_french_request_stays_french(client, renders):
    r = client.get("/carpool", headers={"accept-language": "fr-FR,fr;q=0.9"})
    assert '<html lang="fr"' in r.text and "<h1>Covoiturage</h1>" in r.text


def test_the_language_is_carried_into_a_thread_that_knows_nothing_of_the_request(client, renders):
    client.cookies.set("lang", "en", domain="testserver.local")
    client.get("/carpool")
    (render,) = [x for x in renders if x["name"] == "carpool/index.html"]
    out: dict[str, Any] = {}

    def bare_thread() -> None:  # a new thread starts with no context variable set: French
        out["locale_there"] = i18n.current_locale.get()
        out["body"] = templating.render_body(render["request"], render["template"]).decode()

    thread = threading.Thread(target=bare_thread)
    thread.start()
    thread.join(30)
    assert out["locale_there"] == "fr"
    assert ">Search<" in out["body"] and "<h1>Covoiturage</h1>" not in out["body"]
    assert i18n.current_locale.get() == "fr"  # nothing leaks into this thread either
