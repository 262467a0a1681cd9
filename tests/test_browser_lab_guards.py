"""The lab's guards in a real browser: a hostile link renders nothing live, and a diverging run
pauses with its cause and a one-click fix."""

from __future__ import annotations

from urllib.parse import urlencode, urlparse

import pytest

from tests.browser_helpers import error_texts, open_lab_and_train, wait_for_steps, wait_until_idle
from ui.pages import LAB

pytestmark = pytest.mark.browser

ATTACKER = "attacker.invalid"
HOSTILE_QUERY = {
    "alpha": f"[x](http://{ATTACKER}/phish)",
    "sigma": f"![t](http://{ATTACKER}/track.png)",
    "lr": r"$\color{red}{\Huge HACKED}$",
    "beta": "1" * 20_000,
}


def test_a_hostile_link_shows_its_values_as_inert_code(browser, app_url, artifacts_dir):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    try:
        page = context.new_page()
        page.goto(f"{app_url}/{LAB.href}?{urlencode(HOSTILE_QUERY)}", wait_until="load")
        wait_until_idle(page)
        alerts = page.locator('[data-testid="stAlert"]')
        text = " ".join(alerts.nth(i).inner_text() for i in range(alerts.count()))
        page.screenshot(path=str(artifacts_dir / "screenshots" / "lab-hostile-link.png"))
        for key in ("alpha", "sigma", "lr", "beta"):
            assert f"{key} must be" in text, text
        # the values are there, literally, as code: not a link, not an image, not KaTeX
        assert f"[x](http://{ATTACKER}/phish)" in text and r"\Huge HACKED" in text
        assert page.locator(f'a[href*="{ATTACKER}"]').count() == 0
        assert page.locator(f'img[src*="{ATTACKER}"]').count() == 0
        assert alerts.locator(".katex").count() == 0
        assert alerts.locator("code").count() >= 4
        assert "(20,000 characters)" in text and len(text) < 2_000  # not 20,000 ones echoed
        hosts = {urlparse(url).hostname for url in requested}
        assert ATTACKER not in hosts  # no tracking pixel fetched
        assert error_texts(page) == []
    finally:
        context.close()


def test_a_diverging_run_pauses_and_the_fix_resumes(browser, app_url, artifacts_dir):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        open_lab_and_train(page, app_url, "?scale=0.001&lr=1")
        page.wait_for_function(
            "() => document.body.innerText.includes('Training paused')", timeout=60_000
        )
        wait_until_idle(page)
        body = page.locator("body").inner_text()
        assert "the loss diverged" in body and "the likely cause is the learning rate 1" in body
        page.screenshot(
            path=str(artifacts_dir / "screenshots" / "lab-diverged.png"), full_page=True
        )
        page.get_by_role("button", name="Lower the learning rate to 0.001 and resume").click()
        wait_until_idle(page)
        wait_for_steps(page, 300)  # past two windows: the fixed run is not stopped again
        assert "Training paused" not in page.locator("body").inner_text()
        assert error_texts(page) == []
        page.screenshot(
            path=str(artifacts_dir / "screenshots" / "lab-after-lr-fix.png"), full_page=True
        )
    finally:
        context.close()
