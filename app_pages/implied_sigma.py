"""What σ does my code assume? The σ² (or Laplace scale) implied by a loss's reductions."""

import streamlit as st

from derivations import implied_sigma
from ui import pages
from ui.derivation_view import arrival_banner, show_steps
from ui.implied_view import implied_steps, lab_query
from ui.lab_settings import SCALE_RANGE
from ui.loss_code_view import paste_your_loss
from ui.mse_demo import mse_demo_panel

st.title("What σ does my code assume?")
arrival_banner(pages.IMPLIED_SIGMA.url_path)
st.markdown(
    "A loss in code fixes a likelihood whether you meant it to or not. `F.mse_loss(x_hat, x)` "
    "averages over pixels while the KL is usually summed over latent dimensions: that is the "
    "Gaussian ELBO with σ² = D/2 (σ ≈ 19.8 on MNIST), a huge KL weight that collapses the "
    "posterior and blurs every reconstruction. (A sensible σ does not remove all blur: a "
    "factorised decoder still shows E[x|z], averaged over the encoder's uncertainty about z.) "
    "Pick your code below, or set the reductions by hand."
)

# --- Paste your loss (issue 9): the whole section lives in ui/loss_code_view.py --------------
paste_your_loss()
# --- end of Paste your loss ------------------------------------------------------------------

CUSTOM = "(set by hand below)"


def _apply_snippet(table: dict, widget_key: str, prefix: str) -> None:
    """Fill the reduction widgets from the picked snippet (a callback, before widgets redraw)."""
    name = st.session_state[widget_key]
    if name in table:
        for key, value in table[name].kwargs.items():
            st.session_state[f"{prefix}{key}"] = value


PREFIX = "implied_"
defaults = {
    "loss": "squared",
    "recon": "mean",
    "recon_batch": "mean",
    "kl": "sum",
    "kl_batch": "mean",
}
for key, value in defaults.items():
    st.session_state.setdefault(f"{PREFIX}{key}", value)


def snippet_picker(label: str, table: dict, key: str, default: int) -> None:
    """A select box of recognised code; picking one fills the reduction widgets below."""
    pick = st.selectbox(
        label,
        [CUSTOM, *table],
        index=default,
        key=key,
        on_change=_apply_snippet,
        args=(table, key, PREFIX),
    )
    if pick in table:
        st.code(table[pick].code, language="python", wrap_lines=True)  # never cut off
        st.caption(table[pick].source)


st.header("Your code", anchor="snippets")
left, right = st.columns(2)
with left:
    snippet_picker("reconstruction term", implied_sigma.RECON_SNIPPETS, "implied_recon_snippet", 1)
with right:
    snippet_picker("KL term", implied_sigma.KL_SNIPPETS, "implied_kl_snippet", 2)

with st.expander("Sizes and reductions", expanded=True):
    c1, c2, c3, c4 = st.columns(4)
    preset = c1.selectbox("data", list(implied_sigma.DATA_DIMENSIONS), index=1, key="implied_data")
    dimension = c1.number_input(
        "pixels D", 1, 10_000_000, implied_sigma.DATA_DIMENSIONS[preset], key=f"implied_D_{preset}"
    )
    latent_dim = c2.number_input("latent dimensions J", 1, 100_000, 20, key="implied_J")
    batch_size = c2.number_input("batch size B", 1, 1_000_000, 128, key="implied_B")
    loss = c3.selectbox("reconstruction loss", implied_sigma.LOSSES, key=f"{PREFIX}loss")
    recon = c3.radio("over pixels", implied_sigma.REDUCTIONS, key=f"{PREFIX}recon", horizontal=True)
    recon_batch = c3.radio(
        "over the batch", implied_sigma.REDUCTIONS, key=f"{PREFIX}recon_batch", horizontal=True
    )
    kl = c4.radio("KL over latents", implied_sigma.REDUCTIONS, key=f"{PREFIX}kl", horizontal=True)
    kl_batch = c4.radio(
        "KL over the batch", implied_sigma.REDUCTIONS, key=f"{PREFIX}kl_batch", horizontal=True
    )
    kl_weight = c4.number_input(
        "explicit KL weight",
        min_value=1e-9,
        max_value=1e9,
        value=1.0,
        format="%g",
        key="implied_weight",
    )

arguments = {
    "D": int(dimension),
    "latent_dim": int(latent_dim),
    "batch_size": int(batch_size),
    "recon": recon,
    "recon_batch": recon_batch,
    "kl": kl,
    "kl_batch": kl_batch,
    "kl_weight": float(kl_weight),
    "loss": loss,
}
try:
    result = implied_sigma.implied(**arguments)
except ValueError as error:
    st.error(f"Cannot compute the implied likelihood: {error}")
    st.stop()

st.header("What it implies", anchor="result")
m1, m2, m3 = st.columns(3)
if result.sigma2 is not None and loss == "squared":
    m1.metric("implied σ²", f"{result.sigma2:.4g}")
    m2.metric("implied σ", f"{result.sigma:.4g}")
elif result.scale is not None:
    m1.metric(
        "implied Laplace scale b" if loss == "l1" else "implied Huber scale b",
        f"{result.scale:.4g}",
    )
    m2.metric("noise std of that density", f"{result.noise_std:.4g}")
else:
    m1.metric("implied σ²", "none (Bernoulli)")
m3.metric("KL weight β (vs. a plain per-pixel sum)", f"{result.beta:.4g}")
verdict_box = st.success if result.verdict == implied_sigma.MATCHES else st.warning
verdict_box(f"**{result.verdict}.** {result.explanation}")

query, clamped = lab_query(result)
LAB_PARAMETER = {"gaussian": "σ", "laplace": "scale b", "huber": "scale b"}  # URL key "scale"
family = query["likelihood"]
if family == "bernoulli":
    label = f"Open the live lab with these settings (bernoulli, β = {query['beta']})"
else:
    label = f"Open the live lab with these settings ({family}, {LAB_PARAMETER[family]} = "
    label += f"{query['scale']}" + (f", α = {query['alpha']}" if family == "huber" else "") + ")"
if clamped:
    label += f", clamped to the lab's range {SCALE_RANGE[0]:g} to {SCALE_RANGE[1]:g}"
if st.button(label, icon=":material/science:", key="implied_open_lab"):
    st.switch_page(pages.LAB.path, query_params=query)

st.header("See it on real digits", anchor="mnist-demo")
mse_demo_panel("implied_demo")

st.header("The algebra, step by step", anchor="algebra")
symbolic = {k: v for k, v in arguments.items() if k not in ("D", "latent_dim", "batch_size")}
show_steps(
    "The steps keep the sizes D, J and B as symbols, so they show where each one enters σ²; "
    "the box above puts in your numbers.",
    implied_steps(tuple(sorted(symbolic.items()))),
)
