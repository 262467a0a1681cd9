"""Browser checks of navigation: question cards land on their answer, and the lab's main
controls show without scrolling. (No page asks another host for anything: tests/test_browser.py
checks that on every page it renders.)"""

from __future__ import annotations

import pytest

from tests.browser_helpers import error_texts, wait_until_idle
from ui.pages import HOME, LAB
from ui.questions import QUESTIONS

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1400, "height": 1000}
MAIN_SCROLL = "document.querySelector('[data-testid=\"stMain\"]').scrollTop"
# Cards in the lower half of the home page whose target pages are shorter than the home page.
CARDS = [q for q in QUESTIONS if q.key in ("kl-sign", "single-sample", "weight-bce-kl")]


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    yield tab
    context.close()


def test_question_card_clicked_after_scrolling_shows_the_answer_box(page, app_url):
    """Scroll the home page down to a card and click it: the target page must open with its
    "You asked / Short answer" box on screen. Streamlit keeps the scroll offset across a page
    switch when the new page draws fast, which left the box above the viewport in about half of
    the clicks before the fix, hence several round trips in one session."""
    page.goto(f"{app_url}/{HOME.href}", wait_until="domcontentloaded")
    wait_until_idle(page)
    for question in CARDS * 2:
        link = page.get_by_text(question.text, exact=True).first
        link.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        scrolled = page.evaluate(MAIN_SCROLL)
        assert scrolled > VIEWPORT["height"] / 2, "the card is far enough down to need a scroll"
        link.click()
        page.wait_for_url(f"**/{question.page.url_path}?q={question.key}", timeout=30_000)
        wait_until_idle(page)
        page.wait_for_timeout(1500)  # charts and images below finish growing the page
        box = page.get_by_text("You asked:").first
        top = box.bounding_box()["y"]
        assert 0 <= top <= VIEWPORT["height"] - 100, f"{question.key}: answer box at y={top}"
        assert error_texts(page) == []
        page.get_by_role("link", name=HOME.title).first.click()  # back home in the same session
        wait_until_idle(page)
        page.wait_for_timeout(500)


def test_lab_controls_learners_reach_for_are_above_the_fold(page, app_url, artifacts_dir):
    """At 1400×1000 the likelihood, σ and learning-rate controls show without scrolling the
    sidebar (they sat below the page menu, the notes and the data-set picker)."""
    page.goto(f"{app_url}/{LAB.href}", wait_until="domcontentloaded")
    wait_until_idle(page)
    sidebar = page.get_by_test_id("stSidebar")
    for label in ("likelihood p(x|z)", "σ (log scale)", "learning rate"):
        widget = sidebar.get_by_test_id("stWidgetLabel").filter(has_text=label).first
        box = widget.bounding_box()
        assert box is not None, label
        # the label and the control under it (about 50 px) fit in the window
        assert box["y"] + box["height"] + 50 <= VIEWPORT["height"], f"{label} at y={box['y']}"
    page.screenshot(path=str(artifacts_dir / "screenshots" / "live-lab-sidebar-fold.png"))
