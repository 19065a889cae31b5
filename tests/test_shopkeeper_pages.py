"""What a shopkeeper sees: a way to their shop from the home page, and Moselle's own public holidays."""

from __future__ import annotations

from tests.test_shops import make_shop


def test_a_shopkeepers_home_page_links_to_their_shop(engine, merchant, resident):
    shop = make_shop(engine, merchant.id)
    home = merchant.client.get("/").text
    assert 'href="/shops/manage"' in home and 'href="/shops/manage/orders"' in home
    assert f'href="/shops/{shop["slug"]}"' in home
    assert 'href="/shops/manage"' not in resident.client.get("/").text


def test_the_hours_page_of_a_shop_in_moselle_lists_good_friday_and_26_december(engine, merchant):
    make_shop(engine, merchant.id, commune="57038")  # Audun-le-Tiche, Moselle
    page = merchant.client.get("/shops/manage/hours").text
    upcoming = page.split("Prochains jours fériés", 1)[1]
    assert "Vendredi saint" in upcoming or "vendredi saint" in upcoming.lower()
    assert "26 déc." in upcoming


def test_the_hours_page_of_a_shop_in_meurthe_et_moselle_has_no_moselle_holidays(engine, merchant):
    make_shop(engine, merchant.id, commune="54580")  # Villerupt
    upcoming = merchant.client.get("/shops/manage/hours").text.split("Prochains jours fériés", 1)[1]
    assert "Vendredi saint" not in upcoming and "26 déc." not in upcoming
