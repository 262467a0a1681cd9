"""Every page renders through app.py (AppTest), with verified derivation steps and no errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.apptest_helpers import all_text, open_page, rendered_through_router
from ui.pages import GAUSSIAN, HOME, all_pages
from ui.questions import QUESTIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("spec", all_pages(), ids=lambda s: s.url_path)
def test_page_renders_through_router_without_errors(spec):
    at = open_page(spec)
    assert not at.exception, [e.value for e in at.exception]
    assert rendered_through_router(at), "the page ran without app.py's router"
    assert at.title, "every page has a title"
    text = all_text(at)
    assert "FAILED" not in text, "a derivation step failed its relation check"
    assert not at.error, [e.value for e in at.error]


def test_derivation_pages_show_verified_steps():
    at = open_page(GAUSSIAN)
    verified = [m.value for m in at.markdown if "✓ verified" in m.value]
    assert len(verified) >= 5, (
        "each non-start step of the Gaussian derivations carries a check mark"
    )


def test_home_links_every_question_to_a_real_section():
    at = open_page(HOME)
    assert not at.exception
    links = at.get("page_link")
    assert len(links) == len(QUESTIONS)
    for question in QUESTIONS:
        source = (ROOT / question.page.path).read_text()
        assert re.search(rf'anchor="{re.escape(question.anchor)}"', source), (
            f"{question.key}: {question.page.path} has no section with anchor {question.anchor!r}"
        )


def test_question_link_greets_the_visitor_with_the_answer():
    at = open_page(GAUSSIAN, query={"q": "constants"})
    assert not at.exception
    banner = " ".join(i.value for i in at.info)
    assert "Where do the constants go" in banner
    assert "#dropped-constants" in banner


def test_unknown_question_key_is_ignored_quietly():
    at = open_page(GAUSSIAN, query={"q": "<script>alert(1)</script>"})
    assert not at.exception
    assert not any("You asked" in i.value for i in at.info)


def test_url_paths_never_equal_a_page_file_stem():
    """A fresh server's legacy multipage run must not find a page file for any app URL."""
    for spec in all_pages():
        assert Path(spec.path).stem.replace("_", "-") != spec.url_path, spec


def test_markdown_links_point_at_real_pages():
    url_paths = {spec.url_path for spec in all_pages()}
    for spec in all_pages():
        for target in re.findall(r"\]\(/([a-z0-9-]+)", (ROOT / spec.path).read_text()):
            assert target in url_paths, f"{spec.path} links to /{target}, which is no page"
