"""Numbers in URLs and forms are ASCII digits: "²" or "٣" never reach int() and never give a 500."""

from __future__ import annotations

from app.numbers import is_ascii_digits, parse_int


def test_a_superscript_two_in_the_report_search_is_just_text(client):
    r = client.get("/reports", params={"q": "²"})
    assert r.status_code == 200


def test_an_alert_numbered_with_a_superscript_two_is_not_found(client):
    assert client.get("/alerts/²").status_code == 404
    assert client.get("/alerts/².cap").status_code == 404


def test_an_open311_request_numbered_with_a_superscript_two_is_not_found_in_open311_format(client):
    r = client.get("/open311/v2/requests/².json")
    assert r.status_code == 404
    assert isinstance(r.json(), list) and r.json()[0]["code"] == 404
    r = client.get("/open311/v2/requests/².xml")
    assert r.status_code == 404 and r.text.startswith("<?xml")


def test_numbers_are_read_from_ascii_digits_only():
    assert parse_int("42") == 42 and parse_int(" -7 ") == -7
    for text in ("²", "٣", "１２", "", "-", "4 2", "1e3", None, 12):
        assert parse_int(text) is None, text
    assert not is_ascii_digits("1" * 19) and is_ascii_digits("1" * 18)
