"""Draw a digit in the live lab with the mouse in real chromium: the canvas is a plain <canvas>
in the page (no iframe), and the drawing's reconstruction and latent point appear."""

from __future__ import annotations

import pytest

from tests.browser_helpers import error_texts, open_lab_and_train, wait_for_steps, wait_until_idle

pytestmark = pytest.mark.browser

CANVAS = "canvas.upper-canvas"  # fabric.js's event layer of streamlit-drawable-canvas


def stroke(page, box, points) -> None:
    """Press, move through `points` (fractions of the canvas), release."""
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + points[0][0] * w, y0 + points[0][1] * h)
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(x0 + fx * w, y0 + fy * h, steps=8)
    page.mouse.up()


def draw_a_seven(page) -> None:
    """Two strokes on the lab's canvas; waits until the drawing's pictures are shown."""
    canvas = page.locator(CANVAS)
    canvas.wait_for(timeout=30_000)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    stroke(page, box, [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)])  # a 7
    stroke(page, box, [(0.35, 0.5), (0.65, 0.5)])  # its bar
    page.get_by_text("as input | decoder mean | a sample of p(x|z)").wait_for(timeout=30_000)


def test_drawing_a_seven_shows_its_reconstruction_and_latent_point(browser, app_url, artifacts_dir):
    context = browser.new_context(viewport={"width": 1500, "height": 2600})
    try:
        page = context.new_page()
        open_lab_and_train(page, app_url)
        wait_for_steps(page, 100)
        canvas = page.locator(CANVAS)
        canvas.wait_for(timeout=30_000)
        assert page.locator("iframe").count() == 0  # components v2: in the page itself
        assert canvas.evaluate("c => c.ownerDocument === document")
        assert page.get_by_text("as input | decoder mean").count() == 0  # nothing drawn yet
        draw_a_seven(page)
        page.get_by_text("your drawing").first.wait_for(timeout=30_000)  # the scatter's star
        page.get_by_text("−log p(x_d | z) per pixel").first.wait_for(timeout=30_000)
        wait_until_idle(page)
        assert error_texts(page) == []
        page.screenshot(path=str(artifacts_dir / "screenshots" / "lab-drawn-digit.png"))
    finally:
        context.close()
