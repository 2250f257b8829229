"""The wall display and the ED board in headless Chromium; screenshots go to test-artifacts/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.e2e.pages import wait_until

VIEWPORT = {"width": 1920, "height": 1080}


def signed_in(browser: Any, screens: Any, token: str, path: str) -> Any:
    """A page signed in through the login form (the token never appears in a URL)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(screens.url + path)
    assert "/login" in page.url
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(screens.url + path)
    assert token not in page.url
    return page


def unit_position(page: Any, unit: str) -> tuple[float, float]:
    node = page.locator(f'#map g.unit[data-unit-id="{unit}"]')
    return float(node.get_attribute("data-x")), float(node.get_attribute("data-y"))


def test_wall_display_units_move_and_clocks_count(
    browser: Any, screens: Any, artifacts: Path
) -> None:
    kit = screens.kit
    now_s = time.time() - kit.t0.timestamp()

    def scene(board: Any) -> None:
        board.apply_event(kit.call("I-RED", now_s - 240, triage_level=1, pathway_hint="chest_pain"))
        board.apply_event(kit.call("I-ENR", now_s - 230, triage_level=2, pathway_hint="trauma"))
        board.apply_event(kit.call("I-AMB", now_s - 150, triage_level=2, pathway_hint="stroke"))
        board.apply_event(kit.call("I-NEW", now_s - 10, triage_level=3))
        board.apply_event(kit.unit("unit.assigned", "A01", "I-ENR", now_s - 200))
        board.apply_event(kit.unit("unit.enroute", "A01", "I-ENR", now_s - 190))
        board.apply_event(kit.gps("A01", now_s - 5, 30.94, 117.03))
        board.apply_event(kit.unit("unit.available", "A02", None, now_s - 300))
        board.apply_event(kit.gps("A02", now_s - 5, 30.99, 117.06))
        board.apply_event(
            kit.event("hospital.status", now_s - 60, hospital_id="H03", diversion=True)
        )
        board.apply_interval(
            kit.interval("OLD1", "call_to_departure", 150, target=180, end_s=now_s - 600)
        )
        board.apply_interval(kit.interval("OLD2", "response", 700, target=900, end_s=now_s - 600))
        board.apply_alert(
            {
                "alert_id": "a1",
                "kind": "breach",
                "incident_id": "I-RED",
                "at_ts": kit.at(now_s - 60).isoformat(),
                "interval": "call_to_departure",
                "detail": "departure > 3 min",
            }
        )

    screens.feed(scene)
    page = signed_in(browser, screens, screens.tokens.wall, "/")
    page.wait_for_selector('#map g.unit[data-unit-id="A01"]')
    page.wait_for_selector('tr[data-incident-id="I-RED"]')

    red = page.locator('tr[data-incident-id="I-RED"] .clock').first
    amber = page.locator('tr[data-incident-id="I-AMB"] .clock').first
    fresh = page.locator('tr[data-incident-id="I-NEW"] .clock').first
    departed = page.locator('tr[data-incident-id="I-ENR"] .clock').first
    assert red.get_attribute("data-state") == "red"
    assert departed.get_attribute("data-state") == "met"
    assert amber.get_attribute("data-state") == "amber"
    assert fresh.get_attribute("data-state") == "ok"
    h03 = page.locator('#map g.hospital[data-hospital-id="H03"]')
    assert h03.get_attribute("data-diversion") == "true"

    since = page.locator('tr[data-incident-id="I-NEW"] td.since')
    first = since.text_content()
    before = unit_position(page, "A01")
    for step in range(1, 4):  # the unit drives north-east, one fix per half second
        screens.feed(
            lambda b, s=step: b.apply_event(
                kit.gps("A01", now_s + s, 30.94 + 0.004 * s, 117.03 + 0.004 * s)
            )
        )
        time.sleep(0.5)
    wait_until(
        page, "([x]) => parseFloat("
        "document.querySelector('#map g.unit[data-unit-id=\"A01\"]').dataset.x) > x",
        arg=[before[0]],
        timeout_ms=5000,
    )
    after = unit_position(page, "A01")
    assert after[0] > before[0] and after[1] < before[1]  # east and north on the map
    assert since.text_content() != first  # the clock since the call is counting
    assert page.locator("#feed").text_content() == "LIVE"
    page.wait_for_timeout(1200)  # let the unit's glide finish before the picture
    page.screenshot(path=str(artifacts / "wall-display.png"))


def test_ed_board_prealert_countdown_and_acknowledgement(
    browser: Any, screens: Any, artifacts: Path
) -> None:
    kit = screens.kit
    now_s = time.time() - kit.t0.timestamp()
    screens.feed(
        lambda b: b.apply_event(
            kit.call("I-STEMI", now_s - 400, triage_level=1, pathway_hint="chest_pain")
        )
    )
    board = signed_in(browser, screens, screens.tokens.hospitals["H01"], "/hospitals/H01")
    board.wait_for_selector("#incoming .empty")

    from pathways.outputs import ClinicalSummary

    produced = time.monotonic()
    screens.feed(
        lambda b: b.apply_prealert(
            kit.prealert(
                "I-STEMI",
                "H01",
                eta_s=now_s + 480,
                sent_s=now_s,
                activations=("cathlab",),
                ed_bypass=True,
                triage_level=1,
                pathway="chest_pain",
                summary=ClinicalSummary(ecg_stemi=True, diagnosis="stemi"),
            )
        )
    )
    screens.feed(lambda b: b.apply_prealert(kit.prealert("I-OTHER", "H02", eta_s=now_s + 60)))
    card = board.locator('.card[data-prealert-id="I-STEMI:H01"]')
    card.wait_for(timeout=2000)
    assert time.monotonic() - produced < 2.0
    assert board.locator('.card[data-prealert-id="I-OTHER:H02"]').count() == 0

    countdown = card.locator(".eta")
    first = countdown.text_content()
    wait_until(
        board, "(t) => document.querySelector('.card .eta').textContent !== t", arg=first,
        timeout_ms=3000,
    )
    assert first.count(":") == 1 and first.startswith(("7:", "8:"))
    assert "CATH LAB" in card.text_content() and "ED BYPASS" in card.text_content()
    assert "STEMI" in card.text_content()
    board.screenshot(path=str(artifacts / "ed-board-prealert.png"))

    card.locator("button.ack").click()
    card.locator(".acked-label").wait_for(timeout=3000)
    assert [a["prealert_id"] for a in screens.acks] == ["I-STEMI:H01"]

    wall = signed_in(browser, screens, screens.tokens.wall, "/")
    wall.locator('tr[data-incident-id="I-STEMI"] .chip', has_text="ACK H01").wait_for(timeout=3000)

    # through the door: the in-hospital clocks run against their targets
    screens.feed(
        lambda b: b.apply_event(
            kit.event("hospital.arrived", now_s - 30 * 60, incident_id="I-STEMI", hospital_id="H01")
        )
    )
    board.locator("#in-hospital tbody tr").first.wait_for(timeout=3000)
    states = board.locator("#in-hospital .clock").evaluate_all(
        "nodes => nodes.map(n => n.dataset.state)"
    )
    assert states == ["ok", "red"]  # D2B 30 of 90 min; STEMI door-to-needle 30 of 30 min
    board.screenshot(path=str(artifacts / "ed-board-in-hospital.png"))


def test_stale_state_when_the_feed_stops(browser: Any, screens: Any, artifacts: Path) -> None:
    page = signed_in(browser, screens, screens.tokens.hospitals["H02"], "/hospitals/H02")
    wait_until(page, "document.querySelector('#feed').textContent === 'LIVE'")
    screens.stop()
    stopped = time.monotonic()
    page.wait_for_selector("body.stale", timeout=10000)
    assert time.monotonic() - stopped > 2.0  # three heartbeats of 1 s may be missed first
    assert page.locator("#stale-banner").is_visible()
    page.screenshot(path=str(artifacts / "ed-board-stale.png"))


def test_another_hospitals_board_is_forbidden_in_the_browser(browser: Any, screens: Any) -> None:
    page = signed_in(browser, screens, screens.tokens.hospitals["H02"], "/hospitals/H02")
    response = page.goto(screens.url + "/hospitals/H01")
    assert response.status == 403
    api = page.request.get(screens.url + "/api/hospitals/H01/board")
    assert api.status == 403
