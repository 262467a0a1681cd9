"""'Try it yourself': a learner types a step and gets a symbolic verdict (derivations.checker)."""

from __future__ import annotations

import streamlit as st

import derivations
from derivations import checker
from derivations.parser import MAX_LENGTH

VERDICT_BOX = {
    "equal": st.success,
    "constant": st.success,
    "multiple": st.info,
    "not-equal": st.error,
    "invalid": st.warning,
    "not-checked": st.warning,
}
VERDICT_TITLE = {
    "equal": "Equal",
    "constant": "Equal up to an additive constant",
    "multiple": "A positive multiple",
    "not-equal": "Not equal",
    "invalid": "Could not read that",
    "not-checked": "Not checked",
}


def names_hint(slug: str) -> str:
    names = ", ".join(f"`{name}`" for name in derivations.get(slug).symbols)
    return (
        f"Names you can use here: {names}, `pi`; functions `log exp sqrt sum abs`. "
        f"At most {MAX_LENGTH:,} characters."
    )


def show_verdict(verdict: checker.Verdict) -> None:
    if verdict.latex:
        st.latex(verdict.latex)
        st.caption("That is how your input was read.")
    VERDICT_BOX[verdict.kind](f"**{VERDICT_TITLE[verdict.kind]}.** {verdict.message}")
    for hint in verdict.hints:
        st.markdown(f"- :orange[hint] {hint}")
    if verdict.counterexample:
        st.caption("A point where they differ:")
        st.dataframe(
            [{"name": k, "value": str(v)} for k, v in verdict.counterexample.items()],
            hide_index=True,
        )


def try_it_box(slug: str, key: str, default_step: int = 1, placeholder: str = "") -> None:
    """A form: pick a target step, type an expression, get a verdict. Reruns only on submit."""
    derivation = derivations.get(slug)
    checker.worker.prestart()  # warm by the first Check
    labels = [s.label or f"step {n + 1}" for n, s in enumerate(derivation.steps)]
    with st.form(key=f"try_{key}", border=True):
        st.markdown("**Try it yourself:** type a step in plain maths or LaTeX.")
        target = st.selectbox(
            "compare with the step",
            range(len(labels)),
            index=min(default_step, len(labels) - 1),
            format_func=labels.__getitem__,
            key=f"try_target_{key}",
        )
        text = st.text_input(
            "your expression",
            key=f"try_text_{key}",  # no max_chars: a longer paste is told it is too long
            placeholder=placeholder,
            help=names_hint(slug),
        )
        submitted = st.form_submit_button("Check", icon=":material/check:")
    if submitted and text.strip():
        show_verdict(checker.check(text, derivation, int(target)))
