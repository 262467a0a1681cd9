"""The "Paste your loss" section of the implied-σ page: a code box in, σ², β and fixed code out.

The pasted text only ever reaches `derivations.loss_code.read` (ast.parse behind caps, never run).
"""

from __future__ import annotations

import re
from fractions import Fraction

import streamlit as st

from derivations import implied_sigma
from derivations.loss_code import LossCodeError, MissingNames, Reading, read
from derivations.loss_code.limits import MAX_CHARS
from derivations.loss_code.writer import CALIBRATED_WHY_NOT, calibrated_code, corrected_code
from ui import pages
from ui.derivation_view import show_steps
from ui.implied_view import implied_steps, lab_query
from ui.lab_settings import SCALE_RANGE

KEY = "loss_code_"
EXAMPLE = """def loss_function(recon_x, x, mu, logvar):
    recon = F.mse_loss(recon_x, x)
    kld = torch.mean(-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1))
    return recon + kld
"""
MARK = {"recon": "◀ reconstruction term", "kl": "◀ KL term", "both": "◀ reconstruction + KL"}
NOISE_LABEL = {
    "squared": "σ you pick (decoder noise std)",
    "l1": "Laplace scale b you pick",
    "huber": "Huber scale s you pick",
}


def parse_shape(text: str) -> tuple[int, ...]:
    """'784', '28, 28, 1', '3x64x64' or '(3, 64, 64)' -> a tuple of positive integers."""
    parts = [p for p in re.split(r"[\s,x×*()\[\]]+", text.strip()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise LossCodeError(
            f"the data shape {text!r} is not a list of whole numbers like 28, 28, 1"
        )
    return tuple(int(p) for p in parts)


def marked_code(code: str, reading: Reading) -> str:
    """The user's code with a trailing comment on each line of each term."""
    recon, kl = set(reading.recon_lines), set(reading.kl_lines)
    out = []
    for number, line in enumerate(code.expandtabs(4).splitlines(), 1):
        tag = (
            "both"
            if number in recon and number in kl
            else ("recon" if number in recon else "kl" if number in kl else None)
        )
        out.append(f"{line}  # {MARK[tag]}" if tag else line)
    return "\n".join(out)


def _fraction(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{value.numerator:,}"
    if value.denominator <= 10**10 and value.numerator < 10**4:
        return f"{value.numerator}/{value.denominator:,}"
    return f"{float(value):.4g}"


def _answer(code: str, shape, latent_dim: int, batch_size: int):
    """Read the code with the values already typed for its missing names; render name inputs."""
    typed = {
        name[len(KEY) + 5 :]: value
        for name, value in st.session_state.items()
        if isinstance(name, str) and name.startswith(f"{KEY}name_") and value is not None
    }
    try:
        reading = read(code, shape, latent_dim, batch_size, typed)
    except MissingNames as missing:
        st.info(
            "The code uses names it never defines. Give their values to read it: "
            + ", ".join(f"`{n}` (line {ln})" for n, ln in missing.missing.items()),
            icon=":material/edit_note:",
        )
        _name_inputs(list(missing.missing) + list(missing.given))
        return None
    _name_inputs(list(reading.names_used))
    return reading


def _name_inputs(names: list[str]) -> None:
    if not names:
        return
    columns = st.columns(min(len(names), 4))
    for index, name in enumerate(names):
        columns[index % len(columns)].number_input(
            f"value of `{name}`",
            value=None,
            format="%g",
            key=f"{KEY}name_{name}",
            placeholder="type a number",
        )


def _metrics(reading: Reading) -> None:
    result = reading.implied
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("a: weight on Σ pixel losses", _fraction(reading.recon_coefficient))
    m2.metric("k: weight on Σ KL", _fraction(reading.kl_coefficient))
    m3.metric("β = k/a your code implies", f"{result.beta:.4g}")
    if result.loss == "squared":
        m4.metric("σ² your code implies", f"{result.sigma2:.4g}", help=f"σ = {result.sigma:.4g}")
    elif result.loss == "l1":
        m4.metric("Laplace scale b your code implies", f"{result.scale:.4g}")
    elif result.loss == "huber":
        m4.metric("Huber scale b your code implies", f"{result.scale:.4g}")
    else:
        m4.metric("σ² your code implies", "none (Bernoulli)")
    box = st.success if result.verdict == implied_sigma.MATCHES else st.warning
    box(f"**{result.verdict}.** {result.explanation}")


def _lab_button(reading: Reading) -> None:
    query, clamped = lab_query(reading.implied)
    family = query["likelihood"]
    if family == "bernoulli":
        label = f"Open your code's setting in the live lab (bernoulli, β = {query['beta']})"
    else:
        name = {"gaussian": "σ", "laplace": "scale b", "huber": "scale b"}[family]
        label = f"Open your code's setting in the live lab ({family}, {name} = {query['scale']}"
        label += (f", α = {query['alpha']}" if family == "huber" else "") + ")"
    if clamped:
        label += f", clamped to the lab's range {SCALE_RANGE[0]:g} to {SCALE_RANGE[1]:g}"
    if st.button(label, icon=":material/science:", key=f"{KEY}open_lab"):
        st.switch_page(pages.LAB.path, query_params=query)


def _corrected(reading: Reading) -> None:
    st.subheader("The corrected code", anchor="paste-fixed")
    exact, calibrated = st.tabs(["The ELBO at a noise level you pick", "Calibrated decoder"])
    with exact:
        if reading.family in NOISE_LABEL:
            noise = st.number_input(
                NOISE_LABEL[reading.family],
                min_value=1e-4,
                max_value=100.0,
                value=0.1,
                format="%g",
                key=f"{KEY}noise",
            )
        else:
            noise = 1.0
            st.caption(
                "The Bernoulli ELBO has no noise level to pick: this is the ELBO itself "
                "(β = 1), summed over each example and averaged over the batch."
            )
        st.code(corrected_code(reading, float(noise)), language="python")
    with calibrated:
        code = calibrated_code(reading)
        if code is None:
            st.info(CALIBRATED_WHY_NOT[reading.family])
        else:
            st.code(code, language="python")


@st.fragment
def paste_your_loss() -> None:
    """The whole section; called once from app_pages/implied_sigma.py. A fragment: typing in it
    reruns only this section, not the rest of the page and its algebra."""
    st.header("Paste your loss", anchor="paste")
    st.markdown(
        "Paste the function (or the lines) your VAE trains with: PyTorch, Keras, TensorFlow or "
        "JAX. It is parsed, never run, and answered with the σ² (or scale) and β it implies, "
        "where each term is in your code, and the corrected code."
    )
    code = st.text_area(
        "your loss code", EXAMPLE, height=220, max_chars=MAX_CHARS, key=f"{KEY}text"
    )
    c1, c2, c3 = st.columns(3)
    shape_text = c1.text_input(
        "data shape of one example",
        "1, 28, 28",
        key=f"{KEY}shape",
        help="e.g. 784, or 28, 28, 1 (Keras), or 3, 64, 64",
    )
    latent_dim = c2.number_input("latent size J", 1, 1_000_000, 20, key=f"{KEY}J")
    batch_size = c3.number_input("batch size B", 1, 1_000_000, 128, key=f"{KEY}B")
    try:
        reading = _answer(code or "", parse_shape(shape_text), int(latent_dim), int(batch_size))
    except LossCodeError as error:
        st.error(f"Cannot read this code: {error}", icon=":material/error:")
        return
    if reading is None:
        return
    st.code(marked_code(code, reading), language="python", line_numbers=True, wrap_lines=True)
    st.caption(
        "Lines marked ◀ compute the reconstruction term or the KL term. Read as: "
        + "; ".join(reading.notes)
        + "."
    )
    _metrics(reading)
    _lab_button(reading)
    _corrected(reading)
    st.subheader("The algebra, step by step, for your code", anchor="paste-algebra")
    # Building and verifying new SymPy steps takes about a second, so they come on request
    # (then cached); the answer above stays within a second.
    if not st.toggle("Show the verified steps", key=f"{KEY}algebra"):
        st.caption(
            "The same steps as in “The algebra, step by step” below, with your code's "
            "reductions and weight."
        )
        return
    if reading.continuous_bernoulli:
        st.caption(
            "The continuous Bernoulli's normaliser depends on x̂, so the Bernoulli "
            "steps do not apply to it; β above is still k/a."
        )
        return
    if abs(reading.overall_factor - 1) > 1e-12:
        st.caption(
            f"The steps start from your loss divided by {reading.overall_factor:.4g}, "
            "a positive constant: it moves neither the optimum nor β."
        )
    show_steps("", implied_steps(tuple(sorted(reading.reductions.items()))))
