"""The checker page and the "Try it yourself" boxes through app.py (AppTest): issue 12, items 1 & 4.

AppTest drops text longer than a box's max_chars, as a browser does; so these tests fail when a
box silently refuses a long paste instead of saying it is too long.
"""

from __future__ import annotations

from derivations.checker import MEMORY_BYTES, WALL_SECONDS, worker
from derivations.parser import MAX_DEPTH, MAX_LENGTH
from tests.apptest_helpers import open_page
from ui.pages import CHECKER, GAUSSIAN

LONG_PASTE = "9" * 50_000
TOO_LONG = f"too long (50000 characters; the limit is {MAX_LENGTH})"


def click(at, label: str):
    return next(b for b in at.button if b.label == label).click()


def test_a_long_paste_on_the_checker_page_is_told_it_is_too_long():
    at = open_page(CHECKER)
    at.text_area(key="checker_text").input(LONG_PASTE)
    click(at, "Check").run()
    assert not at.exception
    assert any(TOO_LONG in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_long_paste_in_a_try_it_box_is_told_it_is_too_long():
    at = open_page(GAUSSIAN)
    at.text_input(key="try_text_gaussian-mse").input(LONG_PASTE)
    next(b for b in at.button if b.label == "Check").click().run()
    assert not at.exception
    assert any(TOO_LONG in w.value for w in at.warning), [w.value for w in at.warning]


def test_the_page_states_the_limits_it_enforces():
    at = open_page(CHECKER)
    text = " ".join(m.value for m in at.markdown)
    assert f"{MAX_LENGTH:,} characters, nesting {MAX_DEPTH} deep" in text
    assert f"at most {WALL_SECONDS:g} s and {MEMORY_BYTES / 2**30:g} GiB of memory" in text


def test_an_answer_over_the_time_limit_is_shown_as_not_checked(monkeypatch):
    monkeypatch.setattr(worker, "run", lambda *args, **kwargs: worker.Outcome("timeout"))
    at = open_page(CHECKER)
    at.text_area(key="checker_text").input("-sum((x_i-mu_i)^2)")
    click(at, "Check").run()
    assert not at.exception
    assert any(w.value.startswith("**Not checked.** Too expensive to check") for w in at.warning), [
        w.value for w in at.warning
    ]
