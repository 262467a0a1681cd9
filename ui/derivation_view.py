"""Streamlit views of derivations: steps as LaTeX, with relation badges and verification."""

from __future__ import annotations

import streamlit as st

import derivations
from ui.latex import StepView, derivation_views
from ui.questions import by_key
from ui.try_it import try_it_box

RELATION_BADGE = {
    "start": ":gray-badge[start]",
    "equal": ":green-badge[identity]",
    "drop": ":red-badge[drop a constant]",
    "scale": ":blue-badge[divide by a positive constant]",
}


@st.cache_data(show_spinner=False, max_entries=64)
def step_views(slug: str) -> list[StepView]:
    """Rendered and verified steps; SymPy runs once per slug per server, never on a slider drag."""
    return derivation_views(derivations.get(slug))


def show_derivation(slug: str, try_it: bool = True) -> None:
    """A registry derivation, rendered from cached, verified step views, with a checker box."""
    show_steps(derivations.get(slug).summary, step_views(slug))
    if try_it:
        with st.expander("Try it yourself: check your own step", icon=":material/edit:"):
            try_it_box(slug, key=slug)


def show_steps(summary: str, views: list[StepView]) -> None:
    if summary:
        st.markdown(summary)
    for index, view in enumerate(views):
        with st.container(border=index == 0):
            head = f"{RELATION_BADGE[view.relation]} **{view.label or f'step {index + 1}'}**"
            if view.verified.startswith("FAILED"):
                head += f"  :red[{view.verified}]"
            elif view.verified:
                head += f"  :green[✓ verified ({view.verified})]"
            st.markdown(head)
            st.latex(view.latex)
            st.caption(view.note)


@st.cache_data(show_spinner=False)
def parameter_names(slug: str) -> str:
    return ", ".join(str(p) for p in derivations.get(slug).parameters) or "none"


def arrival_banner(page_url_path: str) -> None:
    """Greet a visitor who followed a question link from the home page (?q=<key>)."""
    question = by_key(st.query_params.get("q", ""))
    if question is None or question.page.url_path != page_url_path:
        return
    st.info(
        f"**You asked:** {question.text}\n\n**Short answer:** {question.answer}\n\n"
        f"[Jump to the section](#{question.anchor})",
        icon=":material/question_answer:",
    )
