"""Check my derivation: type any step of any derivation and get a symbolic verdict."""

import streamlit as st

import derivations
from derivations import checker
from derivations.parser import MAX_DEPTH, MAX_LENGTH
from ui import pages
from ui.derivation_view import arrival_banner, parameter_names, step_views
from ui.try_it import names_hint, show_verdict

EXAMPLES = {
    "the expanded Gaussian log-likelihood": (
        "gaussian-mse",
        "expanded",
        "-D/2*log(2*pi) - D*log(sigma) - sum((x_i-mu_i)^2)/(2*sigma^2)",
    ),
    "the −½Σσᵢ² slip (per-pixel σᵢ)": (
        "gaussian-diagonal",
        None,
        "-D/2*log(2*pi) - 1/2*sum(sigma_i^2) - sum((x_i-mu_i)^2/(2*sigma_i^2))",
    ),
    "MSE instead of the log-likelihood": ("gaussian-mse", "expanded", "-sum((x_i-mu_i)^2)/D"),
    "LaTeX input": (
        "gaussian-mse",
        "expanded",
        r"-\frac{D}{2}\log(2\pi) - D\log\sigma - \frac{1}{2\sigma^2}\sum_{i=1}^{D}(x_i-\mu_i)^2",
    ),
}

st.title("Check my derivation")
checker.worker.prestart()  # warm by the first Check
arrival_banner(pages.CHECKER.url_path)
st.markdown(
    "Pick a target (any step of any derivation in the app), type your own version, and get a "
    "verdict: **equal**; **equal up to an additive constant** free of the parameters (so it has "
    "the same optimum); **a positive multiple**; or **not equal**, with a point where they "
    "differ and a hint when it looks like a known slip. Your text is parsed by a whitelist "
    "parser that builds SymPy objects directly: nothing you type is ever executed."
)

st.subheader("Your step", anchor="check")
slugs = list(derivations.REGISTRY)


def _step_key(slug: str) -> str:
    """One step menu per derivation. A single shared menu kept the browser's label of the old
    derivation's step across a switch, and Streamlit handed that label back as the value (a
    string where an index was expected: issue 12, item 3)."""
    return f"checker_step_{slug}"


def _load_example(name: str) -> None:
    slug, label, text = EXAMPLES[name]
    derivation = derivations.get(slug)
    labels = [s.label for s in derivation.steps]
    st.session_state.checker_slug = slug
    st.session_state[_step_key(slug)] = labels.index(label) if label in labels else 1
    st.session_state.checker_text = text


st.caption("Or start from an example:")
example_columns = st.columns(len(EXAMPLES))
for column, name in zip(example_columns, EXAMPLES, strict=True):
    column.button(name, key=f"checker_example_{name}", on_click=_load_example, args=(name,))

slug = st.selectbox(
    "derivation", slugs, key="checker_slug", format_func=lambda s: derivations.get(s).title
)
derivation = derivations.get(slug)
labels = [s.label or f"step {n + 1}" for n, s in enumerate(derivation.steps)]
step = st.selectbox(
    "target step", range(len(labels)), key=_step_key(slug), format_func=labels.__getitem__
)
st.latex(step_views(slug)[step].result_latex)
st.caption(f"Parameters (what the decoder or encoder outputs): {parameter_names(slug)}")

with st.form("checker_form"):
    text = st.text_area(
        "your expression",
        key="checker_text",
        height=90,  # no max_chars: a longer paste gets "too long (N characters; ...)", not cut
        help=names_hint(slug),
    )
    submitted = st.form_submit_button("Check", icon=":material/check:", type="primary")
if submitted and text.strip():
    show_verdict(checker.check(text, derivation, int(step)))
elif submitted:
    st.warning("Type an expression first.")

with st.expander("What can I type?"):
    st.markdown(
        "- plain maths: `+ - * / ^` (or `**`), parentheses, `sqrt`, `log`, `exp`, `abs`\n"
        "- Greek letters by name (`sigma`, `mu`, `pi`) or as symbols (σ, μ, π)\n"
        "- indexed pixels `x_i`, `mu_i`; sums `sum((x_i-mu_i)^2)` run over i = 1 … D\n"
        "- LaTeX: `\\frac{a}{b}`, `\\sum_{i=1}^{D}`, `\\log`, `\\sigma`, `\\left( \\right)`\n"
        f"- limits: {MAX_LENGTH:,} characters, nesting {MAX_DEPTH} deep; huge powers such as "
        "`10^10^10` are refused\n"
        "- the verdict on your expression is worked out in a separate process, in at most "
        f"{checker.WALL_SECONDS:g} s and {checker.MEMORY_BYTES / 2**30:g} GiB of memory; an "
        "expression that needs more is answered *too expensive to check*"
    )
