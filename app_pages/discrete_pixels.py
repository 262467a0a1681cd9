"""Pixels are discrete and bounded: densities on [0, 1], negative losses, bins, dequantisation."""

import math

import streamlit as st
from scipy import stats

from derivations import discrete
from figures.bound_plots import bin_chart
from ui import pages
from ui.controls import log_slider
from ui.derivation_view import arrival_banner, show_derivation

st.title("Pixels are discrete and bounded")
arrival_banner(pages.DISCRETE.url_path)
st.markdown(
    "A stored image has a few grey levels (256 for 8-bit images, 17 for the lab's 8×8 digits) "
    "inside $[0, 1]$. A Gaussian, Laplace or Huber decoder puts a **density** on the whole real "
    "line instead. This page is about what that choice costs and how to report numbers that are "
    "comparable anyway."
)

st.header("A density on [0, 1] pixels is a modelling choice", anchor="modelling-choice")
st.markdown(
    "Nothing forbids it: every model is an approximation, and a Gaussian whose mean sits inside "
    "$[0,1]$ with a small σ puts almost all its mass there. But it is a choice with visible "
    "costs: some probability lands on impossible values below 0 and above 1, a sample of "
    "$p(x\\mid z)$ must be clipped to be shown, and the density's values are not probabilities, "
    "so they cannot be compared with a Bernoulli's or a categorical's. Likelihoods built for the "
    "data exist: the Bernoulli for binary pixels, the continuous Bernoulli or Beta for $[0,1]$, "
    "and *discretised* likelihoods that give each grey level a probability (below)."
)


@st.fragment
def mass_outside() -> None:
    left, right = st.columns(2)
    mu = left.slider("decoder mean μ", 0.0, 1.0, 0.05, 0.01, key="discrete_mass_mu")
    with right:
        sigma = log_slider("decoder σ", key="discrete_mass_sigma", default=0.1)
    outside = stats.norm.cdf(0, mu, sigma) + stats.norm.sf(1, mu, sigma)
    st.metric("probability N(μ, σ²) puts outside [0, 1]", f"{outside:.3g}")


mass_outside()

st.header("A density can exceed 1: negative losses are not a bug", anchor="negative-loss")
st.markdown(
    "A probability is at most 1, so $-\\log P \\ge 0$. A density is not: $\\mathcal N(x;\\mu,"
    "\\sigma^2)$ peaks at $1/(\\sqrt{2\\pi}\\,\\sigma)$, which is above 1 whenever "
    "$\\sigma < 1/\\sqrt{2\\pi} \\approx 0.399$. Then $-\\log p(x\\mid z)$ is negative for pixels "
    "the decoder gets close to, and a whole $-\\mathrm{ELBO}$ in nats can be far below zero. "
    "Nothing is wrong: the number is a log-*density*, and it shifts by $-D\\log c$ if you rescale "
    "the pixels by $c$ (e.g. from $[0,255]$ to $[0,1]$)."
)


@st.fragment
def negative_loss() -> None:
    left, mid, right = st.columns(3)
    with left:
        sigma = log_slider("decoder σ", key="discrete_neg_sigma", default=0.05)
    mse = mid.number_input(
        "per-pixel MSE", 0.0, 10.0, 0.002, step=0.001, format="%.4f", key="discrete_neg_mse"
    )
    D = right.selectbox("pixels D", (64, 784, 3072), index=1, key="discrete_neg_D")
    peak = discrete.gaussian_density_peak(sigma)
    nll = discrete.gaussian_nll_per_image(mse, sigma, D)
    a, b = st.columns(2)
    a.metric("peak density 1/(√(2π)σ)", f"{peak:.3g}")
    b.metric("−log N(x; μ, σ²I) for the whole image", f"{nll:,.1f} nats")


negative_loss()

st.header("Discretised likelihoods: the probability of the bin", anchor="bins")
st.markdown(
    "The comparable number is the probability of the stored level's **bin**, "
    "$P(\\tilde x) = \\int_{\\text{bin}} p(y)\\,dy$, computed from the density's CDF. The lab's "
    "bits/dim does exactly this for every family (models/evaluate.py): bins are cut halfway "
    "between neighbouring levels and the two outer bins are open to $\\pm\\infty$, so the "
    "probabilities of all levels add up to 1 and the mass outside $[0,1]$ is not lost. A "
    "probability is at most 1, so this number is never negative."
)


@st.fragment
def bin_explorer() -> None:
    c1, c2, c3, c4 = st.columns(4)
    levels = c1.selectbox("grey levels", (2, 17, 256), index=1, key="discrete_levels")
    x = c2.slider("stored pixel x̃", 0.0, 1.0, 0.5, 1.0 / (levels - 1), key=f"discrete_x_{levels}")
    mu = c3.slider("decoder mean μ", 0.0, 1.0, 0.52, 0.01, key="discrete_mu")
    with c4:
        sigma = log_slider("decoder σ", key="discrete_sigma", default=0.05)
    n = discrete.pixel_numbers(x, mu, sigma, int(levels))
    st.plotly_chart(bin_chart(n["x"], mu, sigma, n["width"]), key="discrete_bin_chart")
    st.dataframe(
        [
            {"number (nats)": "−log p(x̃): the density", "value": n["nll_density"]},
            {"number (nats)": "−log P(bin), the engine's bins", "value": n["nll_bin_engine"]},
            {"number (nats)": "−log P(bin), closed bin x̃ ± w/2", "value": n["nll_bin_closed"]},
            {
                "number (nats)": "dequantised: −E_u log p(x̃ + w·u) − log w",
                "value": n["nll_dequantised"],
            },
        ],
        hide_index=True,
        width="stretch",
    )
    st.caption(
        f"Bin width w = 1/(levels − 1) = {n['width']:.4g}. The dequantised number is never "
        "below the closed bin's −log P (Jensen), and the engine's outer bins only add mass."
    )


bin_explorer()

st.header("Uniform dequantisation", anchor="dequantisation")
st.markdown(
    "Theis, van den Oord & Bethge (2016) make continuous and discrete numbers comparable by "
    "training and evaluating the density on **dequantised** data $y = \\tilde x + w u$, "
    "$u\\sim U(-\\tfrac12,\\tfrac12)$. The derivation shows that the bin probability is the bin "
    "width times the density's average over the bin; Jensen's inequality then gives "
    "$\\mathbb E_u \\log p(\\tilde x + wu) + \\log w \\le \\log P(\\tilde x)$. So a model's "
    "dequantised log-density, plus $D\\log w$, is a **lower bound** on its discrete "
    "log-likelihood, and bits/dim computed from it are upper bounds on the discrete model's "
    "bits/dim. Without dequantisation, a density may pile up on the grid points and "
    "report a log-density as high as it likes, which means nothing about the discrete data."
)
show_derivation("dequantisation")

st.header("nats per image ↔ bits per dimension", anchor="bits-per-dim")
st.markdown(
    "Papers report $-\\log_2 P$ per pixel (per colour channel): divide nats per image by "
    "$D\\ln 2$. A density on $[0,1]$-scaled data needs the $D\\log(1/w)$ of the bins first "
    "($\\log 256 = 5.55$ nats per value for 8-bit data dequantised to $[0, 256)/256$)."
)


@st.fragment
def unit_converter() -> None:
    c1, c2, c3 = st.columns(3)
    D = int(c1.number_input("values per image D", 1, 10_000_000, 784, key="discrete_conv_D"))
    nats = c2.number_input("nats per image", value=80.0, format="%.4f", key="discrete_conv_nats")
    bits = discrete.nats_to_bits_per_dim(nats, D)
    c3.metric("bits per dimension", f"{bits:.4f}")
    back = discrete.bits_per_dim_to_nats(bits, D)
    st.caption(
        f"{nats:g} nats / ({D} · ln 2) = {bits:.4f} bits/dim; back: {bits:.4f} · {D} · ln 2 = "
        f"{back:.4f} nats. (1 nat = {1 / math.log(2):.4f} bits.)"
    )


unit_converter()
