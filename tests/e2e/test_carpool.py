"""Carpool at phone size: a resident publishes a regular trip to Luxembourg, a neighbour finds it and
asks for a seat, the driver accepts; screenshots of the main pages go to /tmp/shots/carpool-*.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import PHONE, sign_in

SHOTS = Path("/tmp/shots")
pytestmark = pytest.mark.e2e


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"carpool-{name}.png"), full_page=True)


def test_publish_find_request_and_accept_a_regular_trip_at_phone_size(
    live_server, phone, browser, personas
):
    context, driver_page, log = phone
    sign_in(context, live_server, personas["resident"])
    base = live_server.url

    # The resident publishes a regular commute to Kirchberg.
    driver_page.goto(f"{base}/carpool/ads/new")
    driver_page.select_option("#from_place", "commune-57038")
    driver_page.select_option("#to_place", "kirchberg")
    assert driver_page.is_visible("text=Trajet régulier")
    assert not driver_page.is_visible("#return_time")  # one-off fields hidden for a regular trip
    shot(driver_page, "publish")
    driver_page.click("button:has-text('Publier')")
    driver_page.wait_for_url(re.compile(r".*/carpool/ads/\d+$"))
    assert "Audun-le-Tiche" in driver_page.inner_text(
        "h1"
    ) and "Kirchberg" in driver_page.inner_text("h1")
    shot(driver_page, "ad-owner")
    ad_url = driver_page.url

    # The neighbour searches from Russange and finds it.
    rider_context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="fr-FR"
    )
    try:
        sign_in(rider_context, live_server, personas["other_resident"])
        rider = rider_context.new_page()
        rider.goto(f"{base}/carpool")
        rider.select_option("#from_place", "commune-57602")
        rider.select_option("#to_place", "kirchberg")
        rider.check("input[name=frequency][value=regular]")
        assert rider.is_visible("text=Jours (trajets réguliers)") and not rider.is_visible("#date")
        rider.fill("#time", "07:30")
        shot(rider, "search")
        rider.click("button:has-text('Rechercher')")
        rider.wait_for_selector("#results")
        assert rider.locator(".cp-results li").count() == 1
        shot(rider, "results")
        rider.click(".cp-results a.cp-trip")
        rider.wait_for_url(ad_url)
        rider.fill("#message", "Bonjour, je vous attends devant l'église de Russange.")
        rider.click("button:has-text('Demander')")
        rider.wait_for_url(re.compile(r".*/carpool/bookings/\d+$"))
        assert "En attente" in rider.inner_text("main")
        assert "resident@eclor.test" not in rider.inner_text("main")
        shot(rider, "booking-pending")
        booking_url = rider.url

        # The driver accepts; both see each other's contact details.
        driver_page.goto(booking_url)
        driver_page.click("button:has-text('Accepter')")
        driver_page.wait_for_selector(".cp-contact")
        assert "voisin@eclor.test" in driver_page.inner_text(".cp-contact")
        shot(driver_page, "booking-accepted")
        rider.reload()
        assert "resident@eclor.test" in rider.inner_text(".cp-contact")
        rider.goto(f"{base}/carpool/mine")
        shot(rider, "mine")
        rider.goto(f"{base}/")
        assert "Luxembourg Kirchberg" in rider.inner_text(".cp-panel")
        shot(rider, "home-panel")
        assert rider.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        rider_context.close()
    assert log.errors == []


def test_the_staff_page_reads_well_at_phone_size(live_server, phone, personas):
    context, page, log = phone
    sign_in(context, live_server, personas["staff"])
    page.goto(f"{live_server.url}/carpool/staff")
    assert page.is_visible("text=Part transfrontalière")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "staff")
    assert log.errors == []
