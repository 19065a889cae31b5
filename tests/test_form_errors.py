"""Long forms that come back with errors carry a summary at the top with a link to each field."""

from __future__ import annotations

import re


def summary_links(html: str) -> list[str]:
    block = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    return re.findall(r'href="#([^"]+)"', block)


def test_the_report_form_comes_back_with_a_summary_linking_to_each_field_in_error(resident):
    r = resident.client.post(
        "/reports/new",
        data={
            "_csrf_token": resident.client.csrf_token(),
            "lat": "",
            "lon": "",
            "description": "x",
        },
        files={"photos": ("", b"", "application/octet-stream")},
    )
    assert r.status_code == 400
    links = summary_links(r.text)
    assert "photos" in links and "category-first" in links
    assert 'id="category-first"' in r.text and 'id="photos"' in r.text
    assert 'role="alert"' in r.text.split('class="error-summary"', 1)[1][:100]


def test_the_carpool_and_sharing_forms_use_the_same_summary(resident):
    r = resident.client.post_form("/carpool/ads", {"role": "", "frequency": "once"})
    assert r.status_code == 400 and summary_links(r.text)
    r = resident.client.post_form("/sharing/items", {"title": ""})
    assert r.status_code == 400 and summary_links(r.text)
