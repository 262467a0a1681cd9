"""The served app in a real headless chromium: every page renders maths and charts, no errors,
and asks nothing of any host but the app's own."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser_helpers import error_texts, wait_until_idle
from ui.pages import (
    BERNOULLI,
    BOUND_GAP,
    DISCRETE,
    ELBO,
    GAUSSIAN,
    HOME,
    KL,
    LAPLACE_HUBER,
    all_pages,
)

pytestmark = pytest.mark.browser

# Pages whose content includes at least one Plotly chart.
PAGES_WITH_CHARTS = {GAUSSIAN, BERNOULLI, LAPLACE_HUBER, KL, ELBO, BOUND_GAP, DISCRETE}


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 2600})
    tab = context.new_page()
    yield tab
    context.close()


@pytest.mark.parametrize("spec", all_pages(), ids=lambda s: s.url_path)
def test_every_page_renders_in_chromium(page, app_url, artifacts_dir, spec):
    # Privacy: every request (documents, scripts, fonts, icons, websockets) goes to the app's own
    # server, never to a font host or CDN (Streamlit fetches :material/ favicons from one).
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("websocket", lambda socket: requests.append(socket.url))
    page.goto(f"{app_url}/{spec.href}", wait_until="domcontentloaded")
    wait_until_idle(page)
    assert page.get_by_text("Page not found").count() == 0
    wait_until_idle(page)
    page.wait_for_selector("h1", timeout=30_000)
    assert error_texts(page) == []
    if spec != HOME:
        assert page.locator(".katex").count() > 0, "the page's maths rendered with KaTeX"
    assert page.locator(".katex-error").count() == 0, page.locator(".katex-error").all_inner_texts()
    if spec in PAGES_WITH_CHARTS:
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=30_000)
    page.screenshot(
        path=str(artifacts_dir / "screenshots" / f"{spec.url_path}.png"), full_page=True
    )
    favicon = page.evaluate("document.querySelector('link[rel~=\"icon\"]')?.href ?? ''")
    own = urlsplit(app_url).netloc
    outside = [
        url
        for url in [*requests, favicon]
        if urlsplit(url).scheme not in ("data", "blob", "") and urlsplit(url).netloc != own
    ]
    assert len(requests) > 3, "requests were recorded"
    assert outside == [], f"requests leaving the app's host: {sorted(set(outside))}"


def test_home_question_link_opens_the_answering_section(page, app_url):
    page.goto(f"{app_url}/{HOME.href}", wait_until="domcontentloaded")
    wait_until_idle(page)
    page.get_by_text("Where do the constants go").first.click()
    page.wait_for_url(f"**/{GAUSSIAN.url_path}?q=constants", timeout=30_000)
    wait_until_idle(page)
    assert page.get_by_text("You asked:").count() == 1
    assert error_texts(page) == []


def test_first_deep_link_after_start_renders_through_the_router(browser, artifacts_dir):
    """A fresh server's first request, a deep link (a teacher's shared link, on each replica),
    gets the page through app.py, with no "Page not found" notice: with a pages/ folder beside
    app.py, Streamlit's legacy multipage mode showed one (see ui/pages.py)."""
    from tests.conftest import start_streamlit

    process, url = start_streamlit()
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{url}/{KL.href}", wait_until="domcontentloaded")
        wait_until_idle(page)
        assert page.get_by_text("The KL term").count() >= 1
        assert page.get_by_text("Likelihood Lab: why").count() == 1, "the router's sidebar"
        assert error_texts(page) == []
        assert page.get_by_text("Page not found").count() == 0
        second = context.new_page()
        second.goto(f"{url}/{GAUSSIAN.href}", wait_until="domcontentloaded")
        wait_until_idle(second)
        assert second.get_by_text("Page not found").count() == 0
    finally:
        context.close()
        process.kill()
