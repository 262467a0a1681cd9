"""Helpers for driving the served app in headless chromium."""

from __future__ import annotations

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def wait_until_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait for Streamlit's script run to finish (the app marks its state on the root element)."""
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    page.wait_for_timeout(300)  # let the last deltas paint
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def error_texts(page) -> list[str]:
    """Text of any exception box or error element on the page."""
    boxes = page.locator('[data-testid="stException"], [data-testid="stErrorElementStack"]')
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]
