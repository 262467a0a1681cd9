"""Helpers for driving the served app in headless chromium."""

from __future__ import annotations

from ui.pages import LAB

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def wait_until_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait for Streamlit's script run to finish (the app marks its state on the root element)."""
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    page.wait_for_timeout(300)  # let the last deltas paint
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def open_lab_and_train(page, app_url: str, query: str = "") -> None:
    """Open the lab (with `query`, e.g. "?scale=0.001&lr=1"), wait for it, press Train."""
    page.goto(f"{app_url}/{LAB.href}{query}", wait_until="domcontentloaded")
    wait_until_idle(page)
    page.get_by_role("button", name="Train", exact=True).click()


def error_texts(page) -> list[str]:
    """Text of any exception box or error element on the page."""
    boxes = page.locator('[data-testid="stException"], [data-testid="stErrorElementStack"]')
    return [boxes.nth(i).inner_text() for i in range(boxes.count())]


def step_counter(page) -> int:
    """The lab's live step counter ("step 1,234"), or -1 before training starts."""
    import re

    match = re.search(r"step ([\d,]+)", page.locator("body").inner_text())
    return int(match.group(1).replace(",", "")) if match else -1


def wait_for_steps(page, more_than: int, timeout_ms: int = 60_000) -> int:
    page.wait_for_function(
        """n => { const m = document.body.innerText.match(/step ([\\d,]+)/);
                  return m && parseInt(m[1].replace(/,/g, '')) > n; }""",
        arg=more_than,
        timeout=timeout_ms,
    )
    return step_counter(page)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads), from /proc."""
    import os

    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
