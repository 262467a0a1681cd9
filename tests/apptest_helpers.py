"""Run pages through app.py's st.navigation router with AppTest (never the page file alone)."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui.pages import HOME, PageSpec

APP = Path(__file__).resolve().parent.parent / "app.py"
ROUTER_MARK = "Likelihood Lab: why a VAE's reconstruction loss is what it is."
# There is no `pages/` folder beside app.py (the pages live in app_pages/, see ui/pages.py), so
# AppTest, like the server, never runs a page file in legacy multipage mode without app.py;
# `rendered_through_router` checks it on every page.


def open_page(spec: PageSpec, query: dict[str, str] | None = None, timeout: float = 120) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if spec != HOME:
        at.switch_page(spec.path).run()
    return at


def rendered_through_router(at: AppTest) -> bool:
    """The shared sidebar is drawn only by app.py, so its caption proves the router ran."""
    return any(ROUTER_MARK in caption.value for caption in at.sidebar.caption)


def all_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [t.value for t in at.title] + [h.value for h in at.header]
    parts += [i.value for i in at.info] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def train_past(session, more_than: int = 0, timeout: float = 30.0) -> None:
    """Let the background worker train `session` past `more_than` steps (or give up after
    `timeout` seconds: a hang guard; callers assert what they need)."""
    deadline = time.monotonic() + timeout
    while session.step <= more_than and time.monotonic() < deadline:
        session.heartbeat()  # stands in for the browser's fragment timer
        time.sleep(0.05)


def trained(at: AppTest, session_key: str, more_than: int = 0, timeout: float = 30.0) -> AppTest:
    """Train the page's session `at.session_state[session_key]` past `more_than` steps, then
    redraw the page."""
    train_past(at.session_state[session_key], more_than, timeout)
    return at.run()
