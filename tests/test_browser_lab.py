"""The live lab in a real browser: training, a σ drag mid-run, two isolated sessions, and no
training left running once a tab closes."""

from __future__ import annotations

import time

import pytest

from tests.browser_helpers import (
    cpu_seconds,
    error_texts,
    step_counter,
    wait_for_steps,
    wait_until_idle,
)
from ui.lab_session import LabSession
from ui.pages import LAB

pytestmark = pytest.mark.browser


def open_lab(context, url: str, query: str = ""):
    page = context.new_page()
    page.goto(f"{url}/{LAB.href}{query}", wait_until="domcontentloaded")
    wait_until_idle(page)
    return page


def press(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def reconstruction_src(page) -> str:
    return page.locator('[data-testid="stImage"] img').first.get_attribute("src")


SIGMA_SLIDER = '[data-testid="stSidebar"] [data-testid="stSlider"] input[type="range"]'


def sigma_shown(page) -> str:
    """The σ slider's displayed value (the first slider in the sidebar)."""
    return page.locator(SIGMA_SLIDER).first.get_attribute("aria-valuetext")


def test_training_sharpens_and_survives_a_sigma_drag(browser, app_url, artifacts_dir):
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    try:
        page = open_lab(context, app_url)
        press(page, "Train")
        first = wait_for_steps(page, 0)
        page.wait_for_selector('[data-testid="stImage"] img', timeout=30_000)
        grid_before = reconstruction_src(page)
        page.screenshot(path=str(artifacts_dir / "screenshots" / "lab-training-early.png"))
        second = wait_for_steps(page, first + 300)
        page.wait_for_function(
            "src => { const i = document.querySelector('[data-testid=\"stImage\"] img');"
            " return i && i.src !== src; }",
            arg=grid_before,
            timeout=30_000,
        )
        # Drag σ with the keyboard while training runs (each key press is a rerun).
        before = sigma_shown(page)
        slider = page.locator(SIGMA_SLIDER).first
        slider.focus()
        for _ in range(4):
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(150)
        page.wait_for_function(
            "() => document.body.innerText.includes('σ →')", timeout=30_000
        )  # the change is marked on the loss chart
        assert sigma_shown(page) != before
        third = wait_for_steps(page, second + 200)  # training went on through the drag
        assert third > second
        assert error_texts(page) == []
        page.screenshot(
            path=str(artifacts_dir / "screenshots" / "lab-after-sigma-drag.png"), full_page=True
        )
    finally:
        context.close()


def test_two_sessions_train_at_once_without_seeing_each_other(browser, app_url, artifacts_dir):
    first_context, second_context = browser.new_context(), browser.new_context()
    try:
        a = open_lab(first_context, app_url, "?sigma=0.05&seed=1")
        b = open_lab(second_context, app_url, "?sigma=3&seed=2&likelihood=laplace")
        press(a, "Train")
        press(b, "Train")
        wait_for_steps(a, 200)
        wait_for_steps(b, 200)
        press(a, "Pause")
        wait_until_idle(a)
        paused_at = step_counter(a)
        b_now = step_counter(b)
        wait_for_steps(b, b_now + 200)  # b keeps training while a is paused
        a.wait_for_timeout(500)
        assert step_counter(a) == paused_at
        assert "scale=0.05" in a.url and "scale=3" in b.url  # old ?sigma= links still open
        assert "likelihood=gaussian" in a.url and "likelihood=laplace" in b.url
        assert sigma_shown(a) != sigma_shown(b)
        assert error_texts(a) == [] and error_texts(b) == []
        a.screenshot(path=str(artifacts_dir / "screenshots" / "lab-session-a.png"))
        b.screenshot(path=str(artifacts_dir / "screenshots" / "lab-session-b.png"))
    finally:
        first_context.close()
        second_context.close()


def test_closing_the_tab_stops_its_training(browser, app_url, streamlit_process):
    context = browser.new_context()
    page = open_lab(context, app_url)
    press(page, "Train")
    wait_for_steps(page, 200)
    start = cpu_seconds(streamlit_process.pid)
    time.sleep(3)
    busy = cpu_seconds(streamlit_process.pid) - start
    context.close()
    # No more heartbeats: the worker drops the session within HEARTBEAT_SECONDS.
    time.sleep(LabSession.HEARTBEAT_SECONDS + 1.0)
    start = cpu_seconds(streamlit_process.pid)
    time.sleep(3)
    idle = cpu_seconds(streamlit_process.pid) - start
    assert busy > 1.0, f"the server was not training while the tab was open ({busy:.2f} s CPU)"
    assert idle < 0.3, f"the server kept working after the tab closed ({idle:.2f} s CPU in 3 s)"
