"""The race page in a real browser: the likelihood race trains live, then the σ sweep's points
move on the rate–distortion plane and a click shows that model's reconstructions."""

from __future__ import annotations

import pytest

from tests.browser_helpers import error_texts, wait_for_steps, wait_until_idle
from ui.pages import RACE

pytestmark = pytest.mark.browser

MARKERS = '[data-testid="stPlotlyChart"] .scatterlayer .trace .points path'


def press(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def marker_positions(page) -> list[str]:
    markers = page.locator(MARKERS)
    return [markers.nth(i).get_attribute("transform") for i in range(markers.count())]


def test_race_and_sweep_run_live(browser, app_url, artifacts_dir):
    shots = artifacts_dir / "screenshots"
    context = browser.new_context(viewport={"width": 1500, "height": 1800})
    try:
        page = context.new_page()
        page.goto(f"{app_url}/{RACE.href}", wait_until="domcontentloaded")
        wait_until_idle(page)
        press(page, "Start")
        first = wait_for_steps(page, 0)
        page.wait_for_selector('[data-testid="stDataFrame"]', timeout=60_000)
        page.wait_for_function(
            "() => document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 15",
            timeout=60_000,
        )
        wait_for_steps(page, first + 200, timeout_ms=120_000)  # trains on while the page draws
        assert error_texts(page) == []
        page.screenshot(path=str(shots / "race-likelihoods.png"), full_page=True)
        press(page, "Pause")
        wait_until_idle(page)

        page.get_by_text("σ sweep", exact=True).click()
        wait_until_idle(page)
        press(page, "Reset")
        wait_until_idle(page)
        press(page, "Start")
        page.wait_for_selector(MARKERS, timeout=60_000)
        page.wait_for_function(
            f"() => document.querySelectorAll('{MARKERS}').length >= 7", timeout=60_000
        )
        before = marker_positions(page)
        page.wait_for_function(
            """([selector, before]) => {
                 const now = [...document.querySelectorAll(selector)]
                   .map(m => m.getAttribute('transform'));
                 return now.length >= 7 && now.join('|') !== before.join('|');
               }""",
            arg=[MARKERS, before],
            timeout=90_000,
        )  # the points moved: the plane is redrawn from newer metrics while training
        press(page, "Pause")
        wait_until_idle(page)
        page.locator(MARKERS).first.click(force=True)
        page.wait_for_function(
            "() => document.body.innerText.includes('test digits (top) and reconstructions')",
            timeout=30_000,
        )
        assert error_texts(page) == []
        page.screenshot(path=str(shots / "race-sigma-sweep.png"), full_page=True)
        page.get_by_text("test digits (top) and reconstructions").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "race-sigma-sweep-clicked.png"))
    finally:
        context.close()
